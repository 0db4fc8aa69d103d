/**
 * The manufacturer's PKI: a root CA (the devices' trust anchor), an IDevID issuing CA, a MASA
 * signing key, a declaration signing key and a TLS server key, all under the root.
 */
import type { KeyRing, KeyPair } from '../../adapters/store/key-ring.js';
import { caProfile, signerProfile } from '../../protocols/x509/profiles.js';
import type { Crypto } from '../../core/ports.js';
import { ensureKeyPair, notBefore, years } from '../shared/pki.js';

export interface ManufacturerPki {
  root: KeyPair;
  idevidCa: KeyPair;
  masa: KeyPair;
  declarations: KeyPair;
  tls: KeyPair;
}

export async function openManufacturerPki(crypto: Crypto, ring: KeyRing, name: string, hostnames: string[], at: Date): Promise<ManufacturerPki> {
  const nb = notBefore(at);
  const root = await ensureKeyPair(crypto, ring, 'root-ca', caProfile({ name: `${name} Root CA`, notBefore: nb, notAfter: years(at, 30) }), 'self', at);
  const idevidCa = await ensureKeyPair(crypto, ring, 'idevid-ca', caProfile({ name: `${name} IDevID CA`, notBefore: nb, notAfter: years(at, 30), pathLength: 0 }), root, at);
  const masa = await ensureKeyPair(crypto, ring, 'masa', signerProfile({ name: `${name} MASA`, notBefore: nb, notAfter: years(at, 10) }), root, at);
  const declarations = await ensureKeyPair(crypto, ring, 'declarations', signerProfile({ name: `${name} Declarations`, notBefore: nb, notAfter: years(at, 10) }), root, at);
  const tls = await ensureKeyPair(crypto, ring, 'tls', signerProfile({ name: `${name} services`, notBefore: nb, notAfter: years(at, 2), dnsNames: hostnames, serverAuth: true }), root, at);
  return { root, idevidCa, masa, declarations, tls };
}
