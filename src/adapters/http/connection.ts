/**
 * A client's one TLS connection to a peer, with HTTP/1.1 requests over it (undici). The
 * connection is opened here, not by undici, so that the caller can see the peer's
 * certificate and export keying material, and so that it never silently reconnects: a
 * device's provisional connection must not be replaced by another one.
 */
import * as tls from 'node:tls';
import { Client } from 'undici';
import { AirlockError } from '../../core/errors.js';
import { PROBLEM_MEDIA_TYPE, fromProblem } from './problem.js';

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
  timeoutMs?: number;
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
  ) {}

  static async open(url: string, opts: ConnectionOptions): Promise<PeerConnection> {
    const u = new URL(url);
    if (u.protocol !== 'https:') throw new AirlockError('ERR_CONFIG', 'only https URLs are accepted');
    const port = Number(u.port || 443);
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
      s.once('secureConnect', () => resolve(s));
      s.once('error', (cause) => reject(new AirlockError('ERR_TRANSPORT', cause.message, { cause })));
      s.setTimeout(opts.timeoutMs ?? 15_000, () => s.destroy(new Error('TLS handshake timed out')));
    });
    socket.setTimeout(0);
    let handedOut = false;
    // undici asks for a connection when it needs one: the first time it gets this one; after
    // the peer has closed it, the request fails (typed) instead of reconnecting or waiting.
    // The callback must not run synchronously, or undici never starts the request.
    const client = new Client(u.origin, {
      pipelining: 1,
      headersTimeout: opts.timeoutMs ?? 30_000,
      bodyTimeout: opts.timeoutMs ?? 30_000,
      connect: (_o, cb) => {
        const reuse = !handedOut && !socket.destroyed;
        handedOut = true;
        process.nextTick(() => (reuse ? cb(null, socket) : cb(new AirlockError('ERR_TRANSPORT', 'the peer closed the connection'), null)));
        return reuse ? socket : undefined;
      },
    });
    return new PeerConnection(socket, client, u.origin);
  }

  /** The server's leaf certificate (DER). */
  peerCertificate(): Uint8Array {
    return new Uint8Array(this.socket.getPeerX509Certificate()!.raw);
  }

  exportKeyingMaterial(length: number, label: string): Uint8Array {
    return new Uint8Array(this.socket.exportKeyingMaterial(length, label, Buffer.alloc(0)));
  }

  async request(method: 'GET' | 'POST', path: string, opts: { body?: string; contentType?: string; accept?: string } = {}): Promise<HttpResponse> {
    try {
      const res = await this.client.request({
        method,
        path,
        body: opts.body,
        headers: {
          ...(opts.contentType ? { 'content-type': opts.contentType } : {}),
          ...(opts.accept ? { accept: opts.accept } : {}),
        },
      });
      const body = await res.body.text();
      return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body };
    } catch (cause) {
      if (cause instanceof AirlockError) throw cause;
      throw new AirlockError('ERR_TRANSPORT', (cause as Error).message, { cause });
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
