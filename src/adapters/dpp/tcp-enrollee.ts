/**
 * A DPP Enrollee over TCP (Wi-Fi Easy Connect v2 section 6.8): Airlock's device side as the
 * Initiator. It connects to a Controller (port 8908 by default) whose URI it scanned and runs
 * one exchange with the pure code (protocols/dpp/initiation.ts, enrollment.ts): Authentication
 * Request, Response, Confirm, Configuration Request, Response, Result. Then it closes.
 *
 * Any refusal, timeout or connection failure ends the exchange with a typed error and closes
 * the socket. Nothing is logged; the passphrase is only in the value returned.
 */
import * as net from 'node:net';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import {
  DppStatus,
  type DppOwnBootstrap,
  type DppSession,
} from '../../protocols/dpp/authentication.js';
import type { BootstrappingKey } from '../../protocols/dpp/bootstrapping-key.js';
import {
  buildConfigurationRequest,
  buildConfigurationResult,
  type DppEnrollment,
} from '../../protocols/dpp/enrollment.js';
import { receiveConfiguration, type DppEnrolleeResult } from './received.js';
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

export interface DppTcpEnrolleeOptions {
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
  /** Time allowed to connect; default 5 s. */
  connectTimeoutMs?: number;
  /** Idle time allowed between messages; default 10 s. */
  idleTimeoutMs?: number;
  /** Time allowed for a whole exchange; default 30 s. */
  exchangeTimeoutMs?: number;
  /** Largest TCP message accepted; default 16384. */
  maxMessageSize?: number;
}

export type { DppEnrolleeResult, UsableConfigurationObject } from './received.js';

type State =
  | { step: 'auth-response'; initiation: DppInitiation }
  | { step: 'conf-response'; session: DppSession; enrollment: DppEnrollment }
  | { step: 'done' };

/**
 * Runs one exchange as the Enrollee. Rejects with ERR_DPP_AUTH or ERR_DPP_FRAME (refused by
 * the protocol code, or `reason` 'configure-failure' / 'no-usable-configuration' when nothing
 * usable came), or ERR_TRANSPORT (`reason` 'timeout' or 'connection'). The socket is closed in every case.
 */
export function runDppTcpEnrollee(options: DppTcpEnrolleeOptions): Promise<DppEnrolleeResult> {
  const { crypto } = options;
  return new Promise<DppEnrolleeResult>((resolve, reject) => {
    const decoder = new DppTcpDecoder(options.maxMessageSize ?? 16_384);
    let state: State | { step: 'connecting' } = { step: 'connecting' };
    let settled = false;
    const socket = net.connect({ host: options.host, port: options.port ?? 8908 });
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
    /** Ends the exchange with `error` once what was written has gone out. */
    const refuseAfterWrite = (error: AirlockError) => {
      if (settled) return;
      finish();
      socket.end();
      socket.destroySoon();
      reject(error);
    };
    const succeed = (result: DppEnrolleeResult) => {
      if (settled) return;
      finish();
      socket.end();
      socket.destroySoon();
      resolve(result);
    };
    const send = (message: DppMessage) =>
      socket.write(frameDppTcpMessage(encodeDppTcpMessage(message)));

    const step = (message: DppMessage): void => {
      switch (state.step) {
        case 'auth-response': {
          const { confirm, session } = readAuthResponse(crypto, state.initiation, message);
          send(confirm);
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
          // A Configuration Result goes back, as hostap sends it, only to a Configurator that
          // spoke DPP 2 or more and gave a configuration: OK, or Config Rejected when this
          // Enrollee cannot use what it gave. After a failure status, nothing goes back.
          if (received.status !== DppStatus.OK)
            throw new AirlockError(
              'ERR_DPP_AUTH',
              `the Configurator answered status ${received.status}`,
              { details: { reason: 'configure-failure' } },
            );
          const status = result ? DppStatus.OK : DppStatus.CONFIG_REJECTED;
          if (session.peerVersion >= 2) send(buildConfigurationResult(session, enrollment, status));
          if (!result) {
            // The rejection is written before the connection closes (end, not destroy).
            refuseAfterWrite(
              new AirlockError(
                'ERR_DPP_AUTH',
                'no Configuration Object this Enrollee can use (sta-psk, sta-sae, sta-dpp)',
                { details: { reason: 'no-usable-configuration' } },
              ),
            );
            return;
          }
          succeed(result);
          return;
        }
        default:
          refuseUnexpected();
      }
    };
    const refuseUnexpected = (): never => {
      throw new AirlockError('ERR_DPP_AUTH', 'a message came when none was expected', {
        details: { reason: 'unexpected-frame' },
      });
    };

    socket.once('connect', () => {
      socket.setTimeout(options.idleTimeoutMs ?? 10_000);
      try {
        const { request, initiation } = initiateAuth(crypto, options.peer, {
          ...(options.own ? { own: options.own } : {}),
        });
        state = { step: 'auth-response', initiation };
        send(request);
      } catch (e) {
        fail(e);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (settled) return;
      try {
        for (const frame of decoder.push(new Uint8Array(chunk))) {
          if (settled) break;
          step(decodeDppTcpMessage(frame));
        }
      } catch (e) {
        fail(e);
      }
    });
    socket.on('timeout', () =>
      fail(
        new AirlockError('ERR_TRANSPORT', 'the Controller did not answer in time', {
          details: { reason: 'timeout' },
        }),
      ),
    );
    socket.on('error', (e) =>
      fail(
        new AirlockError('ERR_TRANSPORT', 'the connection to the Controller failed', {
          cause: e,
          details: { reason: 'connection' },
        }),
      ),
    );
    socket.on('end', () =>
      fail(
        new AirlockError('ERR_DPP_AUTH', 'the Controller closed the connection', {
          details: { reason: 'closed' },
        }),
      ),
    );
    socket.on('close', () =>
      fail(
        new AirlockError('ERR_DPP_AUTH', 'the Controller closed the connection', {
          details: { reason: 'closed' },
        }),
      ),
    );
  });
}
