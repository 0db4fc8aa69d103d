/**
 * Raw TCP and TLS clients for testing the servers' limits: clients that misbehave on purpose
 * (no handshake, headers or bodies sent slowly, idle connections) and that read exactly what
 * the server wrote, a problem body on a refused request included.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface RawOptions {
  /** The local address to connect from (any of 127.0.0.0/8 works on loopback). */
  localAddress?: string;
  maxVersion?: tls.SecureVersion;
  minVersion?: tls.SecureVersion;
  ciphers?: string;
  cert?: string;
  key?: string;
}

function target(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/** A TCP connection that never starts TLS. */
export function rawTcp(url: string, opts: RawOptions = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ ...target(url), localAddress: opts.localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

/** A TLS connection (the server is not authenticated), resolved once the handshake completed. */
export function rawTls(url: string, opts: RawOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = target(url);
    const tcp = net.connect({ ...t, localAddress: opts.localAddress });
    tcp.once('error', reject);
    const s = tls.connect({
      socket: tcp,
      rejectUnauthorized: false,
      maxVersion: opts.maxVersion,
      minVersion: opts.minVersion,
      ciphers: opts.ciphers,
      cert: opts.cert,
      key: opts.key,
    });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves true when `s` closes within `ms`, false otherwise. Errors (a reset) count as closing. */
export function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.closed) return Promise.resolve(true);
  s.on('error', () => undefined);
  // A paused socket never sees the server's close: read (and drop what nobody collects).
  s.resume();
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Everything the server writes on `s` from now on, as text (a listener must be in place before the server writes). */
export function collect(s: net.Socket): { text: () => string } {
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => (buf += d));
  s.on('error', () => undefined);
  return { text: () => buf };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the first HTTP/1.1 response in `text` (Content-Length framed). */
export function parseResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = text.slice(end + 4, end + 4 + length);
  if (body.length < length) return undefined;
  return { status: Number(statusLine!.split(' ')[1]), headers, body };
}

/** Waits until a whole response has arrived on a collected socket, or `ms` passed. */
export async function nextResponse(
  c: { text: () => string },
  ms = 10_000,
  skip = 0,
): Promise<RawResponse | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    let rest = c.text();
    let r = parseResponse(rest);
    for (let i = 0; r && i < skip; i++) {
      const cut = rest.indexOf('\r\n\r\n') + 4 + r.body.length;
      rest = rest.slice(cut);
      r = parseResponse(rest);
    }
    if (r) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
  return undefined;
}

/** Sends `text` one chunk every `everyMs` until it is all sent or the socket closes; returns a stop function. */
export function dribble(s: net.Socket, text: string, everyMs: number, chunk = 1): () => void {
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed || i >= text.length) return clearInterval(t);
    s.write(text.slice(i, i + chunk));
    i += chunk;
  }, everyMs);
  return () => clearInterval(t);
}
