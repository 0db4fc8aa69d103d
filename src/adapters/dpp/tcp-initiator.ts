/**
 * The DPP Configurator as the Initiator over TCP (Wi-Fi Easy Connect v2 section 6.8): Airlock
 * scanned an Enrollee's URI (its bootstrapping key; its `H:` token names the address it listens
 * on, port 8908 by default), connects, and runs one exchange with the pure code
 * (protocols/dpp/initiation.ts with `role: 'configurator'`, configuration.ts):
 *
 *   us -> Authentication Request (I-capabilities Configurator)
 *   us <- Authentication Response (R-capabilities Enrollee)
 *   us -> Authentication Confirm
 *   us <- Configuration Request (GAS Initial Request: over TCP the Enrollee always sends it)
 *   us -> Configuration Response
 *   us <- Configuration Result (from an Enrollee of version 2 or more given a configuration)
 *
 * as hostap's dpp_tcp.c runs it (dpp_tcp_init, dpp_controller_rx_gas_req, dpp_controller_gas_done,
 * dpp_controller_rx_conf_result). Mutual authentication when the Enrollee asks for it (its
 * Response names our key) and we have a bootstrapping key of our own on the Enrollee's curve; on
 * another curve the Initiator sends the hash of a key made for the exchange (responder-only), as
 * hostap's Initiator does without one.
 *
 * Any refusal, timeout or connection failure ends the exchange with a typed error and closes the
 * socket; nothing is configured once the exchange ended. Nothing is logged.
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import type { DppOwnBootstrap, DppSession } from '../../protocols/dpp/authentication.js';
import {
  bootstrappingKeyHash,
  type BootstrappingKey,
} from '../../protocols/dpp/bootstrapping-key.js';
import { DppStatus } from '../../protocols/dpp/common.js';
import {
  readConfigurationRequest,
  readConfigurationResult,
  type DppConfigurationRequest,
  type DppConfigurationGiven,
} from '../../protocols/dpp/configuration.js';
import {
  answerConfigurationRequest,
  notConfigured,
  type DppConfigurationContext,
} from './configure.js';
import type { DppMessage } from '../../protocols/dpp/frames.js';
import {
  initiateAuth,
  readAuthResponse,
  type DppInitiation,
} from '../../protocols/dpp/initiation.js';
import type { DppUri } from '../../protocols/dpp/uri.js';
import {
  DPP_TCP_PORT,
  connectDppTcpExchange,
  type DppTcpConnectOptions,
} from './dpp-tcp-connection.js';

export { DPP_TCP_PORT } from './dpp-tcp-connection.js';

/** Who the Enrollee is, as authentication established it. */
export interface DppInitiatedEnrollee {
  /**
   * Hex SHA-256 of its bootstrapping key (the URI's): always verified, since the Responder proves
   * it holds that key.
   */
  keyHash: string;
  /** It also proved it knows our bootstrapping key (it scanned our URI). */
  mutual: boolean;
}

/** Limits: 5 s to connect, then at most 10 s idle, 30 s for a whole exchange; messages of at most 16384 octets. */
export interface DppTcpInitiatorOptions extends DppTcpConnectOptions {
  crypto: Crypto;
  /** The Enrollee's URI, as scanned: its key, and its `H:` host and port. */
  enrollee: Pick<DppUri, 'key' | 'host'>;
  /** Our bootstrapping key (the network's): for mutual authentication, on the Enrollee's curve. */
  own?: DppOwnBootstrap;
  /**
   * The network to give the Enrollee; undefined: Configure Failure. A refusal (thrown) ends the
   * exchange with no answer. Called only while the exchange is live; `live()` says whether it
   * still is (a caller that commits something should ask it last: a configuration returned once
   * the exchange ended is discarded, never sent). As tcp-controller.ts's `configuration`.
   */
  configuration: (
    request: DppConfigurationRequest,
    enrollee: DppInitiatedEnrollee & DppConfigurationContext,
    live: () => boolean,
  ) => DppConfigurationGiven | Promise<DppConfigurationGiven>;
  /** Overrides the URI's host (and the URI's port). */
  host?: string;
  port?: number;
}

export interface DppInitiatorResult {
  /** The Enrollee, authenticated. */
  enrollee: DppInitiatedEnrollee;
  /** Its name and netRole, from its Configuration Request. */
  request: { name: string; netRole: string };
  /** A Configuration Object was sent (Status OK). */
  configurationDelivered: boolean;
  /** The DPP Status of its Configuration Result, when one came (0: it took the configuration). */
  resultStatus?: number;
  /** ok: configured, and the Result (when hostap's rules expect one) said OK. */
  status: 'ok' | 'failed';
}

type State =
  | { step: 'connecting' }
  | { step: 'auth-response'; initiation: DppInitiation }
  | { step: 'conf-request'; session: DppSession; csrAsked?: boolean }
  | { step: 'conf-result'; session: DppSession; request: DppConfigurationRequest };

/**
 * Runs one exchange as the Configurator and Initiator. Resolves once it ended as the protocol
 * ends it: after the Configuration Result (status OK or another), or after the Configuration
 * Response when no Result comes (a version 1 Enrollee). Rejects with ERR_DPP_AUTH or
 * ERR_DPP_FRAME (refused by the protocol code; `closed` when the Enrollee closed first,
 * `configure-failure` when the callback gave nothing), ERR_TRANSPORT (`timeout`, `connection`),
 * or ERR_CONFIG (`no-host`: neither the URI nor the options name a host). The socket is closed in
 * every case.
 */
export function runDppTcpConfigurator(
  options: DppTcpInitiatorOptions,
): Promise<DppInitiatorResult> {
  const { crypto } = options;
  const host = options.host ?? options.enrollee.host?.address;
  const port =
    options.port ??
    (options.host === undefined ? options.enrollee.host?.port : undefined) ??
    DPP_TCP_PORT;
  if (host === undefined)
    return Promise.reject(
      new AirlockError('ERR_CONFIG', 'the Enrollee URI has no host (H:) and none was given', {
        details: { reason: 'no-host' },
      }),
    );
  const peer: BootstrappingKey = options.enrollee.key;
  const enrollee: DppInitiatedEnrollee = {
    keyHash: Buffer.from(bootstrappingKeyHash(crypto, peer.spkiDer)).toString('hex'),
    mutual: false,
  };
  let state: State = { step: 'connecting' };
  const live = () => state.step === 'conf-request' && exchange.live();

  const step = async (message: DppMessage): Promise<void> => {
    switch (state.step) {
      case 'auth-response': {
        const { confirm, session } = readAuthResponse(crypto, state.initiation, message);
        exchange.send(confirm);
        enrollee.mutual = session.mutual;
        state = { step: 'conf-request', session };
        return;
      }
      case 'conf-request': {
        const { session, csrAsked } = state;
        const request = readConfigurationRequest(session, message);
        const answered = await answerConfigurationRequest(crypto, session, request, {
          csrAsked: csrAsked === true,
          live,
          configuration: async (context) =>
            options.configuration(request, { ...enrollee, ...context }, live),
        });
        if (!answered) return;
        exchange.send(answered.response);
        if (answered.csrNeeded) {
          state = { step: 'conf-request', session, csrAsked: true };
          return;
        }
        const refused = notConfigured(answered);
        if (refused) {
          exchange.end(refused);
          return;
        }
        // hostap's Enrollee sends a Configuration Result only when it speaks version 2 or more.
        if (session.peerVersion < 2) {
          exchange.end({
            enrollee: { ...enrollee },
            request: { name: request.name, netRole: request.netRole },
            configurationDelivered: true,
            status: 'ok',
          });
          return;
        }
        state = { step: 'conf-result', session, request };
        return;
      }
      case 'conf-result': {
        const resultStatus = readConfigurationResult(state.session, state.request, message);
        const { request } = state;
        exchange.end({
          enrollee: { ...enrollee },
          request: { name: request.name, netRole: request.netRole },
          configurationDelivered: true,
          resultStatus,
          status: resultStatus === DppStatus.OK ? 'ok' : 'failed',
        });
        return;
      }
      default:
        throw new AirlockError('ERR_DPP_AUTH', 'a message came when none was expected', {
          details: { reason: 'unexpected-frame' },
        });
    }
  };

  const { exchange, result } = connectDppTcpExchange<DppInitiatorResult>({ host, port }, options, {
    peerName: 'Enrollee',
    cutShort: { onEnd: true, onClose: true },
    step,
    connected: () => {
      const own = options.own && options.own.curve === peer.curve ? options.own : undefined;
      const { request, initiation } = initiateAuth(crypto, peer, {
        role: 'configurator',
        ...(own ? { own } : {}),
      });
      state = { step: 'auth-response', initiation };
      exchange.send(request);
    },
  });
  return result;
}
