/**
 * Keep-alive connections to one origin, for a client that makes many requests to few peers
 * (the registrar to its MASAs, masa-client.ts): at most `maxConnections` PeerConnections
 * (connection.ts), each carrying one request at a time. A request takes the most recently
 * used idle connection, or opens one while fewer than the maximum exist (opening ones
 * count), or waits, first come first served, for one to be given back or for a slot to free.
 * An answer after which the connection is still usable gives it back; any failure closes it.
 *
 * A request is never sent twice when any byte of it may have reached the peer: a voucher
 * request consumes a nonce, and the peer may have acted on a request whose answer was lost.
 * The one retry: an idle connection that turns out, when the request's turn comes, to have
 * been closed by the peer before anything was written (connection.ts `wasNotSent`) is
 * dropped, and the request goes to another connection, once. Idle connections the peer has
 * already closed are never taken in the first place.
 *
 * An idle connection is kept for `idleTimeoutMs` (4 s) when the server gives no Keep-Alive
 * hint, else for its `timeout` less 2 s, so that it is given up before the server closes
 * it (a request written as the server closes would be lost, and could not be retried), and
 * never longer than `maxIdleTimeoutMs` (30 s); a hint under 2 s means the connection is not
 * kept at all. (These are undici's rules, which this replaces.) Idle connections do not keep
 * the process alive.
 *
 * Every failure is the connection's ERR_TRANSPORT (or ERR_CONFIG for client credentials that
 * cannot be used).
 */
import { AirlockError } from '../../core/errors.js';
import {
  PeerConnection,
  wasNotSent,
  type ConnectionOptions,
  type ExchangeOptions,
} from './connection.js';
import type { Http1Response } from './http1.js';

export interface PoolOptions {
  /** How each connection is opened: TLS, deadlines, size limit. */
  connection: ConnectionOptions;
  /** Most connections open or being opened at once (default 8). */
  maxConnections?: number;
  /** How long an idle connection is kept when the server's answer gives no Keep-Alive timeout, in ms (default 4 s). */
  idleTimeoutMs?: number;
  /** The longest an idle connection is kept, whatever the server's hint, in ms (default 30 s). */
  maxIdleTimeoutMs?: number;
}

export const poolDefaults = {
  maxConnections: 8,
  idleTimeoutMs: 4_000,
  maxIdleTimeoutMs: 30_000,
} as const;

/** How long before the server's announced keep-alive timeout a connection is given up. */
const KEEP_ALIVE_MARGIN_MS = 2_000;
/** How often idle connections past their time are closed (they are never used after it in any case). */
const SWEEP_EVERY_MS = 1_000;

interface Idle {
  conn: PeerConnection;
  /** Date.now() after which it is not used. */
  until: number;
}

/** Given a connection of its own, or (undefined) a free slot in which to open one. */
type Waiter = (granted: PeerConnection | undefined) => void;

export class ConnectionPool {
  readonly #origin: string;
  readonly #connection: ConnectionOptions;
  readonly #max: number;
  readonly #idleMs: number;
  readonly #maxIdleMs: number;
  /** Every open connection, idle or in use. */
  readonly #live = new Set<PeerConnection>();
  #opening = 0;
  /** Most recently given back last. */
  readonly #idle: Idle[] = [];
  readonly #waiters: Waiter[] = [];
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #drained: Array<() => void> = [];

  /** `origin`: an https origin (scheme, host, port); requests name their paths. */
  constructor(origin: string, opts: PoolOptions) {
    this.#origin = origin;
    this.#connection = opts.connection;
    this.#max = Math.max(1, opts.maxConnections ?? poolDefaults.maxConnections);
    this.#idleMs = opts.idleTimeoutMs ?? poolDefaults.idleTimeoutMs;
    this.#maxIdleMs = opts.maxIdleTimeoutMs ?? poolDefaults.maxIdleTimeoutMs;
  }

  /** Connections open now, idle or in use (for tests and diagnostics). */
  get size(): number {
    return this.#live.size;
  }

  /** One request on a connection of the pool; the answer as parsed, whatever its status. */
  async request(
    method: 'GET' | 'POST',
    path: string,
    opts: ExchangeOptions = {},
  ): Promise<Http1Response> {
    for (let retried = false; ; retried = true) {
      const { conn, reused } = await this.#acquire();
      let res: Http1Response;
      try {
        res = await conn.exchange(method, path, opts);
      } catch (e) {
        this.#drop(conn);
        // Closed by the peer while idle, and nothing written: another connection, once.
        if (reused && !retried && wasNotSent(e)) continue;
        throw e;
      }
      this.#release(conn, res);
      return res;
    }
  }

  /**
   * Closes the idle connections now, and each other one once its request is answered;
   * requests already made (waiting ones too) are carried out, later ones refused. Settles
   * when every connection is closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const { conn } of this.#idle.splice(0)) this.#drop(conn);
    this.#stopSweeper();
    if (this.#isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #acquire(): Promise<{ conn: PeerConnection; reused: boolean }> {
    if (this.#closed)
      return Promise.reject(new AirlockError('ERR_TRANSPORT', 'the connection pool is closed'));
    const now = Date.now();
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      if (idle.conn.usable && idle.until > now) {
        idle.conn.socket.ref();
        return Promise.resolve({ conn: idle.conn, reused: true });
      }
      this.#drop(idle.conn);
    }
    if (this.#live.size + this.#opening < this.#max) return this.#open();
    return new Promise((resolve, reject) => {
      this.#waiters.push((granted) => {
        if (granted !== undefined) resolve({ conn: granted, reused: true });
        else this.#open().then(resolve, reject);
      });
    });
  }

  /** Opens a connection in a slot already counted as free; the slot is given up if opening fails. */
  async #open(): Promise<{ conn: PeerConnection; reused: false }> {
    this.#opening++;
    let conn: PeerConnection;
    try {
      conn = await PeerConnection.open(this.#origin, this.#connection);
    } catch (e) {
      this.#opening--;
      this.#slotFreed();
      throw e;
    }
    this.#opening--;
    this.#live.add(conn);
    // However it closes (the peer, a failure, a deadline), its slot is freed at once.
    conn.socket.once('close', () => this.#drop(conn));
    this.#startSweeper();
    return { conn, reused: false };
  }

  /** After an answer: to the first waiter, else idle while the server keeps it, else closed. */
  #release(conn: PeerConnection, res: Http1Response): void {
    if (!conn.usable) {
      this.#drop(conn);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter(conn);
      return;
    }
    const keepMs = this.#keepIdleMs(res);
    if (this.#closed || keepMs <= 0) {
      this.#drop(conn);
      return;
    }
    // An idle connection does not keep the process alive.
    conn.socket.unref();
    this.#idle.push({ conn, until: Date.now() + keepMs });
  }

  /** How long the answer's connection may stay idle: the server's Keep-Alive timeout less a margin, else the default. */
  #keepIdleMs(res: Http1Response): number {
    const hint = res.headers.get('keep-alive');
    const m =
      hint === undefined ? null : /(?:^|[\s,;])timeout\s*=\s*(\d{1,9})(?:$|[\s,;])/i.exec(hint);
    if (m === null) return this.#idleMs;
    return Math.min(Number(m[1]) * 1000 - KEEP_ALIVE_MARGIN_MS, this.#maxIdleMs);
  }

  /** Closes `conn` and forgets it; idempotent. */
  #drop(conn: PeerConnection): void {
    if (!this.#live.delete(conn)) return;
    const i = this.#idle.findIndex((x) => x.conn === conn);
    if (i >= 0) this.#idle.splice(i, 1);
    void conn.close();
    this.#slotFreed();
  }

  /** A connection closed, or one failed to open: the first waiter may open one. */
  #slotFreed(): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter(undefined);
    else if (this.#live.size === 0) this.#stopSweeper();
    if (this.#isDrained()) for (const resolve of this.#drained.splice(0)) resolve();
  }

  #isDrained(): boolean {
    return (
      this.#closed && this.#live.size === 0 && this.#opening === 0 && this.#waiters.length === 0
    );
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined || this.#closed) return;
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const idle of this.#idle.filter((x) => x.until <= now || !x.conn.usable))
        this.#drop(idle.conn);
    }, SWEEP_EVERY_MS);
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
