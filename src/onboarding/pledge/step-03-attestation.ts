/**
 * Steps 2 and 3 (NIST IR 8350 Figure 9): over the onboarding channel, still provisional, the
 * device signs what its boot measured (step 1) into a token whose nonce is keying material of
 * that very TLS session (docs/ATTESTATION.md, "The nonce"), and sends it. The registrar
 * derives the same nonce and has the verifier appraise the token for it. The registrar's answer
 * is whether the device may go on; a refusal is thrown (ERR_ATTESTATION_REFUSED, or
 * ERR_POLICY_DENIED) and the device stops.
 *
 * Optional on both sides: a device with nothing to attest with sends nothing, and a registrar
 * that takes no attestation (another BRSKI registrar, or a network with no verifier) answers
 * 404, after which the device goes on without (and the network's policy judges it as such).
 */
import { isAirlockError } from '../../core/errors.js';
import type { FirmwareMeasurement, MeasuredBoot, PledgeChannel } from '../../core/ports.js';
import { AttestationReply, attestationNonce, parseJson } from '../../protocols/airlock/messages.js';
import type { PledgeContext } from './context.js';
import type { PledgeIdentity } from './identity.js';
import { generateEvidence } from './step-01-attestation.js';

export interface Attested {
  /** The verifier's status, as the registrar relayed it. */
  status: string;
}

export async function attest(
  ctx: PledgeContext,
  channel: PledgeChannel,
  identity: Pick<PledgeIdentity, 'attestation'>,
  measurement: FirmwareMeasurement | undefined,
): Promise<Attested | undefined> {
  const a = identity.attestation;
  if (a.kind === 'none' || (a.kind === 'key' && !measurement)) return undefined;
  // The nonce is the channel's own (no challenge to ask for): a token made for this TLS session
  // proves nothing on any other, and is fresh because the session is.
  const nonce = attestationNonce(channel);
  const evidence = generateEvidence(ctx, identity, measurement, nonce);
  if (!evidence) return undefined;
  let text: string;
  try {
    text = (
      await channel.call('POST', '/.well-known/airlock/attestation', {
        body: evidence.token,
        contentType: evidence.mediaType,
      })
    ).body;
  } catch (e) {
    if (isAirlockError(e) && (e.code === 'ERR_NOT_FOUND' || e.details.status === 404))
      return undefined;
    throw e;
  }
  const reply = parseJson(text, AttestationReply);
  return { status: reply.status };
}

/**
 * Step 1: the measured boot, before the device contacts anyone; undefined when the device
 * cannot attest (no attestation key, or nothing measured its firmware).
 */
export async function measuredBoot(
  identity: Pick<PledgeIdentity, 'attestation'>,
  boot: MeasuredBoot | undefined,
): Promise<FirmwareMeasurement | undefined> {
  return identity.attestation.kind === 'key' && boot ? boot.measure() : undefined;
}
