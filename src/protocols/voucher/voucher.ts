/**
 * The voucher (RFC 8366bis): issued and signed by the MASA, verified by the pledge (and first
 * by the registrar, RFC 8995 section 5.5.8), which then trusts the pinned domain certificate
 * (RFC 8995 section 5.6.1). Acceptance also reads `created-on`, `assertion` and
 * `idevid-issuer` against a stated policy (VoucherPolicy).
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { fromUtf8, toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { verifyChain } from '../x509/chain.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';
import { decodeVoucher, type SignedArtifact } from './artifact.js';
import { VOUCHER_JWS_MEDIA_TYPE, signVoucherArtifact, type VoucherMediaType } from './codec.js';
import { authorityKeyIdentifier, checkIdevidIssuer } from './idevid-issuer.js';
import type { Assertion, VoucherBody } from './schema.js';

/**
 * Airlock's ranking of RFC 8366bis assertions, weakest first. The RFC defines no order; this
 * one reads "how much the MASA vouches for": `logged` (the claim is only recorded) <
 * `proximity` (the MASA saw that the pledge named the very registrar that asked; RFC 8995
 * section 5.5.5) = `agent-proximity` (the same, through a registrar agent; RFC 9733) <
 * `verified` (ownership positively verified, e.g. through sales records). `none` stands for
 * a voucher with no assertion at all, and as a minimum accepts any voucher.
 */
export const ASSERTION_RANK = {
  none: 0,
  logged: 1,
  proximity: 2,
  'agent-proximity': 2,
  verified: 3,
} as const;
export type MinimumAssertion = 'none' | 'logged' | 'proximity' | 'verified';

export function meetsMinimumAssertion(
  assertion: Assertion | undefined,
  minimum: MinimumAssertion,
): boolean {
  return ASSERTION_RANK[assertion ?? 'none'] >= ASSERTION_RANK[minimum];
}

/** What a pledge or registrar requires of a voucher beyond its signature, device and nonce. */
export interface VoucherPolicy {
  /** The weakest assertion accepted. `logged` is what every standard MASA gives. */
  minimumAssertion: MinimumAssertion;
  /** How far in the future `created-on` may be, for the MASA's clock running ahead of ours. */
  clockSkewSeconds: number;
}

export const defaultVoucherPolicy: VoucherPolicy = {
  minimumAssertion: 'logged',
  clockSkewSeconds: 300,
};

/** `created-on` no later than `at` plus the allowed skew, else `code`. */
export function ensureNotFromFuture(
  createdOn: string | undefined,
  at: Date,
  skewSeconds: number,
  code: 'ERR_VOUCHER_NOT_YET_VALID' | 'ERR_VOUCHER_REQUEST_NOT_YET_VALID',
): void {
  if (createdOn === undefined) return;
  if (new Date(createdOn).getTime() > at.getTime() + skewSeconds * 1000)
    throw new AirlockError(code, `created-on ${createdOn}`);
}

export interface VoucherInput {
  serialNumber: string;
  nonce: string;
  /** The domain CA, or the registrar certificate when that is what policy pins (masa.ts). */
  pinnedDomainCert: Certificate;
  createdOn: Date;
  expiresOn?: Date;
  assertion: 'verified' | 'logged' | 'proximity';
  /** The keyIdentifier of the pledge IDevID's AuthorityKeyIdentifier. */
  idevidIssuer?: Uint8Array;
}

/** A JWS voucher (General JSON serialization), as text. */
export function signVoucher(
  crypto: Crypto,
  masaKey: PrivateKeyHandle,
  masaChain: readonly Certificate[],
  input: VoucherInput,
): string {
  return fromUtf8(signVoucherAs(crypto, VOUCHER_JWS_MEDIA_TYPE, masaKey, masaChain, input));
}

/** A voucher in `format` (JWS or CMS), signed by the MASA with its chain in the artifact. */
export function signVoucherAs(
  crypto: Crypto,
  format: VoucherMediaType,
  masaKey: PrivateKeyHandle,
  masaChain: readonly Certificate[],
  input: VoucherInput,
): Uint8Array {
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
  return signVoucherArtifact(
    crypto,
    format,
    masaKey,
    masaChain,
    { 'ietf-voucher:voucher': body },
    input.createdOn,
  );
}

export interface VerifiedVoucher {
  readonly artifact: SignedArtifact<VoucherBody>;
  readonly pinnedDomainCert: Certificate;
}

export interface VerifyVoucherContext {
  masaAnchors: readonly Certificate[];
  serialNumber: string;
  nonce: string;
  at: Date;
  /** The pledge's IDevID, as the verifier knows it: `idevid-issuer` is checked against it. */
  idevid?: Certificate | undefined;
  policy?: Partial<VoucherPolicy>;
  /** The voucher's format; JWS unless said. */
  mediaType?: VoucherMediaType;
}

/**
 * Pledge side: the voucher is signed by a key that chains to the manufacturer's MASA CA (not
 * merely to its root, under which birth keys live too), is for this device and this request's
 * nonce, was not created in the future (beyond the skew), has not expired, asserts at least
 * the minimum, and, when it names an `idevid-issuer`, names this IDevID's.
 */
export function verifyVoucher(
  crypto: Crypto,
  voucher: string | Uint8Array,
  ctx: VerifyVoucherContext,
): VerifiedVoucher {
  const policy = { ...defaultVoucherPolicy, ...ctx.policy };
  const artifact = decodeVoucher(voucher, ctx.mediaType);
  const signer = artifact.signerChain[0]!;
  try {
    verifyChain(crypto, {
      leaf: signer,
      intermediates: artifact.signerChain.slice(1),
      anchors: ctx.masaAnchors,
      at: ctx.at,
    });
  } catch (cause) {
    throw new AirlockError('ERR_VOUCHER_SIGNER_UNTRUSTED', undefined, { cause });
  }
  artifact.verify(crypto, signer.spki);
  const v = artifact.body;
  ensure(v['serial-number'] === ctx.serialNumber, 'ERR_VOUCHER_SERIAL_MISMATCH');
  ensure(v.nonce === ctx.nonce, 'ERR_VOUCHER_NONCE_MISMATCH');
  ensureNotFromFuture(
    v['created-on'],
    ctx.at,
    policy.clockSkewSeconds,
    'ERR_VOUCHER_NOT_YET_VALID',
  );
  const expires = v['expires-on'];
  if (expires !== undefined && new Date(expires) < ctx.at)
    throw new AirlockError('ERR_VOUCHER_EXPIRED', `expired ${expires}`);
  if (!meetsMinimumAssertion(v.assertion, policy.minimumAssertion))
    throw new AirlockError(
      'ERR_VOUCHER_ASSERTION',
      `${v.assertion ?? 'none'} < ${policy.minimumAssertion}`,
    );
  if (ctx.idevid) checkIdevidIssuer(v['idevid-issuer'], authorityKeyIdentifier(ctx.idevid));
  ensure(v['pinned-domain-cert'], 'ERR_VOUCHER_MALFORMED', 'Airlock requires pinned-domain-cert');
  return { artifact, pinnedDomainCert: parseCertificateBase64(v['pinned-domain-cert']) };
}
