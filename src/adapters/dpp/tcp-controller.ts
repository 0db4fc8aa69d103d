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
import type * as net from 'node:net';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import {
  checkAuthConfirm,
  respondToAuthRequest,
  type DppAuthPending,
  type DppOwnBootstrap,
  type DppPeerBootstrap,
  type DppSession,
} from '../../protocols/dpp/authentication.js';
import { DppStatus } from '../../protocols/dpp/common.js';
import {
  readConfigurationRequest,
  readConfigurationResult,
  type DppConfigurationGiven,
  type DppConfigurationRequest,
} from '../../protocols/dpp/configuration.js';
import {
  answerConfigurationRequest,
  notConfigured,
  type DppConfigurationContext,
} from './configure.js';
import { DppAttributeId, findDppAttribute } from '../../protocols/dpp/attributes.js';
import type { DppMessage } from '../../protocols/dpp/frames.js';
import {
  dppTcpErrorOf,
  dppTcpPeer,
  listenDppTcp,
  serveDppTcpExchange,
  type DppTcpListenOptions,
} from './dpp-tcp-connection.js';

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

/**
 * Limits: connections at once, default 16, and from one remote address, default 4; the first
 * message within 5 s, then at most 10 s idle, 30 s for a whole exchange; messages of at most
 * 16384 octets. Listens on 127.0.0.1, port 8908, by default.
 */
export interface DppTcpControllerOptions extends DppTcpListenOptions {
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
  /** Heard when the server fails (the error's code only). */
  onServerError?: (code: string) => void;
}

export interface DppTcpController {
  readonly port: number;
  close(): Promise<void>;
}

type State =
  | { step: 'auth-request' }
  | { step: 'auth-confirm'; pending: DppAuthPending }
  | { step: 'conf-request'; session: DppSession; csrAsked?: boolean }
  | { step: 'conf-result'; session: DppSession; request: DppConfigurationRequest };

export async function startDppTcpController(
  options: DppTcpControllerOptions,
): Promise<DppTcpController> {
  const ownKeys: OwnKeys = (
    Array.isArray(options.bootstrap) ? options.bootstrap : [options.bootstrap]
  ).map((own: DppOwnBootstrap) => ({ own, hash: Buffer.from(options.crypto.sha256(own.spkiDer)) }));
  if (ownKeys.length === 0) throw new AirlockError('ERR_CONFIG', 'no bootstrapping key to serve');
  const listener = await listenDppTcp(
    options,
    { maxConnections: 16, maxConnectionsPerAddress: 4 },
    (socket) => serve(socket, options, ownKeys),
    options.onServerError ? { onServerError: options.onServerError } : {},
  );
  return { port: listener.port, close: listener.close };
}

/** Our keys with their hashes: what an Authentication Request's R-BKH is matched against. */
type OwnKeys = readonly { own: DppOwnBootstrap; hash: Buffer }[];

function serve(socket: net.Socket, options: DppTcpControllerOptions, ownKeys: OwnKeys): void {
  const result: DppExchangeResult = {
    peer: dppTcpPeer(socket),
    authenticated: false,
    mutual: false,
    configurationDelivered: false,
    status: 'failed',
  };
  let state: State = { step: 'auth-request' };

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
          if (exchange.over) return;
        } else peers = options.peers;
        const { response, pending } = respondToAuthRequest(options.crypto, own, message, {
          ...(peers ? { peers } : {}),
          ...(options.onlyKnownEnrollees ? { requirePeer: true } : {}),
        });
        if (pending.initiatorBootstrapHash)
          result.enrolleeBootstrapKeyHash = Buffer.from(pending.initiatorBootstrapHash).toString(
            'hex',
          );
        exchange.send(response);
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
        const live = () => state.step === 'conf-request' && exchange.live();
        if (!live()) return;
        const answered = await answerConfigurationRequest(options.crypto, session, request, {
          csrAsked: csrAsked === true,
          live,
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
        exchange.send(answered.response);
        if (answered.csrBad !== undefined) result.reason = answered.csrBad;
        if (answered.csrNeeded) {
          state = { step: 'conf-request', session, csrAsked: true };
          return;
        }
        const refused = notConfigured(answered);
        result.configurationDelivered = !refused;
        // hostap waits for a Configuration Result only from a version 2 peer given a configuration.
        if (refused || session.peerVersion < 2) {
          exchange.end(refused);
          return;
        }
        state = { step: 'conf-result', session, request };
        return;
      }
      case 'conf-result': {
        result.resultStatus = readConfigurationResult(state.session, state.request, message);
        result.status = result.resultStatus === DppStatus.OK ? 'ok' : 'failed';
        exchange.end(undefined);
        return;
      }
    }
  };

  const exchange = serveDppTcpExchange(socket, options, {
    peerName: 'Enrollee',
    cutShort: { onEnd: true, onClose: false },
    afterEnd: 'wait',
    step,
    ended: (error) => {
      if (error) Object.assign(result, dppTcpErrorOf(error));
      options.onResult?.(result);
    },
  });
}
