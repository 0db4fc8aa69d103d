/**
 * Fixed DER layouts of P-256 keys (RFC 5480 SubjectPublicKeyInfo, RFC 5915 inside RFC 5208
 * PKCS#8), so that keys move between DER and node:crypto through JWK. OpenSSL 3 decodes and
 * encodes DER keys slowly here: importing a PKCS#8 key took 380 us and exporting an SPKI 120 us,
 * against 70 us and 7 us through JWK (docs/BENCHMARKS.md). Anything not in exactly this layout
 * takes the general path. Keys are only ever imported through JWK, never exported: in Node 20
 * exporting a generated key as JWK can deadlock (see generateP256Key in node-crypto.ts).
 */
import { concatBytes, equalBytes, fromBase64Url, toBase64Url } from '../../core/bytes.js';

const SPKI_PREFIX = hex('3059301306072a8648ce3d020106082a8648ce3d030107034200');
const PKCS8_PREFIX = hex(
  '308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420',
);
const PKCS8_MIDDLE = hex('a144034200');

export interface P256Jwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  d?: string;
}

export function spkiFromJwk(jwk: { x?: string; y?: string }): Uint8Array {
  return concatBytes(SPKI_PREFIX, new Uint8Array([4]), coord(jwk.x), coord(jwk.y));
}

/** The JWK of a P-256 SubjectPublicKeyInfo, or undefined if it is not exactly one. */
export function jwkFromSpki(spki: Uint8Array): P256Jwk | undefined {
  if (spki.length !== 91 || !equalBytes(spki.subarray(0, 26), SPKI_PREFIX) || spki[26] !== 4)
    return undefined;
  return {
    kty: 'EC',
    crv: 'P-256',
    x: toBase64Url(spki.subarray(27, 59)),
    y: toBase64Url(spki.subarray(59, 91)),
  };
}

export function pkcs8FromJwk(jwk: { x?: string; y?: string; d?: string }): Uint8Array {
  return concatBytes(
    PKCS8_PREFIX,
    coord(jwk.d),
    PKCS8_MIDDLE,
    new Uint8Array([4]),
    coord(jwk.x),
    coord(jwk.y),
  );
}

/**
 * The PKCS#8 key of a P-256 scalar (big-endian, up to 32 bytes: ECDH drops leading zeros)
 * and its uncompressed public point (0x04 || x || y).
 */
export function pkcs8FromRaw(d: Uint8Array, point: Uint8Array): Uint8Array {
  if (d.length === 0 || d.length > 32 || point.length !== 65 || point[0] !== 4)
    throw new TypeError('not a P-256 key');
  const scalar = new Uint8Array(32);
  scalar.set(d, 32 - d.length);
  return concatBytes(PKCS8_PREFIX, scalar, PKCS8_MIDDLE, point);
}

/** The JWK of a P-256 PKCS#8 key with its public key, or undefined if it is not exactly one. */
export function jwkFromPkcs8(der: Uint8Array): P256Jwk | undefined {
  if (
    der.length !== 138 ||
    !equalBytes(der.subarray(0, 36), PKCS8_PREFIX) ||
    !equalBytes(der.subarray(68, 73), PKCS8_MIDDLE) ||
    der[73] !== 4
  )
    return undefined;
  return {
    kty: 'EC',
    crv: 'P-256',
    d: toBase64Url(der.subarray(36, 68)),
    x: toBase64Url(der.subarray(74, 106)),
    y: toBase64Url(der.subarray(106, 138)),
  };
}

function coord(b64url: string | undefined): Uint8Array {
  const b = b64url === undefined ? undefined : fromBase64Url(b64url);
  if (!b || b.length !== 32) throw new TypeError('not a P-256 key coordinate');
  return b;
}

function hex(s: string): Uint8Array {
  return new Uint8Array(s.match(/../g)!.map((h) => parseInt(h, 16)));
}
