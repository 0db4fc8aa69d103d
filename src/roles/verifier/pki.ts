/**
 * The verifier's PKI: a CA of its own, under which its TLS server certificate and its result
 * (EAR) signing certificate are issued. Relying parties trust the CA for TLS and the EAR key
 * itself (its JWK, `trustInfo`) for results, never a key a result carries.
 */
import type { KeyRing, KeyPair } from '../../adapters/store/key-ring.js';
import { caProfile, signerProfile } from '../../protocols/x509/profiles.js';
import type { Crypto } from '../../core/ports.js';
import { toBase64Url } from '../../core/bytes.js';
import { ensureKeyPair, notBefore, years } from '../shared/pki.js';

export interface VerifierPki {
  ca: KeyPair;
  tls: KeyPair;
  /** Signs every EAR. */
  ear: KeyPair;
  /** The EAR key's `kid`: base64url SHA-256 of its SubjectPublicKeyInfo. */
  earKid: string;
}

export async function openVerifierPki(
  crypto: Crypto,
  ring: KeyRing,
  name: string,
  hostnames: string[],
  at: Date,
): Promise<VerifierPki> {
  const nb = notBefore(at);
  const ca = await ensureKeyPair(
    crypto,
    ring,
    'verifier-ca',
    caProfile({ name: `${name} CA`, notBefore: nb, notAfter: years(at, 30), pathLength: 0 }),
    'self',
    at,
  );
  const tls = await ensureKeyPair(
    crypto,
    ring,
    'tls',
    signerProfile({
      name: `${name} service`,
      notBefore: nb,
      notAfter: years(at, 2),
      dnsNames: hostnames,
      serverAuth: true,
    }),
    ca,
    at,
  );
  const ear = await ensureKeyPair(
    crypto,
    ring,
    'ear',
    signerProfile({ name: `${name} results`, notBefore: nb, notAfter: years(at, 10) }),
    ca,
    at,
  );
  return { ca, tls, ear, earKid: toBase64Url(crypto.sha256(ear.cert.spki)) };
}
