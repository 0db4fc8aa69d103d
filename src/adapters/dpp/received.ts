/**
 * What an Enrollee makes of a Configuration Response, whichever side initiated: the first
 * Configuration Object it can use (sta-psk, sta-sae, or a sta-dpp Connector verified with the
 * C-sign key the object carries and naming its own protocol key), as tcp-enrollee.ts (the
 * Enrollee initiating) and tcp-responder.ts (the Enrollee listening) both return it. sta-dot1x
 * needs a certificate request this Enrollee does not make yet: such an object is not usable.
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import type { DppSession } from '../../protocols/dpp/authentication.js';
import { DppStatus } from '../../protocols/dpp/common.js';
import {
  buildConfigurationResult,
  readConfigurationResponse,
  type DppConfigurationObject,
  type DppConfigurationReceived,
  type DppEnrollment,
} from '../../protocols/dpp/enrollment.js';
import type { DppActionFrame, DppMessage } from '../../protocols/dpp/frames.js';

/** A Configuration Object this Enrollee can use. */
export type UsableConfigurationObject = Exclude<
  DppConfigurationObject,
  { kind: 'unsupported' } | { kind: 'sta-dot1x' }
>;

export interface DppEnrolleeResult {
  /** Mutual authentication: the Configurator proved it knows our bootstrapping key. */
  mutual: boolean;
  /** The Configuration Objects received (secret: the passphrase is here). */
  objects: DppConfigurationObject[];
  /** The first object this Enrollee can use. */
  configuration: UsableConfigurationObject;
  /** That object's network when it is sta-psk or sta-sae (secret). */
  network?: { ssid: string; passphrase?: string; pskHex?: string };
  /**
   * With a Connector: the private scalar of the netAccessKey it names (our protocol key of
   * this exchange), which a DPP network admits. Secret.
   */
  netAccessKey?: Uint8Array;
}

/**
 * Reads the Response (Connectors verified at `now`) and gives what it received, and the
 * result to keep when something in it is usable.
 */
export function receiveConfiguration(
  crypto: Crypto,
  session: DppSession,
  enrollment: DppEnrollment,
  message: DppMessage,
  now: Date,
): { received: DppConfigurationReceived; result?: DppEnrolleeResult } {
  const received = readConfigurationResponse(session, enrollment, message, { crypto, now });
  const usable = received.objects.find(
    (o): o is UsableConfigurationObject => o.kind !== 'unsupported' && o.kind !== 'sta-dot1x',
  );
  if (!usable) return { received };
  const legacy = usable.kind === 'sta-psk' || usable.kind === 'sta-sae' ? usable : undefined;
  return {
    received,
    result: {
      mutual: session.mutual,
      objects: received.objects,
      configuration: usable,
      ...(legacy
        ? {
            network: {
              ssid: legacy.ssid,
              ...(legacy.passphrase !== undefined ? { passphrase: legacy.passphrase } : {}),
              ...('pskHex' in legacy && legacy.pskHex !== undefined
                ? { pskHex: legacy.pskHex }
                : {}),
            },
          }
        : {}),
      ...(usable.kind === 'sta-dpp' && session.enrolleeProtocolPrivateKey
        ? { netAccessKey: session.enrolleeProtocolPrivateKey }
        : {}),
    },
  };
}

/**
 * What the Enrollee does with a Configuration Response, as hostap does: after a failure status,
 * nothing goes back (`refused`, ERR_DPP_AUTH `configure-failure`). Else, to a Configurator that
 * spoke DPP 2 or more, a Configuration Result (`reply`): OK when `take` took the first usable
 * configuration, Config Rejected when nothing usable came (`no-usable-configuration`) or `take`
 * declined it (`already-configured`).
 */
export function answerConfigurationResponse(
  crypto: Crypto,
  { session, enrollment }: { session: DppSession; enrollment: DppEnrollment },
  message: DppMessage,
  take: (result: DppEnrolleeResult) => boolean,
):
  | { refused: AirlockError }
  | { reply?: DppActionFrame; taken: DppEnrolleeResult }
  | { reply?: DppActionFrame; rejected: AirlockError } {
  const { received, result } = receiveConfiguration(
    crypto,
    session,
    enrollment,
    message,
    new Date(),
  );
  if (received.status !== DppStatus.OK)
    return {
      refused: rejection(
        'configure-failure',
        `the Configurator answered status ${received.status}`,
      ),
    };
  const taken = result !== undefined && take(result);
  const status = taken ? DppStatus.OK : DppStatus.CONFIG_REJECTED;
  const reply =
    session.peerVersion >= 2
      ? { reply: buildConfigurationResult(session, enrollment, status) }
      : {};
  if (taken) return { ...reply, taken: result };
  return {
    ...reply,
    rejected: result
      ? rejection('already-configured', 'another exchange configured this Enrollee first')
      : rejection(
          'no-usable-configuration',
          'no Configuration Object this Enrollee can use (sta-psk, sta-sae, sta-dpp)',
        ),
  };
}

function rejection(reason: string, detail: string): AirlockError {
  return new AirlockError('ERR_DPP_AUTH', detail, { details: { reason } });
}
