/**
 * The Configurator's answer to one Configuration Request, whichever side initiated (the
 * controller, tcp-controller.ts, or the Configurator that initiates, tcp-initiator.ts): a
 * certificate request the Request carries is verified first (bound to this exchange and to the
 * Enrollee's protocol key: configuration.ts verifyEnrolleeCsr) and one that fails is answered
 * CSR Bad without asking the caller; else the caller's `configuration` decides. CSR Needed is
 * given at most once per exchange: an Enrollee that asks again without one, or a caller that
 * asks for one when a request came, gets Configure Failure.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import type { DppSession } from '../../protocols/dpp/authentication.js';
import type { DppCurve } from '../../protocols/dpp/bootstrapping-key.js';
import { DppStatus } from '../../protocols/dpp/common.js';
import {
  buildConfigurationResponse,
  configurationAnswer,
  verifyEnrolleeCsr,
  type DppConfigurationGiven,
  type DppConfigurationRequest,
} from '../../protocols/dpp/configuration.js';
import type { GasInitialResponse } from '../../protocols/dpp/frames.js';
import type { VerifiedCsr } from '../../protocols/est/csr.js';

/** What the caller learns of the Enrollee for one Configuration Request. */
export interface DppConfigurationContext {
  /** Its protocol key of this exchange (uncompressed): the netAccessKey of a Connector. */
  protocolKey: { curve: DppCurve; point: Uint8Array };
  /** The certificate request its Configuration Request carried, verified. */
  csr?: VerifiedCsr;
}

export interface DppConfiguratorStep {
  response: GasInitialResponse;
  /** The DPP Status sent. */
  status: number;
  /** CSR Needed was sent: the Enrollee will ask again, with a certificate request. */
  csrNeeded: boolean;
  /** With CSR Bad: why the request was refused (`details.reason` of ERR_DPP_CSR). */
  csrBad?: string;
}

/**
 * Answers `request`. Returns undefined when the exchange ended while the caller decided
 * (`live()` false): nothing is to be sent.
 */
export async function answerConfigurationRequest(
  crypto: Crypto,
  session: DppSession,
  request: DppConfigurationRequest,
  o: {
    csrAsked: boolean;
    live: () => boolean;
    configuration: (context: DppConfigurationContext) => Promise<DppConfigurationGiven>;
  },
): Promise<DppConfiguratorStep | undefined> {
  let csr: VerifiedCsr | undefined;
  let csrBad: string | undefined;
  try {
    csr = verifyEnrolleeCsr(crypto, session, request);
  } catch (e) {
    if (!isAirlockError(e) || e.code !== 'ERR_DPP_CSR') throw e;
    const reason = e.details.reason;
    csrBad = typeof reason === 'string' ? reason : 'csr-bad';
  }
  const given: DppConfigurationGiven =
    csrBad !== undefined
      ? { status: 'csr-bad' }
      : await o.configuration({
          protocolKey: { curve: session.curve, point: session.enrolleeProtocolKey },
          ...(csr ? { csr } : {}),
        });
  if (!o.live()) return undefined;
  let answer = configurationAnswer(given);
  if (answer.status === 'csr-needed' && (o.csrAsked || csr))
    answer = { status: 'configure-failure' };
  const response = buildConfigurationResponse(session, request, answer);
  const status = response.query[0]!.value[0]!;
  return {
    response,
    status,
    csrNeeded: status === DppStatus.CSR_NEEDED,
    ...(csrBad !== undefined ? { csrBad } : {}),
  };
}

/**
 * The error that ends the exchange when `answered` gave no configuration (CSR Bad: ERR_DPP_CSR
 * with its reason; else ERR_DPP_AUTH `configure-failure`); undefined when it gave one.
 */
export function notConfigured(answered: DppConfiguratorStep): AirlockError | undefined {
  if (answered.status === DppStatus.OK) return undefined;
  return answered.csrBad !== undefined
    ? new AirlockError('ERR_DPP_CSR', "the Enrollee's certificate request was refused", {
        details: { reason: answered.csrBad },
      })
    : new AirlockError('ERR_DPP_AUTH', 'there was no configuration for this Enrollee', {
        details: { reason: 'configure-failure' },
      });
}
