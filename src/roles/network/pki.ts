/**
 * The network bootstrapping credentials (report section 5.1.2): the owner's domain CA, which
 * identifies the network owner, and the registrar's and the EAP server's certificates issued by it.
 */
import type { KeyRing, KeyPair } from '../../adapters/store/key-ring.js';
import { caProfile, radiusServerProfile, registrarProfile } from '../../protocols/x509/profiles.js';
import type { Crypto } from '../../core/ports.js';
import { ensureKeyPair, notBefore, years } from '../shared/pki.js';

export interface NetworkPki {
  domainCa: KeyPair;
  registrar: KeyPair;
  /** The EAP server's certificate (802.1X, docs/RADIUS.md). */
  radius: KeyPair;
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
  const radius = await ensureKeyPair(
    crypto,
    ring,
    'radius-server',
    radiusServerProfile({
      name: `${ownerName} RADIUS`,
      dnsNames: hostnames,
      notBefore: nb,
      notAfter: years(at, 2),
    }),
    domainCa,
    at,
  );
  return { domainCa, registrar, radius };
}
