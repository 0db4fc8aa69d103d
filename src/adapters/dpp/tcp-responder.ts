/**
 * A DPP Enrollee that listens over TCP (Wi-Fi Easy Connect v2 section 6.8, port 8908 by default)
 * as the Responder: a Configurator that scanned our URI connects and initiates. Each connection
 * runs one exchange with the pure code (protocols/dpp/authentication.ts with `role: 'enrollee'`,
 * enrollment.ts):
 *
 *   us <- Authentication Request (I-capabilities Configurator)
 *   us -> Authentication Response (R-capabilities Enrollee)
 *   us <- Authentication Confirm
 *   us -> Configuration Request (GAS Initial Request: over TCP the Enrollee always sends it)
 *   us <- Configuration Response
 *   us -> Configuration Result (to a Configurator of version 2 or more that gave a configuration)
 *
 * as hostap's Controller with `role=enrollee` runs it (dpp_controller_rx_auth_req,
 * dpp_controller_auth_success, dpp_tcp_rx_gas_resp). Roles as hostap's dpp_auth_req_rx: an
 * Initiator that offers only the Enrollee role is answered with Status NOT_COMPATIBLE
 * (R-capabilities Enrollee) and the connection closed; I-capabilities with no role are refused
 * with no answer. Mutual authentication when the Request names a Configurator key we were given
 * (`peers`); `onlyKnownConfigurators` refuses any other.
 *
 * Any refusal (a frame not well-formed, out of order, not for our key, failing its checks) ends
 * that exchange with no answer and closes its socket; `onExchange` hears its error code. The
 * listener keeps listening until an exchange configured us: then it stops, and `configured`
 * gives what we received. Nothing is logged; the passphrase is only in the value given.
 */
import * as net from 'node:net';
import { isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import {
  DppStatus,
  answerAuthRequest,
  checkAuthConfirm,
  type DppAuthPending,
  type DppOwnBootstrap,
  type DppPeerBootstrap,
  type DppSession,
} from '../../protocols/dpp/authentication.js';
import {
  buildConfigurationRequest,
  buildConfigurationResult,
  type DppEnrollment,
} from '../../protocols/dpp/enrollment.js';
import {
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
} from '../../protocols/dpp/frames.js';
import { receiveConfiguration, type DppEnrolleeResult } from './received.js';

export interface DppTcpResponderOptions {
  crypto: Crypto;
  /** Our bootstrapping key: the one in the URI the Configurator scanned. */
  bootstrap: DppOwnBootstrap;
  /** Configurators' bootstrapping keys we know (we scanned their URIs): mutual authentication. */
  peers?: readonly DppPeerBootstrap[];
  /** Answer only a Configurator whose key `peers` holds (mutual): ERR_DPP_AUTH `unknown-configurator`. */
  onlyKnownConfigurators?: boolean;
  /** The name the Configurator sees in our Configuration Request. */
  name: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 for any free port; default 8908. */
  port?: number;
  /** Connections at once; default 4. */
  maxConnections?: number;
  /** Connections at once from one remote address; default 2. */
  maxConnectionsPerAddress?: number;
  /** Time allowed for the first message; default 5 s. */
  firstMessageTimeoutMs?: number;
  /** Idle time allowed between messages; default 10 s. */
  idleTimeoutMs?: number;
  /** Time allowed for a whole exchange; default 30 s. */
  exchangeTimeoutMs?: number;
  /** Largest TCP message accepted; default 16384. */
  maxMessageSize?: number;
  /** Hears each exchange as it ends. */
  onExchange?: (exchange: DppResponderExchange) => void;
}

/** One exchange, as it ended. Carries no secret. */
export interface DppResponderExchange {
  /** The peer's address and port. */
  peer: string;
  authenticated: boolean;
  /** The Configurator proved it holds a bootstrapping key of `peers`. */
  mutual: boolean;
  /** It configured us (the first usable Configuration Object was taken). */
  configured: boolean;
  /** The error code that ended it, when it failed, and its `details.reason`. */
  error?: string;
  reason?: string;
}

export interface DppTcpResponder {
  readonly port: number;
  /**
   * What the first exchange that configured us received (secret: the passphrase is here);
   * undefined when the listener was closed before.
   */
  readonly configured: Promise<DppEnrolleeResult | undefined>;
  close(): Promise<void>;
}

type State =
  | { step: 'auth-request' }
  | { step: 'auth-confirm'; pending: DppAuthPending }
  | { step: 'conf-response'; session: DppSession; enrollment: DppEnrollment }
  | { step: 'done' };

/** Listens as a DPP Enrollee, until configured once or closed. */
export async function listenDppTcpEnrollee(
  options: DppTcpResponderOptions,
): Promise<DppTcpResponder> {
  const sockets = new Set<net.Socket>();
  const perAddress = new Map<string, number>();
  const perAddressCap = options.maxConnectionsPerAddress ?? 2;
  let resolveConfigured!: (r: DppEnrolleeResult | undefined) => void;
  const configured = new Promise<DppEnrolleeResult | undefined>((r) => (resolveConfigured = r));
  let done = false;
  const close = () =>
    new Promise<void>((resolve) => {
      done = true;
      resolveConfigured(undefined);
      for (const s of sockets) s.destroy();
      if (!server.listening) resolve();
      else server.close(() => resolve());
    });
  const server = net.createServer((socket) => {
    const address = socket.remoteAddress ?? '?';
    const count = perAddress.get(address) ?? 0;
    if (done || count >= perAddressCap) {
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
    serve(socket, options, (result) => {
      if (done) return false;
      done = true;
      resolveConfigured(result);
      // Configured: stop listening; the other exchanges end.
      for (const s of sockets) if (s !== socket) s.destroy();
      server.close();
      return true;
    });
  });
  server.maxConnections = options.maxConnections ?? 4;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8908, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', () => undefined);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return { port: address.port, configured, close };
}

function serve(
  socket: net.Socket,
  options: DppTcpResponderOptions,
  /** Takes a configuration; false when another exchange configured us first. */
  take: (result: DppEnrolleeResult) => boolean,
): void {
  const { crypto } = options;
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs ?? 10_000);
  const decoder = new DppTcpDecoder(options.maxMessageSize ?? 16_384);
  const exchange: DppResponderExchange = {
    peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
    authenticated: false,
    mutual: false,
    configured: false,
  };
  let state: State = { step: 'auth-request' };
  const report = () => {
    clearTimeout(timer);
    clearTimeout(firstTimer);
    options.onExchange?.(exchange);
  };
  const fail = (error: string, reason?: string) => {
    if (state.step === 'done') return;
    state = { step: 'done' };
    exchange.error = error;
    if (reason !== undefined) exchange.reason = reason;
    report();
    socket.destroy();
  };
  /** Ends the exchange once what was written has gone out. */
  const endAfterWrite = (error?: string, reason?: string) => {
    if (state.step === 'done') return;
    state = { step: 'done' };
    if (error !== undefined) exchange.error = error;
    if (reason !== undefined) exchange.reason = reason;
    report();
    socket.end();
    socket.destroySoon();
  };
  const timer = setTimeout(
    () => fail('ERR_TRANSPORT', 'timeout'),
    options.exchangeTimeoutMs ?? 30_000,
  );
  const firstTimer = setTimeout(() => {
    if (state.step === 'auth-request') fail('ERR_TRANSPORT', 'timeout');
  }, options.firstMessageTimeoutMs ?? 5_000);
  const send = (message: DppMessage) =>
    socket.write(frameDppTcpMessage(encodeDppTcpMessage(message)));

  const step = (message: DppMessage): void => {
    switch (state.step) {
      case 'auth-request': {
        const answer = answerAuthRequest(crypto, options.bootstrap, message, {
          role: 'enrollee',
          ...(options.peers ? { peers: options.peers } : {}),
          ...(options.onlyKnownConfigurators ? { requirePeer: true } : {}),
        });
        send(answer.response);
        if (answer.kind === 'not-compatible') {
          // As hostap: the Response with Status NOT_COMPATIBLE, then the exchange ends.
          endAfterWrite('ERR_DPP_AUTH', 'not-compatible');
          return;
        }
        state = { step: 'auth-confirm', pending: answer.pending };
        return;
      }
      case 'auth-confirm': {
        const session = checkAuthConfirm(crypto, state.pending, message);
        exchange.authenticated = true;
        exchange.mutual = session.mutual;
        const { request, enrollment } = buildConfigurationRequest(crypto, session, {
          name: options.name,
        });
        send(request);
        state = { step: 'conf-response', session, enrollment };
        return;
      }
      case 'conf-response': {
        const { session, enrollment } = state;
        const { received, result } = receiveConfiguration(
          crypto,
          session,
          enrollment,
          message,
          new Date(),
        );
        // A failure status: nothing goes back (hostap sends a Result only after Status OK).
        if (received.status !== DppStatus.OK) {
          endAfterWrite('ERR_DPP_AUTH', 'configure-failure');
          return;
        }
        // Config Rejected when nothing usable came, or another exchange configured us first.
        const taken = result !== undefined && take(result);
        if (session.peerVersion >= 2)
          send(
            buildConfigurationResult(
              session,
              enrollment,
              taken ? DppStatus.OK : DppStatus.CONFIG_REJECTED,
            ),
          );
        exchange.configured = taken;
        if (taken) endAfterWrite();
        else
          endAfterWrite('ERR_DPP_AUTH', result ? 'already-configured' : 'no-usable-configuration');
        return;
      }
      case 'done':
        return;
    }
  };

  const over = () => state.step === 'done';
  socket.on('data', (chunk: Buffer) => {
    if (over()) return;
    try {
      const frames = decoder.push(new Uint8Array(chunk));
      if (frames.length > 0) clearTimeout(firstTimer);
      for (const frame of frames) {
        if (over()) break;
        step(decodeDppTcpMessage(frame));
      }
    } catch (e) {
      if (isAirlockError(e)) fail(e.code, stringOrUndefined(e.details.reason));
      else fail('ERR_INTERNAL');
    }
  });
  socket.on('timeout', () => fail('ERR_TRANSPORT', 'timeout'));
  socket.on('error', () => fail('ERR_TRANSPORT', 'connection'));
  const closed = () => {
    if (state.step === 'done') return;
    try {
      decoder.end();
    } catch (e) {
      fail(isAirlockError(e) ? e.code : 'ERR_DPP_FRAME'); // a message cut short
      return;
    }
    fail('ERR_TRANSPORT', 'closed');
  };
  socket.on('end', closed);
  socket.on('close', closed);
}

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
