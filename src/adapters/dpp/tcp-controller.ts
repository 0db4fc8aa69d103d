/**
 * A DPP Controller over TCP (Wi-Fi Easy Connect v2 section 6.8, port 8908 by default): the
 * Configurator as the Responder. An Enrollee that scanned our URI connects and initiates; each
 * connection runs one exchange with the pure code (protocols/dpp/authentication.ts,
 * configuration.ts): Authentication Request, Response, Confirm, Configuration Request,
 * Response, Result. Then the connection closes.
 *
 * Any refusal (a frame not well-formed, out of order, not for our key, failing its checks)
 * ends the exchange: no answer, the socket is closed, `onResult` hears the error code. The
 * server keeps serving. Limits: a connection count, an idle timeout and a whole-exchange
 * timeout, and a message size.
 */
import * as net from 'node:net';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import {
  DppStatus,
  checkAuthConfirm,
  respondToAuthRequest,
  type DppAuthPending,
  type DppOwnBootstrap,
  type DppPeerBootstrap,
  type DppSession,
} from '../../protocols/dpp/authentication.js';
import {
  readConfigurationRequest,
  readConfigurationResult,
  type DppConfigurationGiven,
  type DppConfigurationRequest,
} from '../../protocols/dpp/configuration.js';
import { answerConfigurationRequest, type DppConfigurationContext } from './configure.js';
import { DppAttributeId, findDppAttribute } from '../../protocols/dpp/attributes.js';
import {
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
} from '../../protocols/dpp/frames.js';

export interface DppExchangeResult {
  /** The peer's address and port. */
  peer: string;
  /**
   * Hex SHA-256 of the Enrollee's bootstrapping key: set only once the Request named our key
   * (R-BKH matched) and was answered; verified only when `authenticated` and `mutual`.
   */
  enrolleeBootstrapKeyHash?: string;
  /** The I-BKH a Request named, as it came, unchecked: never proof of who sent it. */
  claimedKeyHash?: string;
  authenticated: boolean;
  /** Mutual authentication: the Enrollee proved it holds a bootstrapping key of `peers`. */
  mutual: boolean;
  /** The Enrollee's name and netRole, from its Configuration Request. */
  enrollee?: { name: string; netRole: string };
  /** A Configuration Object was sent. */
  configurationDelivered: boolean;
  /** The DPP Status of the Enrollee's Configuration Result, when one came. */
  resultStatus?: number;
  /** ok: the Result came with status 0. */
  status: 'ok' | 'failed';
  /** The error code that ended the exchange, when it failed. */
  error?: string;
  /** `details.reason` of that error, when it had one. */
  reason?: string;
}

/** Who the Enrollee is, as authentication established it. */
export interface DppEnrolleeIdentity extends DppConfigurationContext {
  /** Hex SHA-256 of its bootstrapping key, as it named it (verified when `mutual`). */
  keyHash?: string;
  /** It proved it holds the bootstrapping key `keyHash` names (one of `peers`). */
  mutual: boolean;
}

export interface DppTcpControllerOptions {
  crypto: Crypto;
  /**
   * Our bootstrapping key, or keys (one per curve): a Request is answered with the key its
   * R-BKH names.
   */
  bootstrap: DppOwnBootstrap | readonly DppOwnBootstrap[];
  /**
   * Enrollees' bootstrapping keys we scanned: with one of these, authentication is mutual. Or a
   * lookup by the key hash (hex) an Authentication Request names, asked for each Request.
   */
  peers?:
    readonly DppPeerBootstrap[] | ((keyHash: string) => Promise<DppPeerBootstrap | undefined>);
  /**
   * Answer only Enrollees whose key `peers` holds (mutual authentication): any other is
   * refused with no answer, ERR_DPP_AUTH `unknown-enrollee`.
   */
  onlyKnownEnrollees?: boolean;
  /**
   * The network to give an Enrollee (or CSR Needed for sta-dot1x, then asked again with the
   * verified request); undefined: Configure Failure. A refusal (thrown) ends the
   * exchange, no answer. Called only while the exchange is live; `live()` says whether it still
   * is (a caller that commits something should ask it last: a configuration returned once the
   * exchange ended is discarded, never sent).
   */
  configuration: (
    request: DppConfigurationRequest,
    enrollee: DppEnrolleeIdentity,
    live: () => boolean,
  ) => DppConfigurationGiven | Promise<DppConfigurationGiven>;
  onResult?: (result: DppExchangeResult) => void;
  host?: string;
  /** 0 for any free port; default 8908. */
  port?: number;
  maxConnections?: number;
  /** Idle time allowed between messages; default 10 s. */
  idleTimeoutMs?: number;
  /** Time allowed for the first message; default 5 s. */
  firstMessageTimeoutMs?: number;
  /** Connections at once from one remote address; default 4. */
  maxConnectionsPerAddress?: number;
  /** Heard when the server fails (the error's code only). */
  onServerError?: (code: string) => void;
  /** Time allowed for a whole exchange; default 30 s. */
  exchangeTimeoutMs?: number;
  /** Largest TCP message accepted; default 16384. */
  maxMessageSize?: number;
}

export interface DppTcpController {
  readonly port: number;
  close(): Promise<void>;
}

type State =
  | { step: 'auth-request' }
  | { step: 'auth-confirm'; pending: DppAuthPending }
  | { step: 'conf-request'; session: DppSession; csrAsked?: boolean }
  | { step: 'conf-result'; session: DppSession; request: DppConfigurationRequest }
  | { step: 'done' };

export async function startDppTcpController(
  options: DppTcpControllerOptions,
): Promise<DppTcpController> {
  const ownKeys: OwnKeys = (
    Array.isArray(options.bootstrap) ? options.bootstrap : [options.bootstrap]
  ).map((own: DppOwnBootstrap) => ({ own, hash: Buffer.from(options.crypto.sha256(own.spkiDer)) }));
  if (ownKeys.length === 0) throw new AirlockError('ERR_CONFIG', 'no bootstrapping key to serve');
  const sockets = new Set<net.Socket>();
  const perAddress = new Map<string, number>();
  const perAddressCap = options.maxConnectionsPerAddress ?? 4;
  const server = net.createServer((socket) => {
    const address = socket.remoteAddress ?? '?';
    const count = perAddress.get(address) ?? 0;
    if (count >= perAddressCap) {
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
    serve(socket, options, ownKeys);
  });
  server.maxConnections = options.maxConnections ?? 16;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8908, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', (e: NodeJS.ErrnoException) => options.onServerError?.(e.code ?? 'ERR'));
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Our keys with their hashes: what an Authentication Request's R-BKH is matched against. */
type OwnKeys = readonly { own: DppOwnBootstrap; hash: Buffer }[];

function serve(socket: net.Socket, options: DppTcpControllerOptions, ownKeys: OwnKeys): void {
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs ?? 10_000);
  const decoder = new DppTcpDecoder(options.maxMessageSize ?? 16_384);
  const result: DppExchangeResult = {
    peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
    authenticated: false,
    mutual: false,
    configurationDelivered: false,
    status: 'failed',
  };
  let state: State = { step: 'auth-request' };
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    clearTimeout(timer);
    clearTimeout(firstTimer);
    options.onResult?.(result);
  };
  const fail = (error: string, reason?: string) => {
    if (state.step === 'done') return;
    state = { step: 'done' };
    result.error = error;
    if (reason !== undefined) result.reason = reason;
    report();
    socket.destroy();
  };
  const timer = setTimeout(
    () => fail('ERR_TRANSPORT', 'timeout'),
    options.exchangeTimeoutMs ?? 30_000,
  );
  const firstTimer = setTimeout(() => {
    if (state.step === 'auth-request') fail('ERR_TRANSPORT', 'timeout');
  }, options.firstMessageTimeoutMs ?? 5_000);
  const finish = () => {
    state = { step: 'done' };
    report();
    socket.end();
  };
  const send = (message: DppMessage) =>
    socket.write(frameDppTcpMessage(encodeDppTcpMessage(message)));

  const step = async (message: DppMessage): Promise<void> => {
    switch (state.step) {
      case 'auth-request': {
        const named =
          message.kind === 'dpp'
            ? findDppAttribute(message.attributes, DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH)
            : undefined;
        if (named?.length === 32) result.claimedKeyHash = Buffer.from(named).toString('hex');
        const ownNamed =
          message.kind === 'dpp'
            ? findDppAttribute(message.attributes, DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH)
            : undefined;
        // The key the Request names; another is refused by the pure code (`not-for-us`).
        const ours = ownNamed && ownKeys.find((k) => k.hash.equals(Buffer.from(ownNamed)));
        const own = (ours || ownKeys[0]!).own;
        let peers: readonly DppPeerBootstrap[] | undefined;
        if (typeof options.peers === 'function') {
          // The database is asked only for a Request that names our key.
          const forUs = Boolean(ours);
          const found =
            forUs && result.claimedKeyHash ? await options.peers(result.claimedKeyHash) : undefined;
          peers = found ? [found] : [];
          if (state.step !== 'auth-request') return;
        } else peers = options.peers;
        const { response, pending } = respondToAuthRequest(options.crypto, own, message, {
          ...(peers ? { peers } : {}),
          ...(options.onlyKnownEnrollees ? { requirePeer: true } : {}),
        });
        if (pending.initiatorBootstrapHash)
          result.enrolleeBootstrapKeyHash = Buffer.from(pending.initiatorBootstrapHash).toString(
            'hex',
          );
        send(response);
        state = { step: 'auth-confirm', pending };
        return;
      }
      case 'auth-confirm': {
        const session = checkAuthConfirm(options.crypto, state.pending, message);
        result.authenticated = true;
        result.mutual = session.mutual;
        state = { step: 'conf-request', session };
        return;
      }
      case 'conf-request': {
        const request = readConfigurationRequest(state.session, message);
        result.enrollee = { name: request.name, netRole: request.netRole };
        const { session, csrAsked } = state;
        const live = () => state.step === 'conf-request' && !socket.destroyed && socket.writable;
        if (!live()) return;
        const answered = await answerConfigurationRequest(options.crypto, session, request, {
          csrAsked: csrAsked === true,
          live: () => live() && state.step === 'conf-request',
          configuration: (context) =>
            Promise.resolve(
              options.configuration(
                request,
                {
                  ...(result.enrolleeBootstrapKeyHash !== undefined
                    ? { keyHash: result.enrolleeBootstrapKeyHash }
                    : {}),
                  mutual: session.mutual,
                  ...context,
                },
                live,
              ),
            ),
        });
        if (!answered) return;
        send(answered.response);
        const { status } = answered;
        const csrBad = answered.csrBad !== undefined;
        if (csrBad) result.reason = answered.csrBad;
        if (answered.csrNeeded) {
          state = { step: 'conf-request', session, csrAsked: true };
          return;
        }
        const ok = status === DppStatus.OK;
        result.configurationDelivered = ok;
        // hostap waits for a Configuration Result only from a version 2 peer given a configuration.
        if (!ok || session.peerVersion < 2) {
          if (!ok) {
            result.error = csrBad ? 'ERR_DPP_CSR' : 'ERR_DPP_AUTH';
            result.reason = csrBad ? (result.reason ?? 'csr-bad') : 'configure-failure';
          }
          finish();
          return;
        }
        state = { step: 'conf-result', session, request };
        return;
      }
      case 'conf-result': {
        result.resultStatus = readConfigurationResult(state.session, state.request, message);
        result.status = result.resultStatus === 0 ? 'ok' : 'failed';
        finish();
        return;
      }
      case 'done':
        return;
    }
  };

  const failWith = (e: unknown) => {
    if (isAirlockError(e)) fail(e.code, stringOrUndefined(e.details.reason));
    else fail('ERR_INTERNAL');
  };
  // Messages are handled one after the other, each after the previous one's work (which may
  // wait on the caller's `peers` and `configuration`) is done.
  let queue: Promise<void> = Promise.resolve();
  const later = (work: () => void | Promise<void>) => {
    queue = queue.then(work).catch(failWith);
  };
  socket.on('data', (chunk: Buffer) => {
    if (state.step === 'done') return;
    let frames: Uint8Array[];
    try {
      frames = decoder.push(new Uint8Array(chunk));
    } catch (e) {
      later(() => failWith(e));
      return;
    }
    if (frames.length > 0) clearTimeout(firstTimer);
    for (const frame of frames)
      later(async () => {
        if (state.step !== 'done') await step(decodeDppTcpMessage(frame));
      });
  });
  socket.on('timeout', () => fail('ERR_TRANSPORT', 'timeout'));
  socket.on('error', () => fail('ERR_TRANSPORT', 'connection'));
  socket.on('end', () =>
    later(() => {
      if (state.step === 'done') return;
      try {
        decoder.end();
      } catch (e) {
        failWith(e); // a message cut short: ERR_DPP_FRAME
        return;
      }
      fail('ERR_TRANSPORT', 'closed');
    }),
  );
  socket.on('close', () =>
    later(() => {
      if (state.step !== 'done') fail('ERR_TRANSPORT', 'closed');
      report();
    }),
  );
}

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
