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
import * as net from 'node:net';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import type { DppOwnBootstrap, DppSession } from '../../protocols/dpp/authentication.js';
import { DppStatus } from '../../protocols/dpp/authentication.js';
import {
  bootstrappingKeyHash,
  type BootstrappingKey,
} from '../../protocols/dpp/bootstrapping-key.js';
import {
  readConfigurationRequest,
  readConfigurationResult,
  type DppConfigurationRequest,
  type DppConfigurationGiven,
} from '../../protocols/dpp/configuration.js';
import { answerConfigurationRequest, type DppConfigurationContext } from './configure.js';
import {
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
} from '../../protocols/dpp/frames.js';
import {
  initiateAuth,
  readAuthResponse,
  type DppInitiation,
} from '../../protocols/dpp/initiation.js';
import type { DppUri } from '../../protocols/dpp/uri.js';

/** The TCP port of DPP (Wi-Fi Easy Connect v2 section 6.8; hostap's DPP_TCP_PORT). */
export const DPP_TCP_PORT = 8908;

/** Who the Enrollee is, as authentication established it, and what it asked with. */
export interface DppInitiatedEnrollee extends Partial<DppConfigurationContext> {
  /**
   * Hex SHA-256 of its bootstrapping key (the URI's): always verified, since the Responder proves
   * it holds that key.
   */
  keyHash: string;
  /** It also proved it knows our bootstrapping key (it scanned our URI). */
  mutual: boolean;
}

export interface DppTcpInitiatorOptions {
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
    enrollee: DppInitiatedEnrollee,
    live: () => boolean,
  ) => DppConfigurationGiven | Promise<DppConfigurationGiven>;
  /** Overrides the URI's host (and the URI's port). */
  host?: string;
  port?: number;
  /** Time allowed to connect; default 5 s. */
  connectTimeoutMs?: number;
  /** Idle time allowed between messages; default 10 s. */
  idleTimeoutMs?: number;
  /** Time allowed for a whole exchange; default 30 s. */
  exchangeTimeoutMs?: number;
  /** Largest TCP message accepted; default 16384. */
  maxMessageSize?: number;
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
  | { step: 'conf-result'; session: DppSession; request: DppConfigurationRequest }
  | { step: 'done' };

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
  return new Promise<DppInitiatorResult>((resolve, reject) => {
    const decoder = new DppTcpDecoder(options.maxMessageSize ?? 16_384);
    let state: State = { step: 'connecting' };
    let settled = false;
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    socket.setTimeout(options.connectTimeoutMs ?? 5_000);
    const timer = setTimeout(
      () =>
        fail(
          new AirlockError('ERR_TRANSPORT', 'the DPP exchange took too long', {
            details: { reason: 'timeout' },
          }),
        ),
      options.exchangeTimeoutMs ?? 30_000,
    );
    const finish = () => {
      settled = true;
      state = { step: 'done' };
      clearTimeout(timer);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      finish();
      socket.destroy();
      reject(
        isAirlockError(error)
          ? error
          : new AirlockError('ERR_INTERNAL', 'the DPP exchange failed', { cause: error }),
      );
    };
    /** Ends the exchange once what was written has gone out. */
    const endAfterWrite = (outcome: () => void) => {
      if (settled) return;
      finish();
      socket.end();
      socket.destroySoon();
      outcome();
    };
    const send = (message: DppMessage) =>
      socket.write(frameDppTcpMessage(encodeDppTcpMessage(message)));
    const live = () => state.step === 'conf-request' && !socket.destroyed && socket.writable;

    const step = async (message: DppMessage): Promise<void> => {
      switch (state.step) {
        case 'auth-response': {
          const { confirm, session } = readAuthResponse(crypto, state.initiation, message);
          send(confirm);
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
          const { response } = answered;
          send(response);
          if (answered.csrNeeded) {
            state = { step: 'conf-request', session, csrAsked: true };
            return;
          }
          const delivered = response.query[0]!.value[0] === DppStatus.OK;
          const summary = { name: request.name, netRole: request.netRole };
          if (!delivered) {
            endAfterWrite(() =>
              reject(
                answered.csrBad !== undefined
                  ? new AirlockError(
                      'ERR_DPP_CSR',
                      "the Enrollee's certificate request was refused",
                      {
                        details: { reason: answered.csrBad },
                      },
                    )
                  : new AirlockError(
                      'ERR_DPP_AUTH',
                      'there was no configuration for this Enrollee',
                      {
                        details: { reason: 'configure-failure' },
                      },
                    ),
              ),
            );
            return;
          }
          // hostap's Enrollee sends a Configuration Result only when it speaks version 2 or more.
          if (session.peerVersion < 2) {
            endAfterWrite(() =>
              resolve({
                enrollee: { ...enrollee },
                request: summary,
                configurationDelivered: true,
                status: 'ok',
              }),
            );
            return;
          }
          state = { step: 'conf-result', session, request };
          return;
        }
        case 'conf-result': {
          const resultStatus = readConfigurationResult(state.session, state.request, message);
          const { request } = state;
          endAfterWrite(() =>
            resolve({
              enrollee: { ...enrollee },
              request: { name: request.name, netRole: request.netRole },
              configurationDelivered: true,
              resultStatus,
              status: resultStatus === DppStatus.OK ? 'ok' : 'failed',
            }),
          );
          return;
        }
        default:
          throw new AirlockError('ERR_DPP_AUTH', 'a message came when none was expected', {
            details: { reason: 'unexpected-frame' },
          });
      }
    };

    // Messages are handled one after the other, each after the previous one's work (which may
    // wait on the caller's `configuration`) is done.
    let queue: Promise<void> = Promise.resolve();
    const later = (work: () => void | Promise<void>) => {
      queue = queue.then(work).catch(fail);
    };
    socket.once('connect', () => {
      socket.setTimeout(options.idleTimeoutMs ?? 10_000);
      try {
        const own = options.own && options.own.curve === peer.curve ? options.own : undefined;
        const { request, initiation } = initiateAuth(crypto, peer, {
          role: 'configurator',
          ...(own ? { own } : {}),
        });
        state = { step: 'auth-response', initiation };
        send(request);
      } catch (e) {
        fail(e);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      let frames: Uint8Array[];
      try {
        frames = decoder.push(new Uint8Array(chunk));
      } catch (e) {
        later(() => fail(e));
        return;
      }
      for (const frame of frames)
        later(async () => {
          if (!settled) await step(decodeDppTcpMessage(frame));
        });
    });
    socket.on('timeout', () =>
      fail(
        new AirlockError('ERR_TRANSPORT', 'the Enrollee did not answer in time', {
          details: { reason: 'timeout' },
        }),
      ),
    );
    socket.on('error', (e) =>
      fail(
        new AirlockError('ERR_TRANSPORT', 'the connection to the Enrollee failed', {
          cause: e,
          details: { reason: 'connection' },
        }),
      ),
    );
    const closed = () =>
      later(() => {
        if (settled) return;
        try {
          decoder.end();
        } catch (e) {
          fail(e); // a message cut short: ERR_DPP_FRAME
          return;
        }
        fail(
          new AirlockError('ERR_DPP_AUTH', 'the Enrollee closed the connection', {
            details: { reason: 'closed' },
          }),
        );
      });
    socket.on('end', closed);
    socket.on('close', closed);
  });
}
