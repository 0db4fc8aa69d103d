/**
 * The cryptography of the DPP Authentication protocol (Wi-Fi Easy Connect v2, section 6.3):
 * the key schedule (M, N and L, k1, k2, bk and ke), the authenticating tags R-auth and I-auth,
 * and AES-SIV (RFC 5297) for the Wrapped Data attribute. Pure: ECDH, HMAC and HKDF come
 * through the Crypto port; AES-SIV is @noble/ciphers' `aessiv`, plain JavaScript.
 *
 * Checked against the values wpa_supplicant 2.10 itself derives (test/protocols/dpp-crypto.test.ts,
 * fixtures from test/fixtures/interop/dpp/generate-key-schedule.mjs), on all six curves, with and
 * without mutual authentication. The formulas follow hostap's dpp_crypto.c and dpp_auth.c:
 *
 * - The hash goes with the curve: SHA-256 on the 256-bit curves, SHA-384 on the 384-bit ones,
 *   SHA-512 on P-521 and brainpoolP512r1. k1, k2, bk and ke are one hash long, and so is the
 *   AES-SIV key (AES-SIV-256, -384 or -512: two AES-128, -192 or -256 keys).
 * - Nonces are half a hash long: 16, 24 or 32 octets.
 * - M.x, N.x and L.x are x-coordinates, as long as the field (66 octets on P-521); the x of a
 *   public key in R-auth and I-auth is as long too.
 *
 * Every refusal is ERR_DPP_AUTH, with `details.reason`. No message carries a key or a secret.
 */
import { aessiv } from '@noble/ciphers/aes.js';
import { concatBytes } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { refuse } from './common.js';
import {
  dppCurve,
  modPow,
  toBigInt,
  type DppCurve,
  type DppCurveMath,
  type DppCurveParams,
} from './curves.js';

export { dppCurveParams, type DppCurveParams } from './curves.js';

function checkLength(bytes: Uint8Array, length: number, reason: string, what: string): void {
  if (bytes.length !== length) refuse(reason, `${what} has ${bytes.length} octets, not ${length}`);
}

/**
 * The x-coordinate of a public key given as a SEC1 point (compressed or uncompressed), as long
 * as the field. Only the length and form are checked here; ECDH checks the point itself.
 */
function xOf(curve: DppCurve, point: Uint8Array, what: string): Uint8Array {
  const { primeLength } = dppCurve(curve);
  const form = point[0];
  const ok =
    (form === 0x04 && point.length === 1 + 2 * primeLength) ||
    ((form === 0x02 || form === 0x03) && point.length === 1 + primeLength);
  if (!ok) refuse('point', `${what} is not a ${curve} point`);
  return point.subarray(1, 1 + primeLength);
}

/**
 * A Protocol Key attribute's value (x || y, as hostap writes it: no SEC1 prefix) as an
 * uncompressed SEC1 point, for ECDH and the tags. Its length is checked, not the point.
 */
export function protocolKeyPoint(curve: DppCurve, value: Uint8Array): Uint8Array {
  checkLength(value, 2 * dppCurve(curve).primeLength, 'point', 'the protocol key');
  const point = new Uint8Array(1 + value.length);
  point[0] = 0x04;
  point.set(value, 1);
  return point;
}

/**
 * ECDH, the x-coordinate of `privateKey` times `peerPoint`: M = pI * BR (M.x), N = pI * PR
 * (N.x). A peer point that is not on the curve is refused, `reason` 'point'.
 */
export function dppEcdh(
  crypto: Pick<Crypto, 'ecdh'>,
  curve: DppCurve,
  privateKey: Uint8Array,
  peerPoint: Uint8Array,
): Uint8Array {
  xOf(curve, peerPoint, 'the peer key');
  const x = crypto.ecdh(dppCurve(curve).ecCurve, privateKey, peerPoint);
  if (!x) refuse('point', `the peer key is not a point of ${curve}, or the private key is invalid`);
  return x;
}

type Hkdf = Pick<Crypto, 'hkdfExtract' | 'hkdfExpand'>;

/** HKDF(<>, info, ikm): the salt is a hash length of zeros, as hostap has it. */
function hkdfNoSalt(crypto: Hkdf, curve: DppCurve, info: string, ikm: Uint8Array): Uint8Array {
  const { hash, hashLength } = dppCurve(curve);
  const prk = crypto.hkdfExtract(hash, new Uint8Array(hashLength), ikm);
  return crypto.hkdfExpand(hash, prk, new TextEncoder().encode(info), hashLength);
}

/** k1 = HKDF(<>, "first intermediate key", M.x): wraps the Authentication Request. */
export function deriveK1(crypto: Hkdf, curve: DppCurve, mx: Uint8Array): Uint8Array {
  checkLength(mx, dppCurve(curve).primeLength, 'length', 'M.x');
  return hkdfNoSalt(crypto, curve, 'first intermediate key', mx);
}

/** k2 = HKDF(<>, "second intermediate key", N.x): wraps the Authentication Response. */
export function deriveK2(crypto: Hkdf, curve: DppCurve, nx: Uint8Array): Uint8Array {
  checkLength(nx, dppCurve(curve).primeLength, 'length', 'N.x');
  return hkdfNoSalt(crypto, curve, 'second intermediate key', nx);
}

export interface KeInput {
  iNonce: Uint8Array;
  rNonce: Uint8Array;
  mx: Uint8Array;
  nx: Uint8Array;
  /** L.x, with mutual authentication only. */
  lx?: Uint8Array;
}

/**
 * bk = HKDF-Extract(I-nonce | R-nonce, M.x | N.x [| L.x]) and ke = HKDF-Expand(bk, "DPP Key",
 * hash length). ke wraps R-auth and I-auth, and the Configuration frames after them.
 */
export function deriveKe(
  crypto: Hkdf,
  curve: DppCurve,
  input: KeInput,
): { bk: Uint8Array; ke: Uint8Array } {
  const { hash, hashLength, nonceLength, primeLength } = dppCurve(curve);
  checkLength(input.iNonce, nonceLength, 'nonce', 'I-nonce');
  checkLength(input.rNonce, nonceLength, 'nonce', 'R-nonce');
  checkLength(input.mx, primeLength, 'length', 'M.x');
  checkLength(input.nx, primeLength, 'length', 'N.x');
  if (input.lx) checkLength(input.lx, primeLength, 'length', 'L.x');
  const bk = crypto.hkdfExtract(
    hash,
    concatBytes(input.iNonce, input.rNonce),
    concatBytes(input.mx, input.nx, ...(input.lx ? [input.lx] : [])),
  );
  const ke = crypto.hkdfExpand(hash, bk, new TextEncoder().encode('DPP Key'), hashLength);
  return { bk, ke };
}

/**
 * L.x on the Responder's side, with mutual authentication: L = ((bR + pR) mod q) * BI, from
 * the Responder's bootstrapping and protocol private keys and the Initiator's bootstrapping key.
 */
export function deriveLResponder(
  crypto: Pick<Crypto, 'ecdh'>,
  curve: DppCurve,
  input: { bR: Uint8Array; pR: Uint8Array; BI: Uint8Array },
): Uint8Array {
  const c = dppCurve(curve);
  const sum = (toBigInt(input.bR) + toBigInt(input.pR)) % c.n;
  if (sum === 0n) refuse('point', 'bR + pR is zero');
  return dppEcdh(crypto, curve, toBytes(sum, byteLength(c.n)), input.BI);
}

/**
 * L.x on the Initiator's side, with mutual authentication: L = bI * (BR + PR). The sum of the
 * two public points is computed here (public values only); the port checks both points first.
 */
export function deriveLInitiator(
  crypto: Pick<Crypto, 'ecdh' | 'ecPoint'>,
  curve: DppCurve,
  input: { bI: Uint8Array; BR: Uint8Array; PR: Uint8Array },
): Uint8Array {
  const c = dppCurve(curve);
  xOf(curve, input.BR, 'BR');
  xOf(curve, input.PR, 'PR');
  const br = crypto.ecPoint(c.ecCurve, input.BR);
  const pr = crypto.ecPoint(c.ecCurve, input.PR);
  if (!br || !pr) refuse('point', `BR or PR is not a point of ${curve}`);
  const sum = addPoints(c, coordinates(c, br), coordinates(c, pr));
  if (!sum) refuse('point', 'BR + PR is the point at infinity');
  return dppEcdh(crypto, curve, input.bI, encodePoint(c, sum));
}

export interface AuthTagInput {
  iNonce: Uint8Array;
  rNonce: Uint8Array;
  /** The Initiator's and the Responder's protocol keys, SEC1 points. */
  PI: Uint8Array;
  PR: Uint8Array;
  /** The Initiator's bootstrapping key, with mutual authentication only. */
  BI?: Uint8Array;
  /** The Responder's bootstrapping key. */
  BR: Uint8Array;
}

function authTag(
  crypto: Pick<Crypto, 'digest'>,
  curve: DppCurve,
  input: AuthTagInput,
  order: 'R' | 'I',
): Uint8Array {
  const { hash, nonceLength } = dppCurve(curve);
  checkLength(input.iNonce, nonceLength, 'nonce', 'I-nonce');
  checkLength(input.rNonce, nonceLength, 'nonce', 'R-nonce');
  const pi = xOf(curve, input.PI, 'PI');
  const pr = xOf(curve, input.PR, 'PR');
  const bi = input.BI ? [xOf(curve, input.BI, 'BI')] : [];
  const br = xOf(curve, input.BR, 'BR');
  const parts =
    order === 'R'
      ? [input.iNonce, input.rNonce, pi, pr, ...bi, br, Uint8Array.of(0)]
      : [input.rNonce, input.iNonce, pr, pi, br, ...bi, Uint8Array.of(1)];
  return crypto.digest(hash, concatBytes(...parts));
}

/** R-auth = H(I-nonce | R-nonce | PI.x | PR.x | [BI.x |] BR.x | 0): the Responder's proof. */
export function responderAuthTag(
  crypto: Pick<Crypto, 'digest'>,
  curve: DppCurve,
  input: AuthTagInput,
): Uint8Array {
  return authTag(crypto, curve, input, 'R');
}

/** I-auth = H(R-nonce | I-nonce | PR.x | PI.x | BR.x | [BI.x |] 1): the Initiator's proof. */
export function initiatorAuthTag(
  crypto: Pick<Crypto, 'digest'>,
  curve: DppCurve,
  input: AuthTagInput,
): Uint8Array {
  return authTag(crypto, curve, input, 'I');
}

/**
 * The Wrapped Data of DPP (RFC 5297 AES-SIV, the synthetic IV
 * first, then the ciphertext: 16 octets longer than `plaintext`). `key` is k1, k2 or ke: 32, 48
 * or 64 octets. `ad` are the associated data, each a separate S2V vector, in order. In the
 * Authentication frames they are, as hostap passes them: the 6 octets from the OUI to the DPP
 * frame type (OUI 50 6f 9a, OUI type 1a, crypto suite 01, frame type), then the attributes
 * before the Wrapped Data; {R-auth}ke inside the Authentication Response has none.
 */
export function wrapDppData(
  key: Uint8Array,
  ad: readonly Uint8Array[],
  plaintext: Uint8Array,
): Uint8Array {
  return siv(key, ad).encrypt(plaintext);
}

/**
 * Opens Wrapped Data (see wrapDppData). Refused, ERR_DPP_AUTH `reason` 'wrapped-data': a
 * blob that does not authenticate under `key` and `ad` (a changed bit, other associated data,
 * another key) or that is shorter than the synthetic IV.
 */
export function unwrapDppData(
  key: Uint8Array,
  ad: readonly Uint8Array[],
  wrapped: Uint8Array,
): Uint8Array {
  if (wrapped.length < 16) refuse('wrapped-data', 'the Wrapped Data is shorter than its tag');
  try {
    return siv(key, ad).decrypt(wrapped);
  } catch {
    return refuse('wrapped-data', 'the Wrapped Data does not unwrap with this key and data');
  }
}

function siv(key: Uint8Array, ad: readonly Uint8Array[]) {
  if (key.length !== 32 && key.length !== 48 && key.length !== 64)
    refuse('key', `an AES-SIV key has 32, 48 or 64 octets, not ${key.length}`);
  if (ad.length > 126) refuse('wrapped-data', 'more than 126 associated data');
  // aessiv keeps references to what it is given: pass copies.
  return aessiv(key.slice(), ...ad.map((a) => a.slice()));
}

// Point arithmetic on public points only (BR + PR), affine, in bigint.

type Affine = { x: bigint; y: bigint };

function coordinates(c: DppCurveParams, uncompressed: Uint8Array): Affine {
  return {
    x: toBigInt(uncompressed.subarray(1, 1 + c.primeLength)),
    y: toBigInt(uncompressed.subarray(1 + c.primeLength)),
  };
}

function encodePoint(c: DppCurveParams, q: Affine): Uint8Array {
  return concatBytes(Uint8Array.of(0x04), toBytes(q.x, c.primeLength), toBytes(q.y, c.primeLength));
}

function addPoints(c: DppCurveMath, p1: Affine, p2: Affine): Affine | undefined {
  const { p } = c;
  const mod = (v: bigint) => ((v % p) + p) % p;
  let lambda: bigint;
  if (p1.x === p2.x) {
    if (mod(p1.y + p2.y) === 0n) return undefined;
    lambda = mod((3n * p1.x * p1.x + c.a) * modPow(mod(2n * p1.y), p - 2n, p));
  } else {
    lambda = mod((p2.y - p1.y) * modPow(mod(p2.x - p1.x), p - 2n, p));
  }
  const x = mod(lambda * lambda - p1.x - p2.x);
  return { x, y: mod(lambda * (p1.x - x) - p1.y) };
}

function byteLength(v: bigint): number {
  return Math.ceil(v.toString(16).length / 2);
}

function toBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let rest = v;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}
