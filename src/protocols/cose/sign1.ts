/**
 * COSE_Sign1 (RFC 9052 section 4.2), verification only, as constrained vouchers use it
 * (draft-ietf-anima-constrained-voucher, `application/voucher-cose+cbor`): ES256 (alg -7,
 * RFC 9053 section 2.1), r || s signatures, the Sig_structure
 * ["Signature1", body_protected, external_aad = h'', payload] (section 4.4), and the signer's
 * certificates in x5bag (32) or x5chain (33) (RFC 9360).
 *
 * Two tolerances, both for the fountain (minerva) corpus and both visible in `legacy`: a
 * protected header with no alg (then ES256, the only algorithm accepted anyway), and a payload
 * that is a CBOR map instead of a byte string; the Sig_structure then carries the map's bytes
 * as they are, which is how those signatures were made.
 */
import { Decoder, Encoder } from 'cbor-x';
import { AirlockError } from '../../core/errors.js';
import { concatBytes, toHex } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { parseCertificate, type Certificate } from '../x509/certificate.js';

const MALFORMED = 'ERR_COSE_MALFORMED';
const TAG_SIGN1 = 18;
const ALG = 1;
const ES256 = -7;
const X5BAG = 32;
const X5CHAIN = 33;
const MAX_BYTES = 64 * 1024;

const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });
const encoder = new Encoder({ tagUint8Array: false, useRecords: false, mapsAsObjects: false });

export interface DecodedSign1 {
  readonly bytes: Uint8Array;
  /** The protected header bucket as it came (a byte string, perhaps empty). */
  readonly protectedBytes: Uint8Array;
  readonly protectedHeader: ReadonlyMap<unknown, unknown>;
  readonly unprotectedHeader: ReadonlyMap<unknown, unknown>;
  /** The payload's bytes: the byte string's contents, or (legacy) the encoded map. */
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
  /** Certificates from x5bag/x5chain, in order (x5chain: signer first). */
  readonly certificates: readonly Certificate[];
  /** The Sig_structure the signature covers. */
  readonly toBeSigned: Uint8Array;
  readonly legacy: { readonly noAlg: boolean; readonly mapPayload: boolean };
}

export function decodeSign1(bytes: Uint8Array): DecodedSign1 {
  if (bytes.length === 0 || bytes.length > MAX_BYTES) throw new AirlockError(MALFORMED, 'size');
  let p = 0;
  if (bytes[0] === 0xc0 + TAG_SIGN1) p = 1; // tag 18; untagged is allowed where the media type says what it is
  if (bytes[p] !== 0x84) throw new AirlockError(MALFORMED, 'not a four-element COSE_Sign1 array');
  const starts: number[] = [];
  let q = p + 1;
  for (let i = 0; i < 4; i++) {
    starts.push(q);
    q = itemEnd(bytes, q, 0);
  }
  if (q !== bytes.length) throw new AirlockError(MALFORMED, 'trailing bytes');
  starts.push(q);
  const raw = (i: number) => bytes.subarray(starts[i]!, starts[i + 1]!);
  const [prot, unprot, payloadItem, sig] = [0, 1, 2, 3].map((i) => decodeItem(raw(i)));

  if (!(prot instanceof Uint8Array))
    throw new AirlockError(MALFORMED, 'the protected header is not a byte string');
  const protectedHeader = prot.length === 0 ? new Map() : decodeItem(prot);
  if (!(protectedHeader instanceof Map))
    throw new AirlockError(MALFORMED, 'the protected header is not a map');
  if (!(unprot instanceof Map))
    throw new AirlockError(MALFORMED, 'the unprotected header is not a map');
  for (const label of unprot.keys()) {
    if (protectedHeader.has(label))
      throw new AirlockError(MALFORMED, `header label ${String(label)} is in both buckets`);
  }
  if (unprot.has(ALG)) throw new AirlockError(MALFORMED, 'alg must be protected');
  const alg: unknown = protectedHeader.get(ALG);
  if (alg !== undefined && alg !== ES256)
    throw new AirlockError(MALFORMED, `alg ${String(alg)} is not accepted`);
  if (protectedHeader.has(2))
    throw new AirlockError(MALFORMED, 'critical header parameters are not understood');

  let payload: Uint8Array;
  let mapPayload = false;
  if (payloadItem instanceof Uint8Array) payload = payloadItem;
  else if (payloadItem instanceof Map) {
    payload = raw(2);
    mapPayload = true;
  } else throw new AirlockError(MALFORMED, 'the payload is missing or detached');
  if (!(sig instanceof Uint8Array) || sig.length !== 64)
    throw new AirlockError(MALFORMED, 'an ES256 signature has 64 bytes');

  const certificates = [
    ...certs(protectedHeader.get(X5CHAIN) ?? unprot.get(X5CHAIN)),
    ...certs(protectedHeader.get(X5BAG) ?? unprot.get(X5BAG)),
  ];
  const head = encoder.encode(['Signature1', prot, new Uint8Array(0)]) as Uint8Array;
  const toBeSigned = mapPayload
    ? concatBytes(new Uint8Array([0x84]), head.subarray(1), payload)
    : new Uint8Array(
        encoder.encode(['Signature1', prot, new Uint8Array(0), payload]) as Uint8Array,
      );
  return {
    bytes,
    protectedBytes: prot,
    protectedHeader,
    unprotectedHeader: unprot,
    payload,
    signature: sig,
    certificates,
    toBeSigned,
    legacy: { noAlg: alg === undefined, mapPayload },
  };
}

/** Verifies the ES256 signature with `spki` (DER SubjectPublicKeyInfo). */
export function verifySign1(crypto: Crypto, s: DecodedSign1, spki: Uint8Array): void {
  if (!crypto.verifySignature(spki, 'sha256', s.toBeSigned, s.signature, 'p1363'))
    throw new AirlockError('ERR_COSE_SIGNATURE');
}

/** Decodes one CBOR data item (the whole of `bytes`): definite lengths, no map key twice. */
export function decodeItem(bytes: Uint8Array): unknown {
  if (itemEnd(bytes, 0, 0) !== bytes.length) throw new AirlockError(MALFORMED, 'trailing bytes');
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new AirlockError(MALFORMED, 'not CBOR', { cause });
  }
}

/** A map key as the decoder sees it (1 and its longer encodings are one key), else its bytes. */
function keyOf(encoded: Uint8Array): string {
  let v: unknown;
  try {
    v = decoder.decode(encoded);
  } catch (cause) {
    throw new AirlockError(MALFORMED, 'not CBOR', { cause });
  }
  return typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string'
    ? `${typeof v}:${String(v)}`
    : `bytes:${toHex(encoded)}`;
}

function certs(v: unknown): Certificate[] {
  if (v === undefined) return [];
  const list = v instanceof Uint8Array ? [v] : Array.isArray(v) ? v : undefined;
  if (!list || list.length === 0 || !list.every((c) => c instanceof Uint8Array))
    throw new AirlockError(MALFORMED, 'x5bag/x5chain must be certificates');
  return (list as Uint8Array[]).map((c) => parseCertificate(new Uint8Array(c)));
}

/**
 * The offset just past the CBOR data item at `p` (RFC 8949 section 3): definite lengths only,
 * as COSE requires deterministic encoding of what is signed.
 */
function itemEnd(b: Uint8Array, p: number, depth: number): number {
  if (depth > 32) throw new AirlockError(MALFORMED, 'nested too deep');
  const ib = b[p];
  if (ib === undefined) throw new AirlockError(MALFORMED, 'truncated');
  const major = ib >> 5;
  const info = ib & 31;
  let q = p + 1;
  let n: number;
  if (info < 24) n = info;
  else if (info <= 27) {
    const size = 1 << (info - 24);
    if (q + size > b.length) throw new AirlockError(MALFORMED, 'truncated');
    n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + b[q + i]!;
    q += size;
  } else throw new AirlockError(MALFORMED, 'indefinite lengths are not accepted');
  let end: number;
  switch (major) {
    case 0:
    case 1:
    case 7:
      end = q;
      break;
    case 2:
    case 3:
      end = q + n;
      break;
    case 4:
      end = q;
      for (let i = 0; i < n; i++) end = itemEnd(b, end, depth + 1);
      break;
    case 5: {
      // A key twice would mean what the decoder's last-one-wins makes of it: refused, as in JSON.
      const keys = new Set<string>();
      end = q;
      for (let i = 0; i < n; i++) {
        const keyStart = end;
        end = itemEnd(b, end, depth + 1);
        const key = keyOf(b.subarray(keyStart, end));
        if (keys.has(key)) throw new AirlockError(MALFORMED, 'a map key appears twice');
        keys.add(key);
        end = itemEnd(b, end, depth + 1);
      }
      break;
    }
    default: // 6: a tag and its content
      end = itemEnd(b, q, depth + 1);
  }
  if (end > b.length) throw new AirlockError(MALFORMED, 'truncated');
  return end;
}
