/**
 * Step 1 (NIST IR 8350 Figure 9): the device's measured boot yields an attestation token. A
 * device with secure boot signs an EAT (RFC 9711, docs/ATTESTATION.md) over what its boot
 * measured of the firmware it runs, with the attestation key its manufacturer certified at
 * minting, fresh for this onboarding through the verifier's nonce. A device without secure
 * boot cannot attest: it carries the manufacturer's supply-chain evidence instead, made at
 * minting, and the network's policy decides what that is worth.
 */
import type { FirmwareMeasurement } from '../../core/ports.js';
import {
  AIRLOCK_DEVICE_PROFILE,
  deviceTokenMediaType,
  supplyChainMediaType,
  type AirlockDeviceClaims,
} from '../../protocols/eat/claims.js';
import { encodeMeasurement } from '../../protocols/eat/measured-component.js';
import { hwmodelOf, oemidOf, ueidOf } from '../../protocols/eat/identifiers.js';
import { signEat } from '../../protocols/eat/token.js';
import type { PledgeContext } from './context.js';
import type { PledgeIdentity } from './identity.js';

export interface Evidence {
  mediaType: string;
  token: string;
}

/**
 * The device's evidence for `nonce` (base64url): its own token when it has an attestation key
 * and a measurement, the manufacturer's supply-chain evidence when it has that, else none.
 */
export function generateEvidence(
  ctx: PledgeContext,
  identity: Pick<PledgeIdentity, 'attestation'>,
  measurement: FirmwareMeasurement | undefined,
  nonce: string,
): Evidence | undefined {
  const a = identity.attestation;
  if (a.kind === 'supply-chain') return { mediaType: supplyChainMediaType, token: a.evidence };
  if (a.kind === 'none' || !measurement) return undefined;
  const claims: AirlockDeviceClaims = {
    eat_profile: AIRLOCK_DEVICE_PROFILE,
    eat_nonce: nonce,
    ueid: ueidOf(ctx.crypto, a.chain[0]!.spki),
    oemid: oemidOf(a.manufacturerId),
    hwmodel: hwmodelOf(ctx.crypto, a.model),
    oemboot: true,
    dbgstat: measurement.debug,
    swname: measurement.name,
    swversion: [measurement.version],
    measurements: [
      encodeMeasurement({
        name: measurement.name,
        version: measurement.version,
        digest: measurement.digest,
      }),
    ],
    iat: Math.floor(ctx.clock.now().getTime() / 1000),
  };
  return { mediaType: deviceTokenMediaType, token: signEat(ctx.crypto, a.key, a.chain, claims) };
}
