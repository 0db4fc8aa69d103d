/**
 * The manufacturer's PKI. Each purpose has its own issuing CA under the root, so that a key
 * certified for one purpose can never pass for another: a device's birth key (IDevID CA) or the
 * services' TLS key cannot sign a voucher (MASA CA) or a declaration (declarations CA). Devices
 * trust the MASA CA for vouchers and the declarations CA for declarations, not the root.
 */
import type { KeyRing, KeyPair } from '../../adapters/store/key-ring.js';
import { caProfile, signerProfile } from '../../protocols/x509/profiles.js';
import type { Crypto } from '../../core/ports.js';
import { ensureKeyPair, notBefore, years } from '../shared/pki.js';

export interface ManufacturerPki {
  root: KeyPair;
  idevidCa: KeyPair;
  masaCa: KeyPair;
  masa: KeyPair;
  declarationsCa: KeyPair;
  declarations: KeyPair;
  tls: KeyPair;
}

export async function openManufacturerPki(
  crypto: Crypto,
  ring: KeyRing,
  name: string,
  hostnames: string[],
  at: Date,
): Promise<ManufacturerPki> {
  const nb = notBefore(at);
  const ca = (label: string, issuer: KeyPair | 'self', pathLength?: number) =>
    ensureKeyPair(
      crypto,
      ring,
      label,
      caProfile({
        name: `${name} ${label.replace(/-ca$/, '').toUpperCase()} CA`,
        notBefore: nb,
        notAfter: years(at, 30),
        ...(pathLength === undefined ? {} : { pathLength }),
      }),
      issuer,
      at,
    );
  const root = await ca('root-ca', 'self');
  const idevidCa = await ca('idevid-ca', root, 0);
  const masaCa = await ca('masa-ca', root, 0);
  const declarationsCa = await ca('declarations-ca', root, 0);
  const masa = await ensureKeyPair(
    crypto,
    ring,
    'masa',
    signerProfile({ name: `${name} MASA`, notBefore: nb, notAfter: years(at, 10) }),
    masaCa,
    at,
  );
  const declarations = await ensureKeyPair(
    crypto,
    ring,
    'declarations',
    signerProfile({ name: `${name} Declarations`, notBefore: nb, notAfter: years(at, 10) }),
    declarationsCa,
    at,
  );
  const tls = await ensureKeyPair(
    crypto,
    ring,
    'tls',
    signerProfile({
      name: `${name} services`,
      notBefore: nb,
      notAfter: years(at, 2),
      dnsNames: hostnames,
      serverAuth: true,
    }),
    root,
    at,
  );
  return { root, idevidCa, masaCa, masa, declarationsCa, declarations, tls };
}
