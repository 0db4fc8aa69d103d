/**
 * A client's one TLS connection to a peer, with HTTP/1.1 requests over it. The connection is
 * opened here, so that the caller can see the peer's certificate and export keying material,
 * and so that it never silently reconnects: a device's provisional connection must not be
 * replaced by another one. The HTTP is our own (http1.ts), written and parsed directly on the
 * TLS socket: the device makes a handful of requests, one at a time, on one connection, and a
 * general client (undici) cost about 150 us of CPU more per request for machinery this never
 * uses (pools, pipelining, streams).
 *
 * Requests are taken one at a time, in the order they were made; a request made while another
 * is outstanding waits for it. Every wait has a deadline, so that a stalled or hostile peer
 * cannot hang a device: the TCP connect plus TLS handshake (`handshakeTimeoutMs`), and each
 * request from sending it to the last byte of its answer, headers and body together
 * (`requestTimeoutMs`: a total, not an idle timer, so a peer that drips a byte at a time is
 * cut off too). An answer body larger than `maxResponseBytes` is refused. A request that
 * fails closes the connection (its state is unknown), and so do bytes the peer sends when no
 * request is outstanding (they answer nothing that was asked); a later request then fails.
 * Every failure is ERR_TRANSPORT; one that is certain to have sent nothing (the connection was
 * already unusable when the request's turn came) says so (`wasNotSent`), so that a caller may
 * try another connection without risking a request the peer has seen twice.
 *
 * The defaults are the device's: TLS 1.3, and no host name check (the device judges the
 * registrar's certificate itself, RFC 8995 section 5.1). A client that authenticates its
 * peer by host name (the registrar to a MASA, connection-pool.ts) asks for it with
 * `verifyHostname`, and may allow TLS 1.2 with `minVersion` and `ciphers`.
 */
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { ResponseParser, requestBytes, requestText, type Http1Response } from './http1.js';
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
  /** Oldest TLS version offered (default TLS 1.3). */
  minVersion?: tls.SecureVersion;
  /** OpenSSL cipher list, TLS 1.3 suites included (default: Node's). */
  ciphers?: string;
  /**
   * Check that the server certificate names the URL's host (Node's checkServerIdentity: DNS
   * names, or IP addresses for an IP host). Default false: the device checks no name. It
   * matters only with `ca`: without anchors nothing is verified.
   */
  verifyHostname?: boolean;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string;
  /** Every field of the answer, by lower-case name. */
  headers: ReadonlyMap<string, string>;
}

/** The request on the wire: its parser and how it settles. */
interface Exchange {
  parser: ResponseParser;
  timer: NodeJS.Timeout;
  resolve(res: Http1Response): void;
  reject(err: AirlockError): void;
}

type RequestOptions = {
  body?: string;
  contentType?: string;
  accept?: string;
  headers?: Readonly<Record<string, string>>;
};

/** A request in bytes: header fields beyond the ones the writer owns, and a body of any bytes. */
export type ExchangeOptions = { headers?: Readonly<Record<string, string>>; body?: Uint8Array };

/** The request failed before any byte of it was written: the peer cannot have seen it. */
export function wasNotSent(e: unknown): boolean {
  return isAirlockError(e, 'ERR_TRANSPORT') && e.details.unsent === true;
}

export class PeerConnection {
  /** Settles when the last request made so far has settled: the next one starts after it. */
  private queue: Promise<unknown> = Promise.resolve();
  private current: Exchange | undefined;
  /** Why no further request can be sent, once that is so. */
  private unusable: string | undefined;
  private certificate: Uint8Array | undefined;

  private constructor(
    readonly socket: tls.TLSSocket,
    readonly origin: string,
    /** The Host header: the origin's host and port (the port only when not 443). */
    private readonly host: string,
    private readonly limits: { requestTimeoutMs: number; maxResponseBytes: number },
  ) {
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('end', () => this.onEnd());
    socket.on('error', (cause) =>
      this.fail(new AirlockError('ERR_TRANSPORT', cause.message, { cause })),
    );
    socket.on('close', () =>
      this.fail(
        new AirlockError('ERR_TRANSPORT', 'the connection closed before the answer was complete'),
        'the connection is closed',
      ),
    );
  }

  static async open(url: string, opts: ConnectionOptions): Promise<PeerConnection> {
    const u = new URL(url);
    if (u.protocol !== 'https:')
      throw new AirlockError('ERR_CONFIG', 'only https URLs are accepted');
    const port = Number(u.port || 443);
    // An IPv6 literal is written in brackets in a URL, and without them to connect.
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    const handshakeTimeoutMs = opts.handshakeTimeoutMs ?? connectionLimits.handshakeTimeoutMs;
    const limits = {
      requestTimeoutMs: opts.requestTimeoutMs ?? connectionLimits.requestTimeoutMs,
      maxResponseBytes: opts.maxResponseBytes ?? connectionLimits.maxResponseBytes,
    };
    return new Promise<PeerConnection>((resolve, reject) => {
      let s: tls.TLSSocket;
      try {
        s = tls.connect({
          host,
          port,
          // SNI names a host, never an address (RFC 6066 section 3).
          servername: opts.servername ?? (isIP(host) !== 0 ? undefined : host),
          minVersion: opts.minVersion ?? 'TLSv1.3',
          ...(opts.ciphers !== undefined ? { ciphers: opts.ciphers } : {}),
          cert: opts.cert,
          key: opts.key,
          ca: opts.ca,
          rejectUnauthorized: opts.ca !== undefined,
          // Without it, Node's own check runs: the certificate must name `servername`, else the host.
          ...(opts.verifyHostname === true ? {} : { checkServerIdentity: () => undefined }),
          ALPNProtocols: ['http/1.1'],
        });
      } catch (cause) {
        // A key that does not match its certificate, or PEM that does not parse.
        reject(new AirlockError('ERR_CONFIG', 'the client credentials are not usable', { cause }));
        return;
      }
      s.setNoDelay(true);
      // A deadline, not an idle timer: a peer that drips handshake bytes is cut off too.
      const deadline = setTimeout(
        () => s.destroy(new Error('TLS handshake timed out')),
        handshakeTimeoutMs,
      );
      const failed = (cause: Error): void => {
        clearTimeout(deadline);
        reject(new AirlockError('ERR_TRANSPORT', cause.message, { cause }));
      };
      s.once('error', failed);
      s.once('secureConnect', () => {
        clearTimeout(deadline);
        s.off('error', failed);
        // Built here, in the same turn, so that its listeners see every later event.
        resolve(new PeerConnection(s, u.origin, u.host, limits));
      });
    });
  }

  /**
   * The server's leaf certificate (DER), read once: callers only read it. Through
   * getPeerCertificate, not getPeerX509Certificate, which copies every certificate of the
   * chain through OpenSSL's decoders (twice the CPU with a two-certificate chain), and which
   * on a client removes the leaf from the chain it keeps, so that a second call returns none.
   */
  peerCertificate(): Uint8Array {
    if (!this.certificate) {
      const raw = this.socket.getPeerCertificate(false)?.raw;
      if (!raw) throw new AirlockError('ERR_TRANSPORT', 'the peer presented no certificate');
      this.certificate = new Uint8Array(raw);
    }
    return this.certificate;
  }

  exportKeyingMaterial(length: number, label: string): Uint8Array {
    return new Uint8Array(this.socket.exportKeyingMaterial(length, label, Buffer.alloc(0)));
  }

  /** False once no further request can be sent: the peer closed, a request failed, or close() was called. */
  get usable(): boolean {
    return this.unusable === undefined && !this.socket.destroyed;
  }

  /** One request, after those made before it; its answer (headers and body) must arrive within `requestTimeoutMs`. */
  request(method: 'GET' | 'POST', path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
    return this.enqueue(() => requestText(method, this.host, path, opts)).then(textResponse);
  }

  /** As `request`, in bytes both ways: the answer as parsed (every header, the body as bytes). */
  exchange(
    method: 'GET' | 'POST',
    path: string,
    opts: ExchangeOptions = {},
  ): Promise<Http1Response> {
    return this.enqueue(() => requestBytes(method, this.host, path, opts.headers ?? {}, opts.body));
  }

  /** A request whose non-2xx answer becomes the peer's AirlockError. */
  async call(
    method: 'GET' | 'POST',
    path: string,
    opts: RequestOptions = {},
  ): Promise<HttpResponse> {
    const res = await this.request(method, path, opts);
    if (res.status < 200 || res.status > 299) {
      throw res.contentType.startsWith(PROBLEM_MEDIA_TYPE)
        ? fromProblem(res.status, res.body)
        : new AirlockError('ERR_PEER_REFUSED', `HTTP ${res.status}`, {
            details: { status: res.status },
          });
    }
    return res;
  }

  async close(): Promise<void> {
    this.unusable ??= 'the connection is closed';
    this.socket.destroy();
  }

  private enqueue(request: () => string | Buffer): Promise<Http1Response> {
    const turn = this.queue.then(() => this.send(request));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Writes the request `request()` builds, once the connection is known to be usable. */
  private send(request: () => string | Buffer): Promise<Http1Response> {
    if (this.socket.destroyed) this.unusable ??= 'the connection is closed';
    if (this.unusable !== undefined)
      return Promise.reject(
        new AirlockError('ERR_TRANSPORT', this.unusable, { details: { unsent: true } }),
      );
    let bytes: string | Buffer;
    try {
      bytes = request();
    } catch (e) {
      return Promise.reject(transportError(e));
    }
    return new Promise<Http1Response>((resolve, reject) => {
      // On a deadline the connection's state is unknown: it is closed, so that a later
      // request fails instead of reading the rest of this answer.
      const timer = setTimeout(
        () => this.fail(new AirlockError('ERR_TRANSPORT', 'the peer did not answer in time')),
        this.limits.requestTimeoutMs,
      );
      this.current = {
        parser: new ResponseParser({ maxBodyBytes: this.limits.maxResponseBytes }),
        timer,
        resolve,
        reject,
      };
      if (typeof bytes === 'string') this.socket.write(bytes, 'utf8');
      else this.socket.write(bytes);
    });
  }

  private onData(data: Buffer): void {
    const ex = this.current;
    if (ex === undefined) {
      // Nothing was asked: whatever this is, it is not an answer, and later answers can no longer be trusted to be theirs.
      this.unusable ??= 'the peer sent bytes nobody asked for';
      this.socket.destroy();
      return;
    }
    let res;
    try {
      res = ex.parser.push(data);
    } catch (e) {
      this.fail(transportError(e));
      return;
    }
    if (res === undefined) return;
    if (ex.parser.excess > 0) this.unusable ??= 'the peer sent bytes nobody asked for';
    else if (res.close) this.unusable ??= 'the peer closed the connection';
    this.settle(ex);
    if (this.unusable !== undefined) this.socket.destroy();
    ex.resolve(res);
  }

  /** The peer closed its side: an answer read until close is complete now; any other is cut short. */
  private onEnd(): void {
    this.unusable ??= 'the peer closed the connection';
    const ex = this.current;
    if (ex === undefined) return;
    let res;
    try {
      res = ex.parser.end();
    } catch (e) {
      this.fail(transportError(e));
      return;
    }
    this.settle(ex);
    ex.resolve(res);
  }

  /** Ends the outstanding request, if any, with `err`, and closes the connection. */
  private fail(err: AirlockError, why = err.message): void {
    this.unusable ??= why;
    this.socket.destroy();
    const ex = this.current;
    if (ex === undefined) return;
    this.settle(ex);
    ex.reject(err);
  }

  private settle(ex: Exchange): void {
    clearTimeout(ex.timer);
    this.current = undefined;
  }
}

function textResponse(res: Http1Response): HttpResponse {
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    body: res.body.toString('utf8'),
    headers: res.headers,
  };
}

/** A parser fault is already typed; anything else thrown while parsing becomes ERR_TRANSPORT too. */
function transportError(e: unknown): AirlockError {
  return e instanceof AirlockError
    ? e
    : new AirlockError('ERR_TRANSPORT', (e as Error).message, { cause: e });
}
