/**
 * The Crypto port on node:crypto: synchronous ECDSA P-256 (the onboarding hot path), key
 * generation, PKCS#8 import and export. Public keys are cached by SPKI, since the same CA
 * and signer keys are verified against on every onboarding.
 */
import * as nodeCrypto from 'node:crypto';
import type { Crypto, HashName, PrivateKeyHandle } from '../../core/ports.js';
import { toPem } from '../../core/bytes.js';
import { jwkFromPkcs8, jwkFromSpki, pkcs8FromJwk, spkiFromJwk } from './p256-encoding.js';

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
  readonly #publicKeys = new Map<string, { id: string; key: nodeCrypto.KeyObject; p256: boolean }>();

  bytes(length: number): Uint8Array {
    return new Uint8Array(nodeCrypto.randomBytes(length));
  }

  sha256(data: Uint8Array): Uint8Array {
    return new Uint8Array(nodeCrypto.createHash('sha256').update(data).digest());
  }

  signEs256(key: PrivateKeyHandle, data: Uint8Array): Uint8Array {
    return new Uint8Array(nodeCrypto.sign('sha256', data, { key: asNodeKey(key).keyObject, dsaEncoding: P1363 }));
  }

  verifyEs256(spki: Uint8Array, data: Uint8Array, signature: Uint8Array, encoding: 'p1363' | 'der' = 'p1363'): boolean {
    const entry = this.#publicKey(spki);
    if (!entry?.p256) return false;
    const memo = encoding === 'der' ? `${entry.id}:${nodeCrypto.createHash('sha256').update(data).digest('base64')}:${Buffer.from(signature).toString('base64')}` : undefined;
    if (memo && this.#verifiedDer.has(memo)) return true;
    let ok: boolean;
    try {
      ok = nodeCrypto.verify('sha256', data, { key: entry.key, dsaEncoding: encoding === 'der' ? 'der' : P1363 }, signature);
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

  verifySignature(spki: Uint8Array, hash: HashName, data: Uint8Array, signature: Uint8Array, encoding: 'der' | 'p1363' = 'der'): boolean {
    if (hash !== 'sha256' && hash !== 'sha384' && hash !== 'sha512') return false;
    const entry = this.#publicKey(spki);
    if (!entry) return false;
    const type = entry.key.asymmetricKeyType;
    if (type !== 'ec' && type !== 'rsa') return false;
    try {
      return nodeCrypto.verify(hash, data, type === 'ec' ? { key: entry.key, dsaEncoding: encoding === 'der' ? 'der' : P1363 } : entry.key, signature);
    } catch {
      return false;
    }
  }

  #publicKey(spki: Uint8Array): { id: string; key: nodeCrypto.KeyObject; p256: boolean } | undefined {
    const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('base64');
    let entry = this.#publicKeys.get(id);
    if (!entry) {
      let key: nodeCrypto.KeyObject;
      try {
        const jwk = jwkFromSpki(spki);
        key = jwk ? nodeCrypto.createPublicKey({ key: { ...jwk }, format: 'jwk' }) : nodeCrypto.createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      } catch {
        return undefined;
      }
      entry = { id, key, p256: key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' };
      if (this.#publicKeys.size > 10_000) this.#publicKeys.clear();
      this.#publicKeys.set(id, entry);
    }
    return entry;
  }
}

export function asNodeKey(key: PrivateKeyHandle): NodePrivateKey {
  if (!('keyObject' in key)) throw new TypeError('not a node:crypto key');
  return key as NodePrivateKey;
}

export function generateP256Key(): NodePrivateKey {
  const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return wrap(privateKey, publicKey);
}

export function importPkcs8(der: Uint8Array): NodePrivateKey {
  const jwk = jwkFromPkcs8(der);
  const privateKey = jwk ? nodeCrypto.createPrivateKey({ key: { ...jwk }, format: 'jwk' }) : nodeCrypto.createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  return wrap(privateKey, nodeCrypto.createPublicKey(privateKey));
}

export function exportPkcs8(key: PrivateKeyHandle): Uint8Array {
  const k = asNodeKey(key).keyObject;
  if (k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1') return pkcs8FromJwk(k.export({ format: 'jwk' }));
  return new Uint8Array(k.export({ format: 'der', type: 'pkcs8' }));
}

/** PEM for node:tls. Only ever handed to a TLS context in memory. */
export function privateKeyPem(key: PrivateKeyHandle): string {
  return toPem('PRIVATE KEY', exportPkcs8(key));
}

/** The WebCrypto form of the key, for @peculiar/x509's certificate and CRL generators. */
export async function toCryptoKey(key: PrivateKeyHandle): Promise<CryptoKey> {
  const cached = cryptoKeys.get(key);
  if (cached) return cached;
  const ck = await nodeCrypto.webcrypto.subtle.importKey('pkcs8', exportPkcs8(key), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  cryptoKeys.set(key, ck as CryptoKey);
  return ck as CryptoKey;
}
const cryptoKeys = new WeakMap<PrivateKeyHandle, CryptoKey>();

function wrap(privateKey: nodeCrypto.KeyObject, publicKey: nodeCrypto.KeyObject): NodePrivateKey {
  const p256 = publicKey.asymmetricKeyType === 'ec' && publicKey.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  const spki = p256 ? spkiFromJwk(publicKey.export({ format: 'jwk' })) : new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  return Object.freeze({ kind: 'private-key' as const, spki, keyObject: privateKey });
}
