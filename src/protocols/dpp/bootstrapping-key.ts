/**
 * The bootstrapping key of a DPP URI (Wi-Fi Easy Connect section 5.2.1, the `K:` token): the
 * DER SubjectPublicKeyInfo (RFC 5480) of an EC key on one of the curves DPP names (section
 * 3.2.3: P-256, P-384, P-521, brainpoolP256r1, P384r1, P512r1), its point compressed or not.
 * Refused, ERR_DPP_URI: another algorithm (RSA), explicit curve parameters, another curve, a
 * point of the wrong length or not on its curve (what wpa_supplicant's OpenSSL refuses too),
 * and anything that is not strict DER.
 *
 * Its hash, SHA-256 of those DER bytes (section 6.2.2), is what the DPP Authentication
 * Request carries to name the key, and what wpa_supplicant prints as `pkhash`.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { DerReader, Tag, decodeOid, encodeOid, tlv } from '../x509/der.js';
import { Oid } from '../x509/oids.js';
import { dppCurve, dppCurveOfOid, modPow, toBigInt, type DppCurve } from './curves.js';

export type { DppCurve } from './curves.js';

export interface BootstrappingKey {
  /** The DER SubjectPublicKeyInfo, as the URI carries it. */
  spkiDer: Uint8Array;
  curve: DppCurve;
}

function refuse(detail: string): never {
  throw new AirlockError('ERR_DPP_URI', `K: ${detail}`, { details: { token: 'K' } });
}

/** Reads and checks the DER SubjectPublicKeyInfo of a bootstrapping key. */
export function parseBootstrappingKey(spkiDer: Uint8Array): BootstrappingKey {
  try {
    return { spkiDer, curve: readSpki(spkiDer) };
  } catch (e) {
    if (!isAirlockError(e) || e.details.token === 'K') throw e;
    // The DER reader's own refusals (truncated, trailing bytes, a wrong tag): name the token.
    throw new AirlockError('ERR_DPP_URI', 'K: not a DER SubjectPublicKeyInfo', {
      cause: e,
      details: { token: 'K' },
    });
  }
}

function readSpki(spkiDer: Uint8Array): DppCurve {
  const outer = new DerReader(spkiDer, 'ERR_DPP_URI');
  const spki = outer.enter(Tag.SEQUENCE);
  outer.end();
  const algorithm = spki.enter(Tag.SEQUENCE);
  const algorithmOid = decodeOid(algorithm.read(Tag.OID).value, 'ERR_DPP_URI');
  if (algorithmOid !== Oid.ecPublicKey)
    refuse(`not an EC public key (algorithm ${algorithmOid.slice(0, 40)})`);
  if (algorithm.peekTag() === Tag.SEQUENCE) refuse('explicit curve parameters, not a named curve');
  if (algorithm.peekTag() !== Tag.OID) refuse('no named curve');
  const curveOid = decodeOid(algorithm.read(Tag.OID).value, 'ERR_DPP_URI');
  algorithm.end();
  const curve = dppCurveOfOid(curveOid);
  if (!curve) refuse(`curve ${curveOid.slice(0, 40)} is not one DPP uses`);
  const bits = spki.read(Tag.BIT_STRING).value;
  spki.end();
  if (bits[0] !== 0) refuse('the public key BIT STRING has unused bits');
  checkPoint(curve, bits.subarray(1));
  return curve;
}

/**
 * The DER SubjectPublicKeyInfo of a public point on `curve` (SEC1, compressed or uncompressed,
 * written as given): what a URI's `K:` token carries. Refused, ERR_DPP_URI: a point that is
 * not on the curve or of the wrong length.
 */
export function encodeBootstrappingKey(curve: DppCurve, point: Uint8Array): BootstrappingKey {
  checkPoint(curve, point);
  const spkiDer = tlv(
    Tag.SEQUENCE,
    tlv(Tag.SEQUENCE, encodeOid(Oid.ecPublicKey), encodeOid(dppCurve(curve).oid)),
    tlv(Tag.BIT_STRING, Uint8Array.of(0), point),
  );
  return { spkiDer, curve };
}

/** SHA-256 of the DER SubjectPublicKeyInfo: the bootstrapping key hash (wpa_supplicant's `pkhash`). */
export function bootstrappingKeyHash(
  crypto: Pick<Crypto, 'sha256'>,
  spkiDer: Uint8Array,
): Uint8Array {
  return crypto.sha256(spkiDer);
}

/** SEC 1 section 2.3.4: a compressed (02, 03) or uncompressed (04) point of `curve`, on the curve. */
function checkPoint(curve: DppCurve, point: Uint8Array): void {
  const c = dppCurve(curve);
  const size = c.primeLength;
  const form = point[0];
  const expected = form === 0x04 ? 1 + 2 * size : 1 + size;
  if (form !== 0x02 && form !== 0x03 && form !== 0x04)
    refuse(`the point is neither compressed nor uncompressed (first octet ${form ?? 'missing'})`);
  if (point.length !== expected)
    refuse(`a ${curve} point of this form has ${expected} octets, not ${point.length}`);
  const x = toBigInt(point.subarray(1, 1 + size));
  if (x >= c.p) refuse('the point is not on its curve');
  const rhs = (((((x * x) % c.p) * x) % c.p) + ((c.a * x) % c.p) + c.b) % c.p;
  if (form === 0x04) {
    const y = toBigInt(point.subarray(1 + size));
    if (y >= c.p || (y * y) % c.p !== rhs) refuse('the point is not on its curve');
  } else if (rhs === 0n ? form !== 0x02 : modPow(rhs, (c.p - 1n) / 2n, c.p) !== 1n) {
    // Euler's criterion: x^3 + ax + b must be a square for some y to exist.
    refuse('the point is not on its curve');
  }
}
