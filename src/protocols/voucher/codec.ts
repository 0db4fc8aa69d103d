/**
 * Voucher and voucher-request artifacts in every signed format, behind one API:
 *
 * - `application/voucher-jws+json` (draft-ietf-anima-jws-voucher): signed in the General JWS
 *   JSON Serialization with one signature, ES256, `typ: voucher-jws+json`, the signer chain in
 *   `x5c`, all in the protected header; read in any of the three JWS serializations
 *   (jws/json.ts). More than one signature is refused (ERR_JWS_MALFORMED).
 * - `application/voucher-cms+json` (RFC 8366 section 5.1, RFC 8995): CMS SignedData, DER,
 *   eContentType id-ct-animaJSONVoucher (1.2.840.113549.1.9.16.1.40), the JSON encapsulated,
 *   signed attributes contentType, messageDigest, signingTime, the signer named by
 *   issuerAndSerialNumber, ecdsa-with-SHA256, the signer chain in `certificates`
 *   (cms/signed-data.ts). Read: DER, or base64 text of the DER (some implementations send
 *   that); eContentType id-animaJSONVoucher or id-data (every CMS voucher in the corpus, from
 *   anima-wg/voucher and fountain, uses id-data); ECDSA on any curve or RSA, SHA-2.
 * - `application/voucher-cose+cbor` (draft-ietf-anima-constrained-voucher): COSE_Sign1, ES256,
 *   SID-keyed CBOR (cose/). Read and verified only: Airlock's MASA does not issue constrained
 *   vouchers, so signing one is ERR_VOUCHER_FORMAT (HTTP 406, the Accept cannot be met).
 *
 * `decodeVoucherArtifact` parses and returns the JSON form and the certificates the artifact
 * carries; it checks no signature and trusts nothing. `verify(crypto, spki)` checks the
 * signature against a key the caller has decided to trust (usually `signerChain[0]` after
 * path validation with an injected clock); schema and semantics are voucher.ts's.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64, fromUtf8, toBase64, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import {
  ID_CT_ANIMA_JSON_VOUCHER,
  OID_DATA_CONTENT,
  decodeSignedData,
  signSignedData,
  verifySignedData,
} from '../cms/signed-data.js';
import { decodeItem, decodeSign1, verifySign1 } from '../cose/sign1.js';
import { cborVoucherToJson } from '../cose/voucher-sid.js';
import { payloadJson, verifyCompact, type DecodedJws } from '../jws/compact.js';
import { decodeJws, signGeneral } from '../jws/json.js';
import { parseStrictJson } from '../json/strict.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';

/** The `typ` of a JWS voucher or voucher request (draft-ietf-anima-jws-voucher). */
export const VOUCHER_JWS_TYP = 'voucher-jws+json';
export const VOUCHER_JWS_MEDIA_TYPE = 'application/voucher-jws+json';
export const VOUCHER_CMS_MEDIA_TYPE = 'application/voucher-cms+json';
export const VOUCHER_COSE_MEDIA_TYPE = 'application/voucher-cose+cbor';
export type VoucherMediaType =
  typeof VOUCHER_JWS_MEDIA_TYPE | typeof VOUCHER_CMS_MEDIA_TYPE | typeof VOUCHER_COSE_MEDIA_TYPE;
export const VOUCHER_MEDIA_TYPES: readonly VoucherMediaType[] = [
  VOUCHER_JWS_MEDIA_TYPE,
  VOUCHER_CMS_MEDIA_TYPE,
  VOUCHER_COSE_MEDIA_TYPE,
];
export { ID_CT_ANIMA_JSON_VOUCHER };

/** The media type in a Content-Type or Accept value (parameters dropped), or ERR_INPUT_MEDIA_TYPE. */
export function parseVoucherMediaType(value: string): VoucherMediaType {
  const type = value.split(';')[0]!.trim().toLowerCase();
  const found = VOUCHER_MEDIA_TYPES.find((t) => t === type);
  if (!found) throw new AirlockError('ERR_INPUT_MEDIA_TYPE', type.slice(0, 80));
  return found;
}

/** A signed voucher or voucher request as it travels: its media type and its exact bytes. */
export interface EncodedVoucher {
  readonly mediaType: VoucherMediaType;
  readonly bytes: Uint8Array;
}

/**
 * The format a reply is given in (RFC 9110 section 12.5.1): the first media type of `accept`
 * that Airlock can sign, in the client's order of preference (q-values honoured); no Accept,
 * or a wildcard, means `fallback` (the request's own format). Only types it cannot sign:
 * ERR_VOUCHER_FORMAT (406).
 */
export function negotiateVoucherFormat(
  accept: string | undefined,
  fallback: VoucherMediaType,
): VoucherMediaType {
  if (accept === undefined || accept.trim() === '') return fallback;
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      return { type: type ?? '', q: q ? Number(q.slice(2)) : 1, i };
    })
    .filter((r) => r.type !== '' && !(r.q <= 0))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    if (r.type === '*/*' || r.type === 'application/*') return fallback;
    if (SIGNABLE.includes(r.type as VoucherMediaType)) return r.type as VoucherMediaType;
  }
  throw new AirlockError('ERR_VOUCHER_FORMAT', `cannot answer in ${accept.slice(0, 120)}`);
}

export interface VoucherArtifact {
  readonly mediaType: VoucherMediaType;
  readonly bytes: Uint8Array;
  /** The voucher or voucher request in its JSON form (`{"ietf-voucher:voucher": {...}}`), not schema-checked. */
  readonly json: unknown;
  /** The certificates the artifact carries, signer first where the format says which it is. */
  readonly signerChain: readonly Certificate[];
  /** Throws ERR_JWS_SIGNATURE / ERR_CMS_SIGNATURE / ERR_COSE_SIGNATURE unless the signature verifies with `spki`. */
  verify(crypto: Crypto, spki: Uint8Array): void;
  /** The decoded JWS, for a JWS artifact (its header says more than the JSON does). */
  readonly jws?: DecodedJws;
}

/**
 * Signs a voucher or voucher request (`json` is the whole `{"ietf-voucher:voucher": ...}`
 * object). `signingTime` (CMS only) defaults to the voucher's created-on.
 */
/** The formats Airlock signs: JWS and CMS (COSE is read only). */
export const SIGNABLE: readonly VoucherMediaType[] = [
  VOUCHER_JWS_MEDIA_TYPE,
  VOUCHER_CMS_MEDIA_TYPE,
];

export function signVoucherArtifact(
  crypto: Crypto,
  format: VoucherMediaType,
  key: PrivateKeyHandle,
  signerChain: readonly Certificate[],
  json: object,
  signingTime?: Date,
): Uint8Array {
  if (signerChain.length === 0)
    throw new AirlockError('ERR_INTERNAL', 'a voucher is signed with its signer certificate');
  switch (format) {
    case VOUCHER_JWS_MEDIA_TYPE:
      return utf8(
        signGeneral(
          crypto,
          key,
          { alg: 'ES256', typ: VOUCHER_JWS_TYP, x5c: signerChain.map((c) => toBase64(c.der)) },
          json,
        ),
      );
    case VOUCHER_CMS_MEDIA_TYPE:
      return signSignedData(crypto, key, {
        eContentType: ID_CT_ANIMA_JSON_VOUCHER,
        content: utf8(JSON.stringify(json)),
        signerChain,
        signingTime: signingTime ?? createdOn(json) ?? new Date(),
      });
    default:
      throw new AirlockError('ERR_VOUCHER_FORMAT', `Airlock does not sign ${String(format)}`);
  }
}

export function decodeVoucherArtifact(
  bytes: Uint8Array,
  mediaType: VoucherMediaType,
): VoucherArtifact {
  switch (mediaType) {
    case VOUCHER_JWS_MEDIA_TYPE: {
      const jws = decodeJws(bytes);
      const json = payloadJson(jws);
      const signerChain = (jws.header.x5c ?? []).map(parseCertificateBase64);
      return {
        mediaType,
        bytes,
        json,
        signerChain,
        verify: (crypto, spki) => verifyCompact(crypto, jws, spki),
        jws,
      };
    }
    case VOUCHER_CMS_MEDIA_TYPE: {
      const sd = decodeSignedData(cmsDer(bytes));
      if (sd.eContentType !== ID_CT_ANIMA_JSON_VOUCHER && sd.eContentType !== OID_DATA_CONTENT) {
        throw new AirlockError(
          'ERR_CMS_MALFORMED',
          `eContentType ${sd.eContentType} is not a JSON voucher`,
        );
      }
      let text: string;
      try {
        text = fromUtf8(sd.content);
      } catch (cause) {
        throw new AirlockError('ERR_CMS_MALFORMED', 'the content is not UTF-8', { cause });
      }
      const json = parseStrictJson(text, 'ERR_CMS_MALFORMED', 'the content');
      return {
        mediaType,
        bytes,
        json,
        signerChain: sd.signerChain,
        verify: (crypto, spki) => verifySignedData(crypto, sd, spki),
      };
    }
    case VOUCHER_COSE_MEDIA_TYPE: {
      const s = decodeSign1(bytes);
      const { json } = cborVoucherToJson(decodeItem(s.payload));
      return {
        mediaType,
        bytes,
        json,
        signerChain: s.certificates,
        verify: (crypto, spki) => verifySign1(crypto, s, spki),
      };
    }
    default:
      throw new AirlockError('ERR_VOUCHER_FORMAT', String(mediaType).slice(0, 80));
  }
}

/** DER as is; base64 text of DER (white space allowed) decoded. */
function cmsDer(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === 0x30) return bytes;
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch (cause) {
    throw new AirlockError('ERR_CMS_MALFORMED', 'neither DER nor base64', { cause });
  }
  const der = fromBase64(text.trim());
  if (!der || der[0] !== 0x30)
    throw new AirlockError('ERR_CMS_MALFORMED', 'neither DER nor base64');
  return der;
}

function createdOn(json: object): Date | undefined {
  const body = Object.values(json)[0] as Record<string, unknown> | undefined;
  const v = body?.['created-on'];
  const d = typeof v === 'string' ? new Date(v) : undefined;
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}
