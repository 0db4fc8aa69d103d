/**
 * Ports: what the pure layers need from the outside world. Adapters implement them;
 * tests may fix the clock (many real certificates have expired) or the randomness.
 */

export interface Clock {
  now(): Date;
}

export interface Random {
  bytes(length: number): Uint8Array;
}

/** An opaque private key. Only the crypto adapter can see inside. */
export interface PrivateKeyHandle {
  readonly kind: 'private-key';
  /** DER SubjectPublicKeyInfo of the matching public key. */
  readonly spki: Uint8Array;
}

/** The hash functions the signed formats name (CMS digestAlgorithm, COSE alg). */
export type HashName = 'sha256' | 'sha384' | 'sha512';

/**
 * The cryptographic primitives the protocols need. Signatures are ECDSA P-256 with SHA-256
 * in the IEEE P1363 form (r || s) that JWS uses, unless `der` is asked for.
 */
export interface Crypto extends Random {
  sha256(data: Uint8Array): Uint8Array;
  signEs256(key: PrivateKeyHandle, data: Uint8Array): Uint8Array;
  /** `signature` is r || s (JWS) unless `encoding` is 'der' (X.509, PKCS#10, CMS). */
  verifyEs256(spki: Uint8Array, data: Uint8Array, signature: Uint8Array, encoding?: 'p1363' | 'der'): boolean;
  /**
   * True when `certDer` carries a valid signature by the key `issuerSpki`, whatever its
   * algorithm (RSA included): the general path, for certificates not signed with ES256.
   */
  verifyCertificateSignature(certDer: Uint8Array, issuerSpki: Uint8Array): boolean;
  digest(hash: HashName, data: Uint8Array): Uint8Array;
  /**
   * The general signature check, for artifacts written by others (CMS and COSE vouchers):
   * ECDSA on any named curve the platform knows, or RSA PKCS#1 v1.5, with `hash` over `data`.
   * An ECDSA `signature` is DER (CMS) or r || s (COSE, JWS) as `encoding` says; for RSA the
   * encoding is ignored. ECDSA signatures are DER unless `encoding` is 'p1363'. False for a key it cannot use.
   */
  verifySignature(spki: Uint8Array, hash: HashName, data: Uint8Array, signature: Uint8Array, encoding?: 'der' | 'p1363'): boolean;
}

export const systemClock: Clock = { now: () => new Date() };

/**
 * The device's secure store (report section 5.1.1, step 1): where birth and onboarding
 * credentials live. A file adapter encrypts each entry; a hardware element can replace it.
 */
export interface SecureStore {
  read(name: string): Promise<Uint8Array | undefined>;
  write(name: string, data: Uint8Array): Promise<void>;
  erase(name: string): Promise<void>;
  names(): Promise<string[]>;
}
