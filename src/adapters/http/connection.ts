/**
 * A client's one TLS connection to a peer, with HTTP/1.1 requests over it (undici). The
 * connection is opened here, not by undici, so that the caller can see the peer's
 * certificate and export keying material, and so that it never silently reconnects: a
 * device's provisional connection must not be replaced by another one.
 *
 * Every wait has a deadline, so that a stalled or hostile peer cannot hang a device: the TCP
 * connect plus TLS handshake (`handshakeTimeoutMs`), and each request from sending it to the
 * last byte of its answer, headers and body together (`requestTimeoutMs`: a total, not an
 * idle timer, so a peer that drips a byte at a time is cut off too). An answer body larger
 * than `maxResponseBytes` is refused. A request that times out or is refused for its size
 * closes the connection (its state is unknown); every failure is ERR_TRANSPORT.
 */
import * as tls from 'node:tls';
import { Client } from 'undici';
import { AirlockError } from '../../core/errors.js';
import { PROBLEM_MEDIA_TYPE, fromProblem } from './problem.js';

/** The limits used when the caller gives none. */
export const connectionLimits = {
  handshakeTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  maxResponseBytes: 1024 * 1024,
} as const;

export interface ConnectionOptions {
  /** Client certificate chain (PEM) and key (PEM), when the peer asks for one. */
  cert?: string;
  key?: string;
  /**
   * Trust anchors for the server certificate (PEM). Without them the connection is
   * provisional (RFC 8995 section 5.1): the server is not yet authenticated, and the caller
   * must judge `peerCertificate()` itself before trusting anything it receives.
   */
  ca?: string;
  servername?: string;
  /** TCP connect plus TLS handshake deadline, in milliseconds (default 15 s). */
  handshakeTimeoutMs?: number;
  /** Deadline of one request, headers and whole body, in milliseconds (default 30 s). */
  requestTimeoutMs?: number;
  /** Largest answer body accepted, in bytes (default 1 MiB). */
  maxResponseBytes?: number;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
}

export class PeerConnection {
  private constructor(
    readonly socket: tls.TLSSocket,
    private readonly client: Client,
    readonly origin: string,
    private readonly limits: { requestTimeoutMs: number; maxResponseBytes: number },
  ) {}

  static async open(url: string, opts: ConnectionOptions): Promise<PeerConnection> {
    const u = new URL(url);
    if (u.protocol !== 'https:') throw new AirlockError('ERR_CONFIG', 'only https URLs are accepted');
    const port = Number(u.port || 443);
    const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? connectionLimits.handshakeTimeoutMs;
    const limits = { requestTimeoutMs: opts.requestTimeoutMs ?? connectionLimits.requestTimeoutMs, maxResponseBytes: opts.maxResponseBytes ?? connectionLimits.maxResponseBytes };
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      let s: tls.TLSSocket;
      try {
        s = tls.connect({
        host: u.hostname,
        port,
        servername: opts.servername ?? (/^[\d.]+$/.test(u.hostname) ? undefined : u.hostname),
        minVersion: 'TLSv1.3',
        cert: opts.cert,
        key: opts.key,
        ca: opts.ca,
        rejectUnauthorized: opts.ca !== undefined,
        checkServerIdentity: () => undefined,
        ALPNProtocols: ['http/1.1'],
        });
      } catch (cause) {
        // A key that does not match its certificate, or PEM that does not parse.
        reject(new AirlockError('ERR_CONFIG', 'the client credentials are not usable', { cause }));
        return;
      }
      s.setNoDelay(true);
      // A deadline, not an idle timer: a peer that drips handshake bytes is cut off too.
      const deadline = setTimeout(() => s.destroy(new Error('TLS handshake timed out')), handshakeTimeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(deadline);
        resolve(s);
      });
      s.once('error', (cause) => {
        clearTimeout(deadline);
        reject(new AirlockError('ERR_TRANSPORT', cause.message, { cause }));
      });
    });
    let handedOut = false;
    // undici asks for a connection when it needs one: the first time it gets this one; after
    // the peer has closed it, the request fails (typed) instead of reconnecting or waiting.
    // The callback must not run synchronously, or undici never starts the request.
    const client = new Client(u.origin, {
      pipelining: 1,
      headersTimeout: limits.requestTimeoutMs,
      bodyTimeout: limits.requestTimeoutMs,
      connect: (_o, cb) => {
        const reuse = !handedOut && !socket.destroyed;
        handedOut = true;
        process.nextTick(() => (reuse ? cb(null, socket) : cb(new AirlockError('ERR_TRANSPORT', 'the peer closed the connection'), null)));
        return reuse ? socket : undefined;
      },
    });
    return new PeerConnection(socket, client, u.origin, limits);
  }

  /** The server's leaf certificate (DER). */
  peerCertificate(): Uint8Array {
    return new Uint8Array(this.socket.getPeerX509Certificate()!.raw);
  }

  exportKeyingMaterial(length: number, label: string): Uint8Array {
    return new Uint8Array(this.socket.exportKeyingMaterial(length, label, Buffer.alloc(0)));
  }

  /** One request; its answer (headers and body) must arrive within `requestTimeoutMs`. */
  async request(method: 'GET' | 'POST', path: string, opts: { body?: string; contentType?: string; accept?: string } = {}): Promise<HttpResponse> {
    const abort = new AbortController();
    let failure: AirlockError | undefined;
    // On a deadline or an oversized answer the connection's state is unknown: close it, so
    // that a later request fails (typed) instead of reading the rest of this answer.
    const giveUp = (why: string): AirlockError => {
      failure ??= new AirlockError('ERR_TRANSPORT', why);
      abort.abort(failure);
      this.socket.destroy();
      return failure;
    };
    const timer = setTimeout(() => giveUp('the peer did not answer in time'), this.limits.requestTimeoutMs);
    try {
      const res = await this.client.request({
        method,
        path,
        body: opts.body,
        signal: abort.signal,
        headers: {
          ...(opts.contentType ? { 'content-type': opts.contentType } : {}),
          ...(opts.accept ? { accept: opts.accept } : {}),
        },
      });
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > this.limits.maxResponseBytes) throw giveUp('the answer exceeds the size limit');
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        size += chunk.length;
        if (size > this.limits.maxResponseBytes) throw giveUp('the answer exceeds the size limit');
        chunks.push(chunk);
      }
      if (failure) throw failure;
      const body = Buffer.concat(chunks).toString('utf8');
      return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body };
    } catch (cause) {
      if (failure) throw failure;
      if (cause instanceof AirlockError) throw cause;
      throw new AirlockError('ERR_TRANSPORT', (cause as Error).message, { cause });
    } finally {
      clearTimeout(timer);
    }
  }

  /** A request whose non-2xx answer becomes the peer's AirlockError. */
  async call(method: 'GET' | 'POST', path: string, opts: { body?: string; contentType?: string; accept?: string } = {}): Promise<HttpResponse> {
    const res = await this.request(method, path, opts);
    if (res.status < 200 || res.status > 299) {
      throw res.contentType.startsWith(PROBLEM_MEDIA_TYPE) ? fromProblem(res.status, res.body) : new AirlockError('ERR_PEER_REFUSED', `HTTP ${res.status}`);
    }
    return res;
  }

  async close(): Promise<void> {
    await this.client.destroy().catch(() => undefined);
    this.socket.destroy();
  }
}
