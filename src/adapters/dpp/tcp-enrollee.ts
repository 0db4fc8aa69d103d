/**
 * A DPP Enrollee over TCP (Wi-Fi Easy Connect v2 section 6.8): Airlock's device side as the
 * Initiator. It connects to a Controller (port 8908 by default) whose URI it scanned and runs
 * one exchange with the pure code (protocols/dpp/initiation.ts, enrollment.ts): Authentication
 * Request, Response, Confirm, Configuration Request, Response, Result. Then it closes.
 *
 * Any refusal, timeout or connection failure ends the exchange with a typed error and closes
 * the socket. Nothing is logged; the passphrase is only in the value returned.
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import type { DppOwnBootstrap, DppSession } from '../../protocols/dpp/authentication.js';
import type { BootstrappingKey } from '../../protocols/dpp/bootstrapping-key.js';
import { buildConfigurationRequest, type DppEnrollment } from '../../protocols/dpp/enrollment.js';
import { answerConfigurationResponse, type DppEnrolleeResult } from './received.js';
import type { DppMessage } from '../../protocols/dpp/frames.js';
import {
  initiateAuth,
  readAuthResponse,
  type DppInitiation,
} from '../../protocols/dpp/initiation.js';
import {
  DPP_TCP_PORT,
  connectDppTcpExchange,
  type DppTcpConnectOptions,
} from './dpp-tcp-connection.js';

/** Limits: 5 s to connect, then at most 10 s idle, 30 s for a whole exchange; messages of at most 16384 octets. */
export interface DppTcpEnrolleeOptions extends DppTcpConnectOptions {
  crypto: Crypto;
  /** The Configurator's bootstrapping key, from the URI we scanned. */
  peer: BootstrappingKey;
  /** Our own bootstrapping key, when the Configurator may have scanned our URI (mutual). */
  own?: DppOwnBootstrap;
  /** The name the Configurator sees in our Configuration Request. */
  name: string;
  host: string;
  /** Default 8908. */
  port?: number;
}

export type { DppEnrolleeResult, UsableConfigurationObject } from './received.js';

type State =
  | { step: 'connecting' }
  | { step: 'auth-response'; initiation: DppInitiation }
  | { step: 'conf-response'; session: DppSession; enrollment: DppEnrollment };

/**
 * Runs one exchange as the Enrollee. Rejects with ERR_DPP_AUTH or ERR_DPP_FRAME (refused by
 * the protocol code, or `reason` 'configure-failure' / 'no-usable-configuration' when nothing
 * usable came), or ERR_TRANSPORT (`reason` 'timeout' or 'connection'). The socket is closed in every case.
 */
export function runDppTcpEnrollee(options: DppTcpEnrolleeOptions): Promise<DppEnrolleeResult> {
  const { crypto } = options;
  let state: State = { step: 'connecting' };

  const step = (message: DppMessage): void => {
    switch (state.step) {
      case 'auth-response': {
        const { confirm, session } = readAuthResponse(crypto, state.initiation, message);
        exchange.send(confirm);
        const { request, enrollment } = buildConfigurationRequest(crypto, session, {
          name: options.name,
        });
        exchange.send(request);
        state = { step: 'conf-response', session, enrollment };
        return;
      }
      case 'conf-response': {
        const answer = answerConfigurationResponse(crypto, state, message, () => true);
        if ('refused' in answer) throw answer.refused;
        if (answer.reply) exchange.send(answer.reply);
        // A rejection is written before the connection closes (end, not destroy).
        exchange.end('taken' in answer ? answer.taken : answer.rejected);
        return;
      }
      default:
        throw new AirlockError('ERR_DPP_AUTH', 'a message came when none was expected', {
          details: { reason: 'unexpected-frame' },
        });
    }
  };

  const { exchange, result } = connectDppTcpExchange<DppEnrolleeResult>(
    { host: options.host, port: options.port ?? DPP_TCP_PORT },
    options,
    {
      peerName: 'Controller',
      cutShort: { onEnd: false, onClose: false },
      step,
      connected: () => {
        const { request, initiation } = initiateAuth(crypto, options.peer, {
          ...(options.own ? { own: options.own } : {}),
        });
        state = { step: 'auth-response', initiation };
        exchange.send(request);
      },
    },
  );
  return result;
}
