/**
 * Steps 2 and 3 (NIST IR 8350 Figure 9): over the onboarding channel, still provisional, the
 * device signs what its boot measured (step 1) into a token whose nonce is keying material of
 * that very TLS session (docs/ATTESTATION.md, "The nonce"), and sends it with its voucher
 * request (step 5), in two header fields. The registrar derives the same nonce, has the
 * verifier appraise the token for it, and judges the result before it asks for a voucher: a
 * refusal is the voucher request's answer (ERR_ATTESTATION_REFUSED, or ERR_POLICY_DENIED), and
 * the device stops.
 *
 * Optional on both sides: a device with nothing to attest with sends no fields, and a
 * registrar that takes no attestation (another BRSKI registrar, or a network with no
 * verifier) ignores them and answers the voucher request alone, after which the device goes
 * on without (and the network's policy judges it as such).
 */
import type { FirmwareMeasurement, MeasuredBoot, PledgeChannel } from '../../core/ports.js';
import {
  EVIDENCE_FIELD,
  EVIDENCE_TYPE_FIELD,
  attestationNonce,
} from '../../protocols/airlock/messages.js';
import type { PledgeContext } from './context.js';
import type { PledgeIdentity } from './identity.js';
import { generateEvidence } from './step-01-attestation.js';

/**
 * The header fields that carry the device's evidence for this channel, or undefined when it
 * has none to send.
 */
export function evidenceFields(
  ctx: PledgeContext,
  channel: Pick<PledgeChannel, 'exporter'>,
  identity: Pick<PledgeIdentity, 'attestation'>,
  measurement: FirmwareMeasurement | undefined,
): Record<string, string> | undefined {
  const a = identity.attestation;
  if (a.kind === 'none' || (a.kind === 'key' && !measurement)) return undefined;
  // The nonce is the channel's own (no challenge to ask for): a token made for this TLS session
  // proves nothing on any other, and is fresh because the session is.
  const evidence = generateEvidence(ctx, identity, measurement, attestationNonce(channel));
  if (!evidence) return undefined;
  return { [EVIDENCE_TYPE_FIELD]: evidence.mediaType, [EVIDENCE_FIELD]: evidence.token };
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
