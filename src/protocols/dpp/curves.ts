/**
 * The six curves DPP names (Wi-Fi Easy Connect section 3.2.3: P-256, P-384, P-521,
 * brainpoolP256r1, P384r1, P512r1), in one table, hostap's dpp_curves: the OID of each (the
 * bootstrapping key's SubjectPublicKeyInfo), the port's name of it, its hash and the lengths that
 * follow (hash, nonce, coordinate), and the numbers the point checks and additions need. Pure.
 */
import type { EcCurve, HashName } from '../../core/ports.js';
import { Oid } from '../x509/oids.js';

export type DppCurve = 'P-256' | 'P-384' | 'P-521' | 'BP-256' | 'BP-384' | 'BP-512';

export interface DppCurveParams {
  curve: DppCurve;
  /** The port's name of the curve. */
  ecCurve: EcCurve;
  hash: HashName;
  /** Octets of a hash: of k1, k2, bk, ke, R-auth, I-auth, and of the AES-SIV key. */
  hashLength: number;
  /** Octets of I-nonce and R-nonce. */
  nonceLength: number;
  /** Octets of a coordinate (and of M.x, N.x, L.x). */
  primeLength: number;
}

/** A curve's OID, and its numbers, from `openssl ecparam -param_enc explicit`. */
export interface DppCurveMath {
  oid: string;
  /** The field prime, the coefficients of y^2 = x^3 + ax + b, and the group order. */
  p: bigint;
  a: bigint;
  b: bigint;
  n: bigint;
}

const P256 = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P384 =
  0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn;
const P521 = (1n << 521n) - 1n;

/** hostap's dpp_curves table, with each curve's OID and numbers. */
const CURVES: Readonly<Record<DppCurve, DppCurveParams & DppCurveMath>> = {
  'P-256': {
    curve: 'P-256',
    ecCurve: 'P-256',
    oid: Oid.secp256r1,
    hash: 'sha256',
    hashLength: 32,
    nonceLength: 16,
    primeLength: 32,
    p: P256,
    a: P256 - 3n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  'P-384': {
    curve: 'P-384',
    ecCurve: 'P-384',
    oid: '1.3.132.0.34',
    hash: 'sha384',
    hashLength: 48,
    nonceLength: 24,
    primeLength: 48,
    p: P384,
    a: P384 - 3n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  'P-521': {
    curve: 'P-521',
    ecCurve: 'P-521',
    oid: '1.3.132.0.35',
    hash: 'sha512',
    hashLength: 64,
    nonceLength: 32,
    primeLength: 66,
    p: P521,
    a: P521 - 3n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
  'BP-256': {
    curve: 'BP-256',
    ecCurve: 'brainpoolP256r1',
    oid: '1.3.36.3.3.2.8.1.1.7',
    hash: 'sha256',
    hashLength: 32,
    nonceLength: 16,
    primeLength: 32,
    p: 0xa9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377n,
    a: 0x7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9n,
    b: 0x26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6n,
    n: 0xa9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7n,
  },
  'BP-384': {
    curve: 'BP-384',
    ecCurve: 'brainpoolP384r1',
    oid: '1.3.36.3.3.2.8.1.1.11',
    hash: 'sha384',
    hashLength: 48,
    nonceLength: 24,
    primeLength: 48,
    p: 0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53n,
    a: 0x7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826n,
    b: 0x04a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11n,
    n: 0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565n,
  },
  'BP-512': {
    curve: 'BP-512',
    ecCurve: 'brainpoolP512r1',
    oid: '1.3.36.3.3.2.8.1.1.13',
    hash: 'sha512',
    hashLength: 64,
    nonceLength: 32,
    primeLength: 64,
    p: 0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3n,
    a: 0x7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94can,
    b: 0x3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723n,
    n: 0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069n,
  },
};

/** The six curves, in hostap's order. */
export const DPP_CURVES = Object.keys(CURVES) as readonly DppCurve[];

/** The hash, nonce and coordinate lengths of a DPP curve. */
export function dppCurveParams(curve: DppCurve): DppCurveParams {
  const { oid: _oid, p: _p, a: _a, b: _b, n: _n, ...params } = CURVES[curve];
  return params;
}

/** Everything the table holds of a curve. */
export function dppCurve(curve: DppCurve): Readonly<DppCurveParams & DppCurveMath> {
  return CURVES[curve];
}

/** The curve of an OID, when it is one DPP uses. */
export function dppCurveOfOid(oid: string): DppCurve | undefined {
  return DPP_CURVES.find((curve) => CURVES[curve].oid === oid);
}

/** A big-endian unsigned integer. */
export function toBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const byte of bytes) v = (v << 8n) | BigInt(byte);
  return v;
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}
