/**
 * What a role's HTTPS server allows a client to hold: time limits for each phase of a
 * connection, and caps on concurrent connections (in total and per source address), so that
 * no client (with or without a certificate) can hold the server's resources for long
 * (RFC 8995 section 5.1 leaves a provisional pledge unauthenticated until it has sent
 * something: these limits are what stops an unauthenticated client from camping).
 *
 * The guard counts raw TCP connections as they are accepted, before any TLS work is done,
 * and refuses one over a cap by closing it at once: before the handshake no HTTP is
 * reachable, so there is nobody to send a problem body to, and closing costs nothing.
 */
import type { Server } from 'node:net';
import type { Socket } from 'node:net';

export interface ServerLimits {
  /** A client must complete its TLS handshake within this many milliseconds, or is closed. */
  tlsHandshakeTimeoutMs: number;
  /** A request's line and headers must arrive within this many ms of its first byte (or of the connection's start): 408 otherwise. */
  headersTimeoutMs: number;
  /** A whole request, headers and body, must arrive within this many ms: 408 otherwise. Not less than headersTimeoutMs. */
  requestTimeoutMs: number;
  /**
   * A kept-alive connection with no request in progress is closed after this many ms. A
   * device keeps one connection for its whole onboarding (RFC 8995 section 5.1), so this must
   * exceed its pauses between requests; and under 2 s, the `Keep-Alive: timeout=1` hint makes
   * the registrar's MASA client (connection-pool.ts, as undici clients) drop the connection
   * after each response.
   */
  keepAliveTimeoutMs: number;
  /** Concurrent connections the server holds in total; further ones are closed on arrival. */
  maxConnections: number;
  /**
   * Concurrent connections from one source (an IPv4 address, or an IPv6 /64, which one host
   * usually holds whole); further ones are closed on arrival. A join proxy (RFC 8995 section 4)
   * puts all its pledges behind one address: raise this for it.
   */
  maxConnectionsPerAddress: number;
  /**
   * A connection is closed this many ms after it opened, however busy: without it, a client
   * that sends a cheap request before each idle timeout holds its slot forever. A device's
   * whole onboarding takes one connection for well under a second.
   */
  maxConnectionLifetimeMs: number;
  /** Requests on one connection before the server closes it after answering (an onboarding makes about ten). */
  maxRequestsPerConnection: number;
  /** Largest request line plus headers, in bytes: 431 otherwise (414 when the request target alone is over maxUrlBytes). */
  maxHeaderBytes: number;
  /** Longest request target (path and query), in bytes: 414 otherwise; the target is never echoed. */
  maxUrlBytes: number;
  /** On SIGTERM or SIGINT, how long requests in flight may take to finish before their connections are closed, in ms. */
  drainTimeoutMs: number;
}

/** The limits both roles start from; each role's defaults.ts states its own values. */
export const defaultServerLimits: ServerLimits = {
  tlsHandshakeTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  maxConnections: 1024,
  maxConnectionsPerAddress: 64,
  maxConnectionLifetimeMs: 300_000,
  maxRequestsPerConnection: 100,
  maxHeaderBytes: 16 * 1024,
  maxUrlBytes: 2048,
  drainTimeoutMs: 10_000,
};

/** The ServerLimits fields of a role's configuration. */
export function serverLimitsOf(config: ServerLimits): ServerLimits {
  const out = {} as ServerLimits;
  for (const k of Object.keys(defaultServerLimits) as (keyof ServerLimits)[]) out[k] = config[k];
  return out;
}

export interface ConnectionGuardEvents {
  refused(reason: 'total' | 'address' | 'draining', address: string): void;
}

/** Counts a server's raw connections, refuses those over a cap, and closes them on demand. */
export class ConnectionGuard {
  private readonly perAddress = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  /** Raw sockets by `address|port`, until their TLS handshake completes. */
  private readonly handshaking = new Map<string, Socket>();
  private draining = false;

  constructor(
    private readonly limits: Pick<
      ServerLimits,
      'maxConnections' | 'maxConnectionsPerAddress' | 'maxConnectionLifetimeMs'
    >,
    private readonly events: ConnectionGuardEvents,
  ) {}

  /** Attaches to a TLS server: raw connections on 'connection', handshakes on 'secureConnection'. */
  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('secureConnection', (tlsSocket: Socket) => this.handshaking.delete(key(tlsSocket)));
  }

  get size(): number {
    return this.sockets.size;
  }

  private admit(socket: Socket): void {
    const address = sourceOf(socket.remoteAddress ?? '');
    const count = this.perAddress.get(address) ?? 0;
    const reason = this.draining
      ? 'draining'
      : this.sockets.size >= this.limits.maxConnections
        ? 'total'
        : count >= this.limits.maxConnectionsPerAddress
          ? 'address'
          : undefined;
    if (reason) {
      socket.destroy();
      this.events.refused(reason, address);
      return;
    }
    this.sockets.add(socket);
    this.perAddress.set(address, count + 1);
    const k = key(socket);
    this.handshaking.set(k, socket);
    const lifetime = setTimeout(() => socket.destroy(), this.limits.maxConnectionLifetimeMs);
    lifetime.unref();
    socket.once('close', () => {
      clearTimeout(lifetime);
      this.sockets.delete(socket);
      if (this.handshaking.get(k) === socket) this.handshaking.delete(k);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }

  /** Refuses every new connection and closes those that have not finished their handshake: they carry no request. */
  startDraining(): void {
    this.draining = true;
    for (const s of this.handshaking.values()) s.destroy();
    this.handshaking.clear();
  }

  /** Closes every connection still open. */
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}

/** What the per-source cap counts: an IPv4 address (also IPv4-mapped), or an IPv6 address's /64. */
export function sourceOf(address: string): string {
  if (!address.includes(':') || address.startsWith('::ffff:')) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')}::/64`;
}

function key(s: Socket): string {
  return `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;
}
