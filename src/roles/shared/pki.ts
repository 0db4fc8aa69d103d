/**
 * Creating or loading a role's named key pairs: generated once, sealed in the role's
 * database, reloaded at every start.
 */
import type { KeyRing, KeyPair } from '../../adapters/store/key-ring.js';
import { issueCertificate, type Issuer } from '../../protocols/x509/issue.js';
import type { CertificateTemplate } from '../../protocols/x509/profiles.js';
import type { Crypto, KeyStore } from '../../core/ports.js';

/** A new pair's key is made in `keys` (software keys unless the role was wired with another store). */
export async function ensureKeyPair(
  crypto: Crypto,
  ring: KeyRing,
  name: string,
  template: CertificateTemplate,
  issuer: KeyPair | 'self',
  at: Date,
  keys: KeyStore = ring.keys,
): Promise<KeyPair> {
  const existing = await ring.get(name);
  if (existing) return existing;
  const key = await keys.generateP256();
  const signer: Issuer = issuer === 'self' ? { key } : { key: issuer.key, cert: issuer.cert };
  const pair = { key, cert: issueCertificate(crypto, template, key.spki, signer) };
  return ring.put(name, pair, at);
}

export function years(from: Date, n: number): Date {
  const d = new Date(from);
  d.setUTCFullYear(d.getUTCFullYear() + n);
  return d;
}

/** Backdated a little, so that peers with a slightly slow clock accept new certificates. */
export function notBefore(at: Date): Date {
  return new Date(at.getTime() - 5 * 60_000);
}
