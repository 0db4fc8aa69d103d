/**
 * Decoding signed voucher artifacts in any format (codec.ts: JWS in its three serializations,
 * CMS, COSE): the schema-checked JSON body, the signer certificate chain the artifact carries,
 * and a `verify` of its signature. Who may have signed it is the caller's (voucher.ts,
 * pledge-voucher-request.ts, registrar-voucher-request.ts).
 */
import type { z } from 'zod';
import { AirlockError, type ErrorCode } from '../../core/errors.js';
import { checked } from '../schema.js';
import { utf8 } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import type { DecodedJws } from '../jws/compact.js';
import type { Certificate } from '../x509/certificate.js';
import {
  VOUCHER_JWS_MEDIA_TYPE,
  VOUCHER_JWS_TYP,
  decodeVoucherArtifact,
  type VoucherMediaType,
} from './codec.js';
import { Voucher, VoucherRequest } from './schema.js';

export { VOUCHER_JWS_TYP };

export interface SignedArtifact<T> {
  readonly mediaType: VoucherMediaType;
  /** The artifact's exact bytes (for JWS, the UTF-8 of its text). */
  readonly bytes: Uint8Array;
  readonly body: T;
  /** The certificates the artifact carries, signer first. */
  readonly signerChain: Certificate[];
  /** Throws the format's ERR_*_SIGNATURE unless the signature verifies with `spki`. */
  verify(crypto: Crypto, spki: Uint8Array): void;
  /** The decoded JWS, for a JWS artifact. */
  readonly jws?: DecodedJws;
}

function decode<S extends z.ZodType>(
  input: string | Uint8Array,
  mediaType: VoucherMediaType,
  schema: S,
  code: ErrorCode,
): SignedArtifact<z.infer<S>> {
  const bytes = typeof input === 'string' ? utf8(input) : input;
  const a = decodeVoucherArtifact(bytes, mediaType);
  // Published vouchers often carry no typ; one that names another type is not a voucher.
  const typ = a.jws?.header.typ;
  if (typ !== undefined && typ !== VOUCHER_JWS_TYP)
    throw new AirlockError(code, `typ ${String(typ)}`);
  const body = checked(schema, a.json, code);
  if (a.signerChain.length === 0) throw new AirlockError(code, 'the signer certificate is missing');
  return {
    mediaType,
    bytes,
    body,
    signerChain: [...a.signerChain],
    verify: a.verify,
    ...(a.jws ? { jws: a.jws } : {}),
  };
}

export function decodeVoucher(
  input: string | Uint8Array,
  mediaType: VoucherMediaType = VOUCHER_JWS_MEDIA_TYPE,
): SignedArtifact<Voucher['ietf-voucher:voucher']> {
  const a = decode(input, mediaType, Voucher, 'ERR_VOUCHER_MALFORMED');
  return { ...a, body: a.body['ietf-voucher:voucher'] };
}

export function decodeVoucherRequest(
  input: string | Uint8Array,
  mediaType: VoucherMediaType = VOUCHER_JWS_MEDIA_TYPE,
): SignedArtifact<VoucherRequest['ietf-voucher-request:voucher']> {
  const a = decode(input, mediaType, VoucherRequest, 'ERR_VOUCHER_REQUEST_MALFORMED');
  return { ...a, body: a.body['ietf-voucher-request:voucher'] };
}
