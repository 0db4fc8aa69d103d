/**
 * Decoding JWS-signed voucher artifacts (`application/voucher-jws+json`): the JWS in any of
 * its three serializations (RFC 7515 section 7; draft-ietf-anima-jws-voucher signs the General
 * JSON one), its schema-checked payload, and its signer certificate chain from `x5c`.
 * Verification of who signed it is the caller's (verify-*.ts). Other formats: codec.ts.
 */
import type { z } from 'zod';
import { AirlockError, type ErrorCode } from '../../core/errors.js';
import { payloadJson, type DecodedJws } from '../jws/compact.js';
import { decodeJws } from '../jws/json.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';
import { Voucher, VoucherRequest } from './schema.js';

export const VOUCHER_JWS_TYP = 'voucher-jws+json';

export interface SignedArtifact<T> {
  readonly jws: DecodedJws;
  readonly body: T;
  /** The x5c chain, signer first. */
  readonly signerChain: Certificate[];
}

function decode<S extends z.ZodType>(text: string | Uint8Array, schema: S, code: ErrorCode): SignedArtifact<z.infer<S>> {
  const jws = decodeJws(text);
  const parsed = schema.safeParse(payloadJson(jws));
  if (!parsed.success) throw new AirlockError(code, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  if (!jws.header.x5c) throw new AirlockError(code, 'the signer certificate (x5c) is missing');
  // Published vouchers often carry no typ; one that names another type is not a voucher.
  if (jws.header.typ !== undefined && jws.header.typ !== VOUCHER_JWS_TYP) throw new AirlockError(code, `typ ${String(jws.header.typ)}`);
  return { jws, body: parsed.data, signerChain: jws.header.x5c.map(parseCertificateBase64) };
}

export function decodeVoucher(text: string | Uint8Array): SignedArtifact<Voucher['ietf-voucher:voucher']> {
  const a = decode(text, Voucher, 'ERR_VOUCHER_MALFORMED');
  return { ...a, body: a.body['ietf-voucher:voucher'] };
}

export function decodeVoucherRequest(text: string | Uint8Array): SignedArtifact<VoucherRequest['ietf-voucher-request:voucher']> {
  const a = decode(text, VoucherRequest, 'ERR_VOUCHER_REQUEST_MALFORMED');
  return { ...a, body: a.body['ietf-voucher-request:voucher'] };
}
