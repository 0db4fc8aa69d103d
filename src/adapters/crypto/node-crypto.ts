/**
 * The Crypto port on node:crypto: synchronous ECDSA P-256 (the onboarding hot path), key
 * generation, PKCS#8 import and export. Public keys are cached by SPKI, since the same CA
 * and signer keys are verified against on every onboarding; ECDH objects by private key, for as
 * long as the caller keeps it (#agreement).
 */
import * as nodeCrypto from 'node:crypto';
import type { Crypto, EcCurve, EcKeyPair, HashName, PrivateKeyHandle } from '../../core/ports.js';
import { toPem } from '../../core/bytes.js';
import { jwkFromPkcs8, jwkFromSpki, pkcs8FromRaw, spkiFromJwk } from './p256-encoding.js';

export interface NodePrivateKey extends PrivateKeyHandle {
  readonly keyObject: nodeCrypto.KeyObject;
}

const P1363 = 'ieee-p1363' as const;

export class NodeCrypto implements Crypto {
  /**
   * Certificate signatures already found valid, by key, hash of the signed bytes and signature.
   * A role sees the same few certificates (a MASA's, a registrar's) on every request.
   */
  readonly #verifiedDer = new Set<string>();
  /** Public keys by SPKI, with whether they are P-256 keys (the getter is not free). */
  readonly #publicKeys = new Map<
    string,
    { id: string; key: nodeCrypto.KeyObject; p256: boolean }
  >();
  /** ECDH objects by their scalar's array (see #agreement). Secret: never logged. */
  readonly #agreements = new WeakMap<
    Uint8Array,
    { curve: EcCurve; scalar: Uint8Array; ecdh: nodeCrypto.ECDH }
  >();

  bytes(length: number): Uint8Array {
    return new Uint8Array(nodeCrypto.randomBytes(length));
  }

  sha256(data: Uint8Array): Uint8Array {
    return new Uint8Array(nodeCrypto.createHash('sha256').update(data).digest());
  }

  signEs256(key: PrivateKeyHandle, data: Uint8Array): Uint8Array {
    return new Uint8Array(
      nodeCrypto.sign('sha256', data, { key: asNodeKey(key).keyObject, dsaEncoding: P1363 }),
    );
  }

  verifyEs256(
    spki: Uint8Array,
    data: Uint8Array,
    signature: Uint8Array,
    encoding: 'p1363' | 'der' = 'p1363',
  ): boolean {
    const entry = this.#publicKey(spki);
    if (!entry?.p256) return false;
    const memo =
      encoding === 'der'
        ? `${entry.id}:${nodeCrypto.createHash('sha256').update(data).digest('base64')}:${Buffer.from(signature).toString('base64')}`
        : undefined;
    if (memo && this.#verifiedDer.has(memo)) return true;
    let ok: boolean;
    try {
      ok = nodeCrypto.verify(
        'sha256',
        data,
        { key: entry.key, dsaEncoding: encoding === 'der' ? 'der' : P1363 },
        signature,
      );
    } catch {
      return false;
    }
    if (ok && memo) {
      if (this.#verifiedDer.size >= 4096) this.#verifiedDer.clear();
      this.#verifiedDer.add(memo);
    }
    return ok;
  }

  verifyCertificateSignature(certDer: Uint8Array, issuerSpki: Uint8Array): boolean {
    const entry = this.#publicKey(issuerSpki);
    if (!entry) return false;
    try {
      return new nodeCrypto.X509Certificate(certDer).verify(entry.key);
    } catch {
      return false;
    }
  }

  digest(hash: HashName, data: Uint8Array): Uint8Array {
    return new Uint8Array(nodeCrypto.createHash(hash).update(data).digest());
  }

  verifySignature(
    spki: Uint8Array,
    hash: HashName,
    data: Uint8Array,
    signature: Uint8Array,
    encoding: 'der' | 'p1363' = 'der',
  ): boolean {
    if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512') return false;
    const entry = this.#publicKey(spki);
    if (!entry) return false;
    const type = entry.key.asymmetricKeyType;
    if (type !== 'ec' && type !== 'rsa') return false;
    try {
      return nodeCrypto.verify(
        hash,
        data,
        type === 'ec'
          ? { key: entry.key, dsaEncoding: encoding === 'der' ? 'der' : P1363 }
          : entry.key,
        signature,
      );
    } catch {
      return false;
    }
  }

  ecGenerate(curve: EcCurve): EcKeyPair {
    const ecdh = nodeCrypto.createECDH(ECDH_CURVES[curve].name);
    ecdh.generateKeys();
    const privateKey = padScalar(curve, ecdh.getPrivateKey());
    // The ECDH object already holds the scalar: ecdh() on this key uses it (see #agreement).
    this.#agreements.set(privateKey, { curve, scalar: privateKey.slice(), ecdh });
    return { curve, privateKey, publicKey: new Uint8Array(ecdh.getPublicKey()) };
  }

  ecPoint(curve: EcCurve, point: Uint8Array): Uint8Array | undefined {
    const { name, fieldLength } = ECDH_CURVES[curve];
    if (point.length !== 1 + fieldLength && point.length !== 1 + 2 * fieldLength) return undefined;
    try {
      // OpenSSL checks that the point is on the curve when it decodes it.
      const full = nodeCrypto.ECDH.convertKey(
        Buffer.from(point),
        name,
        undefined,
        undefined,
        'uncompressed',
      ) as Buffer;
      return new Uint8Array(full);
    } catch {
      return undefined;
    }
  }

  ecdh(curve: EcCurve, privateKey: Uint8Array, peerPoint: Uint8Array): Uint8Array | undefined {
    const { fieldLength } = ECDH_CURVES[curve];
    if (peerPoint.length !== 1 + fieldLength && peerPoint.length !== 1 + 2 * fieldLength)
      return undefined;
    try {
      const ecdh = this.#agreement(curve, privateKey);
      // Refuses a point off the curve (ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY) and the infinity.
      const x = ecdh.computeSecret(
        Buffer.from(peerPoint.buffer, peerPoint.byteOffset, peerPoint.byteLength),
      );
      return x.length === fieldLength ? new Uint8Array(x) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The ECDH object of a private scalar. Setting a scalar costs a fixed-base multiplication (a
   * fifth of an ECDH), so the object is kept for as long as the caller keeps the scalar's array
   * (a WeakMap: a bootstrapping key for the server's life, a protocol key for one exchange),
   * with a copy of the scalar: an array changed since is set again. Throws for a scalar out of
   * 1..n-1.
   */
  #agreement(curve: EcCurve, privateKey: Uint8Array): nodeCrypto.ECDH {
    const known = this.#agreements.get(privateKey);
    if (
      known &&
      known.curve === curve &&
      known.scalar.length === privateKey.length &&
      nodeCrypto.timingSafeEqual(known.scalar, privateKey)
    )
      return known.ecdh;
    const ecdh = nodeCrypto.createECDH(ECDH_CURVES[curve].name);
    // The array itself, not a Buffer.from copy: small copies land in Node's shared Buffer pool.
    ecdh.setPrivateKey(privateKey);
    this.#agreements.set(privateKey, { curve, scalar: privateKey.slice(), ecdh });
    return ecdh;
  }

  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
    return new Uint8Array(nodeCrypto.createHmac(hash, key).update(data).digest());
  }

  hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
    return this.hmac(hash, salt, ikm);
  }

  hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    const hashLength = HASH_LENGTH[hash];
    if (!Number.isInteger(length) || length < 0 || length > 255 * hashLength)
      throw new RangeError('HKDF-Expand: length out of range');
    // T(i) = HMAC(PRK, T(i-1) || info || i), RFC 5869 section 2.3.
    const out = new Uint8Array(length);
    let t: Uint8Array = new Uint8Array(0);
    for (let i = 1, at = 0; at < length; i++) {
      t = new Uint8Array(
        nodeCrypto.createHmac(hash, prk).update(t).update(info).update(Uint8Array.of(i)).digest(),
      );
      out.set(t.subarray(0, Math.min(t.length, length - at)), at);
      at += t.length;
    }
    return out;
  }

  #publicKey(
    spki: Uint8Array,
  ): { id: string; key: nodeCrypto.KeyObject; p256: boolean } | undefined {
    const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('base64');
    let entry = this.#publicKeys.get(id);
    if (!entry) {
      let key: nodeCrypto.KeyObject;
      try {
        const jwk = jwkFromSpki(spki);
        key = jwk
          ? nodeCrypto.createPublicKey({ key: { ...jwk }, format: 'jwk' })
          : nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      } catch {
        return undefined;
      }
      entry = {
        id,
        key,
        p256:
          key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1',
      };
      if (this.#publicKeys.size > 10_000) this.#publicKeys.clear();
      this.#publicKeys.set(id, entry);
    }
    return entry;
  }
}

/** OpenSSL's names of the key-agreement curves, with their field and order lengths in bytes. */
const ECDH_CURVES: Readonly<
  Record<EcCurve, { name: string; fieldLength: number; orderLength: number }>
> = {
  'P-256': { name: 'prime256v1', fieldLength: 32, orderLength: 32 },
  'P-384': { name: 'secp384r1', fieldLength: 48, orderLength: 48 },
  'P-521': { name: 'secp521r1', fieldLength: 66, orderLength: 66 },
  brainpoolP256r1: { name: 'brainpoolP256r1', fieldLength: 32, orderLength: 32 },
  brainpoolP384r1: { name: 'brainpoolP384r1', fieldLength: 48, orderLength: 48 },
  brainpoolP512r1: { name: 'brainpoolP512r1', fieldLength: 64, orderLength: 64 },
};

const HASH_LENGTH: Readonly<Record<HashName, number>> = { sha256: 32, sha384: 48, sha512: 64 };

/** node:crypto drops a scalar's leading zero bytes; the port promises the order's length. */
function padScalar(curve: EcCurve, scalar: Uint8Array): Uint8Array {
  const out = new Uint8Array(ECDH_CURVES[curve].orderLength);
  out.set(scalar, out.length - scalar.length);
  return out;
}

export function asNodeKey(key: PrivateKeyHandle): NodePrivateKey {
  if (!('keyObject' in key)) throw new TypeError('not a node:crypto key');
  return key as NodePrivateKey;
}

/**
 * A fresh P-256 key. The scalar and point come from ECDH key generation and go into
 * node:crypto through the fixed PKCS#8 layout and a JWK import: no key generated by
 * generateKeyPair is ever exported as JWK, which in Node 20 can deadlock (the export can
 * trigger a GC that waits on the key-generation job's mutex). test/adapters/key-stress.test.ts
 * generates and imports 100,000 keys this way.
 */
export function generateP256Key(): NodePrivateKey {
  const ecdh = nodeCrypto.createECDH('prime256v1');
  ecdh.generateKeys();
  return importPkcs8(
    pkcs8FromRaw(new Uint8Array(ecdh.getPrivateKey()), new Uint8Array(ecdh.getPublicKey())),
  );
}

export function importPkcs8(der: Uint8Array): NodePrivateKey {
  const jwk = jwkFromPkcs8(der);
  if (jwk) {
    const privateKey = nodeCrypto.createPrivateKey({ key: { ...jwk }, format: 'jwk' });
    return remember(
      Object.freeze({
        kind: 'private-key' as const,
        spki: spkiFromJwk(jwk),
        keyObject: privateKey,
      }),
      der,
    );
  }
  const privateKey = nodeCrypto.createPrivateKey({
    key: Buffer.from(der),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = new Uint8Array(
    nodeCrypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' }),
  );
  return remember(
    Object.freeze({ kind: 'private-key' as const, spki, keyObject: privateKey }),
    der,
  );
}

/** The PKCS#8 DER of a key: the bytes it was made from, never a JWK export (see generateP256Key). */
export function exportPkcs8(key: PrivateKeyHandle): Uint8Array {
  const known = pkcs8Of.get(key);
  if (known) return known.slice();
  return new Uint8Array(asNodeKey(key).keyObject.export({ format: 'der', type: 'pkcs8' }));
}

/** The PKCS#8 bytes each key handle was made from, so that exporting never asks OpenSSL. */
const pkcs8Of = new WeakMap<PrivateKeyHandle, Uint8Array>();
function remember(key: NodePrivateKey, der: Uint8Array): NodePrivateKey {
  pkcs8Of.set(key, der.slice());
  return key;
}

/** PEM for node:tls. Only ever handed to a TLS context in memory. */
export function privateKeyPem(key: PrivateKeyHandle): string {
  return toPem('PRIVATE KEY', exportPkcs8(key));
}

/** The WebCrypto form of the key, for @peculiar/x509's certificate and CRL generators. */
export async function toCryptoKey(key: PrivateKeyHandle): Promise<CryptoKey> {
  const cached = cryptoKeys.get(key);
  if (cached) return cached;
  const ck = await nodeCrypto.webcrypto.subtle.importKey(
    'pkcs8',
    exportPkcs8(key),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  cryptoKeys.set(key, ck as CryptoKey);
  return ck as CryptoKey;
}
const cryptoKeys = new WeakMap<PrivateKeyHandle, CryptoKey>();
