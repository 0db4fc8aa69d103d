/**
 * Step 5 (NIST IR 8350 Figure 9): trusted introduction, the voucher exchange (RFC 8995
 * sections 5.2-5.6). The pledge signs a voucher request naming the registrar certificate it
 * sees on the provisional channel, with a fresh nonce, and accepts only a voucher signed under
 * its manufacturer's MASA anchor, for this device and this nonce. The voucher pins the domain
 * certificate that step 9 authenticates the registrar against.
 */
import { toBase64 } from '../../core/bytes.js';
import type { PledgeChannel } from '../../core/ports.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { signPledgeVoucherRequest } from '../../protocols/voucher/pledge-voucher-request.js';
import {
  verifyVoucher,
  type VerifiedVoucher,
  type VoucherPolicy,
} from '../../protocols/voucher/voucher.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../protocols/voucher/schema.js';
import { ATTESTATION_STATUS_FIELD } from '../../protocols/airlock/messages.js';
import type { PledgeContext } from './context.js';
import type { PledgeIdentity } from './identity.js';

export interface TrustedIntroduction {
  /** The registrar's certificate as the provisional channel presented it: judged in step 9. */
  readonly registrarCert: Certificate;
  /** The nonce of the voucher request; step 7's status proof repeats it. */
  readonly nonce: string;
  readonly voucher: VerifiedVoucher;
  /**
   * The pinned domain certificate: the domain CA, or (RFC 8995 section 5.5, a registrar that
   * sent only its own certificate) the registrar certificate itself. It names the network owner.
   */
  readonly pinned: Certificate;
  /**
   * The verifier's status when the registrar appraised the evidence sent with the request
   * (steps 3 and 4); undefined when none was sent, or the registrar took none.
   */
  readonly attestation: string | undefined;
}

/** `evidence`: the header fields of step 3 (evidenceFields), sent with the voucher request. */
export async function trustedIntroduction(
  ctx: PledgeContext,
  channel: PledgeChannel,
  identity: PledgeIdentity,
  policy: Partial<VoucherPolicy>,
  evidence?: Readonly<Record<string, string>>,
): Promise<TrustedIntroduction> {
  const { crypto, clock } = ctx;
  const registrarCert = parseCertificate(channel.peerCertificate());
  const nonce = toBase64(crypto.bytes(16));
  const pvr = signPledgeVoucherRequest(crypto, identity.idevidKey, identity.idevid, {
    serialNumber: identity.serialNumber,
    nonce,
    createdOn: clock.now(),
    proximityRegistrarCert: registrarCert.der,
  });
  const answer = await channel.call('POST', '/.well-known/brski/requestvoucher', {
    body: pvr,
    contentType: VOUCHER_JWS_MEDIA_TYPE,
    accept: VOUCHER_JWS_MEDIA_TYPE,
    ...(evidence ? { headers: evidence } : {}),
  });
  const voucher = verifyVoucher(crypto, answer.body, {
    masaAnchors: identity.masaAnchors,
    serialNumber: identity.serialNumber,
    nonce,
    at: clock.now(),
    idevid: identity.idevid,
    policy,
  });
  // Said, not proved (the answer comes before the registrar is judged): a journal entry only.
  const status = evidence ? answer.headers?.get(ATTESTATION_STATUS_FIELD) : undefined;
  return {
    registrarCert,
    nonce,
    voucher,
    pinned: voucher.pinnedDomainCert,
    attestation: status,
  };
}
