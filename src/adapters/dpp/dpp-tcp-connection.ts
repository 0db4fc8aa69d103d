/**
 * The TCP plumbing of DPP (Wi-Fi Easy Connect v2 section 6.8), shared by the four roles: the
 * listeners (tcp-controller.ts, the Configurator as Responder; tcp-responder.ts, the Enrollee as
 * Responder) and the clients (tcp-enrollee.ts, the Enrollee as Initiator; tcp-initiator.ts, the
 * Configurator as Initiator). Each role file keeps its protocol steps; here are listening with a
 * connection cap and a cap per remote address, connecting with a timeout, and one exchange per
 * connection: its decoder, its messages handled one after the other (each once the previous
 * one's work is done), its first-message, idle and whole-exchange timeouts, and its end, once.
 */
import * as net from 'node:net';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import {
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
} from '../../protocols/dpp/frames.js';

/** The TCP port of DPP (Wi-Fi Easy Connect v2 section 6.8; hostap's DPP_TCP_PORT). */
export const DPP_TCP_PORT = 8908;

/** The limits of one exchange, on either side. */
export interface DppTcpExchangeLimits {
  /** Idle time allowed between messages; default 10 s. */
  idleTimeoutMs?: number;
  /** Time allowed for a whole exchange; default 30 s. */
  exchangeTimeoutMs?: number;
  /** Largest TCP message accepted; default 16384. */
  maxMessageSize?: number;
}

/** A listener's address and limits (the connection caps default as each role says). */
export interface DppTcpListenOptions extends DppTcpExchangeLimits {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 for any free port; default 8908. */
  port?: number;
  /** Connections at once. */
  maxConnections?: number;
  /** Connections at once from one remote address. */
  maxConnectionsPerAddress?: number;
  /** Time allowed for the first message; default 5 s. */
  firstMessageTimeoutMs?: number;
}

/** A client's limits. */
export interface DppTcpConnectOptions extends DppTcpExchangeLimits {
  /** Time allowed to connect; default 5 s. */
  connectTimeoutMs?: number;
}

/** How one exchange runs, and what hears it. `T`: what a successful end gives. */
export interface DppTcpExchangeHooks<T> {
  /** Who is at the other end, as the errors name it ('Controller', 'Enrollee', ...). */
  peerName: string;
  /** The code of a close before the end: ERR_TRANSPORT (listeners) or ERR_DPP_AUTH (clients). */
  closedCode: 'ERR_TRANSPORT' | 'ERR_DPP_AUTH';
  /**
   * Where a stream cut mid-message is the decoder's ERR_DPP_FRAME rather than `closed`: when the
   * peer ends its stream (`onEnd`), and when the socket closes otherwise (`onClose`).
   */
  cutShort: { onEnd: boolean; onClose: boolean };
  /** After a successful end: destroy once written (default), or wait for the peer to close. */
  afterEnd?: 'destroy' | 'wait';
  /** Handles one message; the next waits until it is done. A throw ends the exchange. */
  step: (message: DppMessage) => void | Promise<void>;
  /** Hears the end, once: the error that ended the exchange, or what it gave. */
  ended: (outcome: AirlockError | T) => void;
}

/** One exchange over one connection. */
export interface DppTcpExchange<T> {
  /** Writes one message. */
  send(message: DppMessage): void;
  /** Ends the exchange with no answer (the socket destroyed); not an AirlockError: ERR_INTERNAL. */
  fail(error: unknown): void;
  /** Ends the exchange once what was written has gone out. */
  end(outcome: AirlockError | T): void;
  /** The exchange has ended. */
  readonly over: boolean;
  /** The exchange goes on and the socket takes what is written. */
  live(): boolean;
}

/** The peer's address and port, as the results name it. */
export function dppTcpPeer(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}

function runExchange<T>(
  socket: net.Socket,
  limits: DppTcpExchangeLimits & { firstMessageTimeoutMs?: number },
  hooks: DppTcpExchangeHooks<T>,
): DppTcpExchange<T> {
  const decoder = new DppTcpDecoder(limits.maxMessageSize ?? 16_384);
  let over = false;
  const timeout = (what: string) =>
    new AirlockError('ERR_TRANSPORT', what, { details: { reason: 'timeout' } });
  const close = (outcome: AirlockError | T, how: 'destroy' | 'end') => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    clearTimeout(firstTimer);
    hooks.ended(outcome);
    if (how === 'destroy') socket.destroy();
    else {
      socket.end();
      if ((hooks.afterEnd ?? 'destroy') === 'destroy') socket.destroySoon();
    }
  };
  const fail = (error: unknown) =>
    close(
      isAirlockError(error)
        ? error
        : new AirlockError('ERR_INTERNAL', 'the DPP exchange failed', { cause: error }),
      'destroy',
    );
  const timer = setTimeout(
    () => fail(timeout('the DPP exchange took too long')),
    limits.exchangeTimeoutMs ?? 30_000,
  );
  const firstTimer =
    limits.firstMessageTimeoutMs === undefined
      ? undefined
      : setTimeout(
          () => fail(timeout(`the ${hooks.peerName} sent nothing in time`)),
          limits.firstMessageTimeoutMs,
        );
  // Messages are handled one after the other, each after the previous one's work (which may
  // wait on the caller) is done.
  let queue: Promise<void> = Promise.resolve();
  const later = (work: () => void | Promise<void>) => {
    queue = queue.then(work).catch(fail);
  };
  socket.setNoDelay(true);
  socket.on('data', (chunk: Buffer) => {
    if (over) return;
    let frames: Uint8Array[];
    try {
      frames = decoder.push(new Uint8Array(chunk));
    } catch (e) {
      later(() => fail(e));
      return;
    }
    if (frames.length > 0) clearTimeout(firstTimer);
    for (const frame of frames)
      later(async () => {
        if (!over) await hooks.step(decodeDppTcpMessage(frame));
      });
  });
  socket.on('timeout', () => fail(timeout(`the ${hooks.peerName} did not answer in time`)));
  socket.on('error', (e) =>
    fail(
      new AirlockError('ERR_TRANSPORT', `the connection to the ${hooks.peerName} failed`, {
        cause: e,
        details: { reason: 'connection' },
      }),
    ),
  );
  const closed = (checkStream: boolean) =>
    later(() => {
      if (over) return;
      if (checkStream) decoder.end(); // a message cut short: ERR_DPP_FRAME
      fail(
        new AirlockError(hooks.closedCode, `the ${hooks.peerName} closed the connection`, {
          details: { reason: 'closed' },
        }),
      );
    });
  socket.on('end', () => closed(hooks.cutShort.onEnd));
  socket.on('close', () => closed(hooks.cutShort.onClose));
  return {
    send: (message) => {
      socket.write(frameDppTcpMessage(encodeDppTcpMessage(message)));
    },
    fail,
    end: (outcome) => close(outcome, 'end'),
    get over() {
      return over;
    },
    live: () => !over && !socket.destroyed && socket.writable,
  };
}

/** The error of an exchange as a listener reports it: its code, and its `details.reason`. */
export function dppTcpErrorOf(error: AirlockError): { error: string; reason?: string } {
  const reason = error.details.reason;
  return { error: error.code, ...(typeof reason === 'string' ? { reason } : {}) };
}

/** One exchange on a connection a listener took. */
export function serveDppTcpExchange(
  socket: net.Socket,
  options: DppTcpListenOptions,
  hooks: Omit<DppTcpExchangeHooks<undefined>, 'closedCode'>,
): DppTcpExchange<undefined> {
  socket.setTimeout(options.idleTimeoutMs ?? 10_000);
  return runExchange(
    socket,
    { ...options, firstMessageTimeoutMs: options.firstMessageTimeoutMs ?? 5_000 },
    { ...hooks, closedCode: 'ERR_TRANSPORT' },
  );
}

/**
 * Connects and runs one exchange; `connected` sends the first message (a throw ends the
 * exchange). Settles once, as the exchange ends: rejects with its error (ERR_TRANSPORT
 * `timeout` or `connection`, ERR_DPP_AUTH `closed`, the protocol code's refusals).
 */
export function connectDppTcpExchange<T>(
  address: { host: string; port: number },
  options: DppTcpConnectOptions,
  hooks: Omit<DppTcpExchangeHooks<T>, 'closedCode' | 'ended'> & {
    connected: (exchange: DppTcpExchange<T>) => void;
  },
): { exchange: DppTcpExchange<T>; result: Promise<T> } {
  let settle!: (outcome: AirlockError | T) => void;
  const result = new Promise<T>((resolve, reject) => {
    settle = (outcome) => (isAirlockError(outcome) ? reject(outcome) : resolve(outcome));
  });
  const socket = net.connect(address);
  socket.setTimeout(options.connectTimeoutMs ?? 5_000);
  const exchange = runExchange<T>(socket, options, {
    ...hooks,
    closedCode: 'ERR_DPP_AUTH',
    ended: (outcome) => settle(outcome),
  });
  socket.once('connect', () => {
    socket.setTimeout(options.idleTimeoutMs ?? 10_000);
    try {
      hooks.connected(exchange);
    } catch (e) {
      exchange.fail(e);
    }
  });
  return { exchange, result };
}

export interface DppTcpListener {
  readonly port: number;
  /** Stops listening (without waiting) and ends every connection but `keep`. */
  stop(keep?: net.Socket): void;
  /** Ends every connection and stops listening. */
  close(): Promise<void>;
}

/**
 * Listens; each connection (once past the caps, and while `accepting()`) goes to `serve`. A
 * connection over a cap is closed at once. A server error after listening is heard by its code.
 */
export async function listenDppTcp(
  options: DppTcpListenOptions,
  defaults: { maxConnections: number; maxConnectionsPerAddress: number },
  serve: (socket: net.Socket) => void,
  more: { accepting?: () => boolean; onServerError?: (code: string) => void } = {},
): Promise<DppTcpListener> {
  const sockets = new Set<net.Socket>();
  const perAddress = new Map<string, number>();
  const perAddressCap = options.maxConnectionsPerAddress ?? defaults.maxConnectionsPerAddress;
  const server = net.createServer((socket) => {
    const address = socket.remoteAddress ?? '?';
    const count = perAddress.get(address) ?? 0;
    if (more.accepting?.() === false || count >= perAddressCap) {
      socket.destroy();
      return;
    }
    perAddress.set(address, count + 1);
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    serve(socket);
  });
  server.maxConnections = options.maxConnections ?? defaults.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DPP_TCP_PORT, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', (e: NodeJS.ErrnoException) => more.onServerError?.(e.code ?? 'ERR'));
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    stop: (keep) => {
      for (const s of sockets) if (s !== keep) s.destroy();
      server.close();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server.listening) resolve();
        else server.close(() => resolve());
      }),
  };
}
