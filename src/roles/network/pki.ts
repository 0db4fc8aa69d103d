/**
 * The network bootstrapping credentials (report section 5.1.2): the owner's domain CA, which
 * identifies the network owner, and the registrar's certificate issued by it.
 */
import type { KeyRing, KeyPair } from '../../adapters/store/key-ring.js';
import { caProfile, registrarProfile } from '../../protocols/x509/profiles.js';
import type { Crypto } from '../../core/ports.js';
import { ensureKeyPair, notBefore, years } from '../shared/pki.js';

export interface NetworkPki {
  domainCa: KeyPair;
  registrar: KeyPair;
}

export async function openNetworkPki(
  crypto: Crypto,
  ring: KeyRing,
  ownerName: string,
  hostnames: string[],
  at: Date,
): Promise<NetworkPki> {
  const nb = notBefore(at);
  const domainCa = await ensureKeyPair(
    crypto,
    ring,
    'domain-ca',
    caProfile({
      name: `${ownerName} Domain CA`,
      notBefore: nb,
      notAfter: years(at, 20),
      pathLength: 0,
    }),
    'self',
    at,
  );
  const registrar = await ensureKeyPair(
    crypto,
    ring,
    'registrar',
    registrarProfile({
      name: `${ownerName} Registrar`,
      dnsNames: hostnames,
      notBefore: nb,
      notAfter: years(at, 2),
    }),
    domainCa,
    at,
  );
  return { domainCa, registrar };
}
