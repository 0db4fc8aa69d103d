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

export type DppCurve = 'P-256' | 'P-384' | 'P-521' | 'BP-256' | 'BP-384' | 'BP-512';

export interface BootstrappingKey {
  /** The DER SubjectPublicKeyInfo, as the URI carries it. */
  spkiDer: Uint8Array;
  curve: DppCurve;
}

interface CurveParams {
  oid: string;
  /** Octets of one coordinate. */
  size: number;
  /** The field prime and the coefficients of y^2 = x^3 + ax + b, from `openssl ecparam -param_enc explicit`. */
  p: bigint;
  a: bigint;
  b: bigint;
}

const P256 = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P384 =
  0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn;
const P521 = (1n << 521n) - 1n;

const CURVES: Readonly<Record<DppCurve, CurveParams>> = {
  'P-256': {
    oid: Oid.secp256r1,
    size: 32,
    p: P256,
    a: P256 - 3n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  'P-384': {
    oid: '1.3.132.0.34',
    size: 48,
    p: P384,
    a: P384 - 3n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  'P-521': {
    oid: '1.3.132.0.35',
    size: 66,
    p: P521,
    a: P521 - 3n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
  'BP-256': {
    oid: '1.3.36.3.3.2.8.1.1.7',
    size: 32,
    p: 0xa9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377n,
    a: 0x7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9n,
    b: 0x26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6n,
  },
  'BP-384': {
    oid: '1.3.36.3.3.2.8.1.1.11',
    size: 48,
    p: 0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53n,
    a: 0x7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826n,
    b: 0x04a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11n,
  },
  'BP-512': {
    oid: '1.3.36.3.3.2.8.1.1.13',
    size: 64,
    p: 0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3n,
    a: 0x7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94can,
    b: 0x3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723n,
  },
};

const BY_OID = new Map(
  (Object.entries(CURVES) as [DppCurve, CurveParams][]).map(([name, c]) => [c.oid, name]),
);

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
  const curve = BY_OID.get(curveOid);
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
    tlv(Tag.SEQUENCE, encodeOid(Oid.ecPublicKey), encodeOid(CURVES[curve].oid)),
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
  const c = CURVES[curve];
  const form = point[0];
  const expected = form === 0x04 ? 1 + 2 * c.size : 1 + c.size;
  if (form !== 0x02 && form !== 0x03 && form !== 0x04)
    refuse(`the point is neither compressed nor uncompressed (first octet ${form ?? 'missing'})`);
  if (point.length !== expected)
    refuse(`a ${curve} point of this form has ${expected} octets, not ${point.length}`);
  const x = toBigInt(point.subarray(1, 1 + c.size));
  if (x >= c.p) refuse('the point is not on its curve');
  const rhs = (((((x * x) % c.p) * x) % c.p) + ((c.a * x) % c.p) + c.b) % c.p;
  if (form === 0x04) {
    const y = toBigInt(point.subarray(1 + c.size));
    if (y >= c.p || (y * y) % c.p !== rhs) refuse('the point is not on its curve');
  } else if (rhs === 0n ? form !== 0x02 : modPow(rhs, (c.p - 1n) / 2n, c.p) !== 1n) {
    // Euler's criterion: x^3 + ax + b must be a square for some y to exist.
    refuse('the point is not on its curve');
  }
}

function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const byte of bytes) v = (v << 8n) | BigInt(byte);
  return v;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}
