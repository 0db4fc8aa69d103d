/**
 * The voucher (RFC 8366bis): issued and signed by the MASA, verified by the pledge, which
 * then trusts the pinned domain CA (RFC 8995 section 5.6.1).
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { signCompact, verifyCompact } from '../jws/compact.js';
import { verifyChain } from '../x509/chain.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';
import { decodeVoucher, type SignedArtifact } from './artifact.js';
import type { VoucherBody } from './schema.js';

export interface VoucherInput {
  serialNumber: string;
  nonce: string;
  pinnedDomainCert: Certificate;
  createdOn: Date;
  expiresOn?: Date;
  assertion: 'verified' | 'logged' | 'proximity';
  idevidIssuer?: Uint8Array;
}

export function signVoucher(crypto: Crypto, masaKey: PrivateKeyHandle, masaChain: readonly Certificate[], input: VoucherInput): string {
  const body: VoucherBody = {
    'created-on': input.createdOn.toISOString(),
    ...(input.expiresOn ? { 'expires-on': input.expiresOn.toISOString() } : {}),
    assertion: input.assertion,
    'serial-number': input.serialNumber,
    ...(input.idevidIssuer ? { 'idevid-issuer': toBase64(input.idevidIssuer) } : {}),
    'pinned-domain-cert': toBase64(input.pinnedDomainCert.der),
    'domain-cert-revocation-checks': false,
    nonce: input.nonce,
  };
  return signCompact(crypto, masaKey, { alg: 'ES256', typ: 'voucher-jws+json', x5c: masaChain.map((c) => toBase64(c.der)) }, { 'ietf-voucher:voucher': body });
}

export interface VerifiedVoucher {
  readonly artifact: SignedArtifact<VoucherBody>;
  readonly pinnedDomainCert: Certificate;
}

/**
 * Pledge side: the voucher is signed by a key that chains to the manufacturer's MASA CA (not
 * merely to its root, under which birth keys live too), is for this device and this request's
 * nonce, and has not expired.
 */
export function verifyVoucher(
  crypto: Crypto,
  text: string,
  ctx: { masaAnchors: readonly Certificate[]; serialNumber: string; nonce: string; at: Date },
): VerifiedVoucher {
  const artifact = decodeVoucher(text);
  const signer = artifact.signerChain[0]!;
  try {
    verifyChain(crypto, { leaf: signer, intermediates: artifact.signerChain.slice(1), anchors: ctx.masaAnchors, at: ctx.at });
  } catch (cause) {
    throw new AirlockError('ERR_VOUCHER_SIGNER_UNTRUSTED', undefined, { cause });
  }
  verifyCompact(crypto, artifact.jws, signer.spki);
  const v = artifact.body;
  ensure(v['serial-number'] === ctx.serialNumber, 'ERR_VOUCHER_SERIAL_MISMATCH');
  ensure(v.nonce === ctx.nonce, 'ERR_VOUCHER_NONCE_MISMATCH');
  const expires = v['expires-on'];
  if (expires !== undefined && new Date(expires) < ctx.at) throw new AirlockError('ERR_VOUCHER_EXPIRED', `expired ${expires}`);
  ensure(v['pinned-domain-cert'], 'ERR_VOUCHER_MALFORMED', 'Airlock requires pinned-domain-cert');
  return { artifact, pinnedDomainCert: parseCertificateBase64(v['pinned-domain-cert']) };
}
