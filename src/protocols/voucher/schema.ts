/**
 * Vouchers and voucher requests in their JSON form: RFC 8366bis (ietf-voucher, revision
 * 2025-12-18) and RFC 8995 section 3 (ietf-voucher-request). One schema per message; the
 * TypeScript types are derived from them.
 */
import { z } from 'zod';

const dateTime = z.iso.datetime({ offset: true });
/** YANG `binary` in JSON: standard base64 (RFC 7951 section 6.6), not base64url. */
const binary = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
/** YANG booleans in JSON are true/false; some published examples quote them. */
const yangBoolean = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((s) => s === 'true'),
]);

export const Assertion = z.enum(['verified', 'logged', 'proximity', 'agent-proximity']);
export type Assertion = z.infer<typeof Assertion>;

export const VoucherBody = z.object({
  'created-on': dateTime,
  'expires-on': dateTime.optional(),
  assertion: Assertion.optional(),
  'serial-number': z.string().min(1).max(128),
  'idevid-issuer': binary.optional(),
  'pinned-domain-cert': binary.optional(),
  'pinned-domain-pubk': binary.optional(),
  'pinned-domain-pubk-sha256': binary.optional(),
  'domain-cert-revocation-checks': yangBoolean.optional(),
  nonce: binary.max(512).optional(),
  'last-renewal-date': dateTime.optional(),
  'est-domain': z.string().optional(),
  'additional-configuration-url': z.string().optional(),
  'manufacturer-proprietary': z.unknown().optional(),
});

export const Voucher = z.object({ 'ietf-voucher:voucher': VoucherBody });
export type Voucher = z.infer<typeof Voucher>;
export type VoucherBody = z.infer<typeof VoucherBody>;

export const VoucherRequestBody = z.object({
  'created-on': dateTime.optional(),
  'expires-on': dateTime.optional(),
  assertion: Assertion.optional(),
  'serial-number': z.string().min(1).max(128),
  'idevid-issuer': binary.optional(),
  'pinned-domain-cert': binary.optional(),
  'domain-cert-revocation-checks': yangBoolean.optional(),
  nonce: binary.max(512).optional(),
  'last-renewal-date': dateTime.optional(),
  'prior-signed-voucher-request': z.string().max(32_768).optional(),
  'proximity-registrar-cert': binary.max(16_384).optional(),
  'proximity-registrar-pubk': binary.optional(),
  'proximity-registrar-pubk-sha256': binary.optional(),
  'agent-signed-data': binary.optional(),
  'agent-provided-proximity-registrar-cert': binary.optional(),
  'agent-sign-cert': z.unknown().optional(),
});

export const VoucherRequest = z.object({ 'ietf-voucher-request:voucher': VoucherRequestBody });
export type VoucherRequest = z.infer<typeof VoucherRequest>;
export type VoucherRequestBody = z.infer<typeof VoucherRequestBody>;

/** RFC 8366bis section 8.1 / draft-ietf-anima-jws-voucher: the media type of a JWS voucher. */
export const VOUCHER_JWS_MEDIA_TYPE = 'application/voucher-jws+json';
