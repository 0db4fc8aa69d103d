/**
 * The manufacturer's PKI. Each purpose has its own issuing CA under the root, so that a key
 * certified for one purpose can never pass for another: a device's birth key (IDevID CA) or the
 * services' TLS key cannot sign a voucher (MASA CA) or a declaration (declarations CA). Devices
 * trust the MASA CA for vouchers and the declarations CA for declarations, not the root.
 *
 * Attestation (docs/ATTESTATION.md): the attestation CA certifies the attestation key each
 * device of a secure-boot model gets at minting; the endorsements signer, under its own CA,
 * signs the reference values and the supply-chain evidence of devices that cannot attest. The
 * MUD signer, under its own CA, signs each model's MUD file (docs/INTENT.md). A database made
 * before these existed gets them the next time it is opened.
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
  /** Certifies the devices' attestation keys (pathLen 0 under the root). */
  attestationCa: KeyPair;
  /** Issues the endorsements signer's certificate (pathLen 0 under the root). */
  endorsementsCa: KeyPair;
  /** Signs the reference values and supply-chain evidence. */
  endorsements: KeyPair;
  /** Issues the MUD signer's certificate (pathLen 0 under the root). */
  mudCa: KeyPair;
  /** Signs the models' MUD files (RFC 8520 section 13). */
  mud: KeyPair;
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
  const attestationCa = await ca('attestation-ca', root, 0);
  const endorsementsCa = await ca('endorsements-ca', root, 0);
  const endorsements = await ensureKeyPair(
    crypto,
    ring,
    'endorsements',
    signerProfile({ name: `${name} Endorsements`, notBefore: nb, notAfter: years(at, 10) }),
    endorsementsCa,
    at,
  );
  const mudCa = await ca('mud-ca', root, 0);
  const mud = await ensureKeyPair(
    crypto,
    ring,
    'mud',
    signerProfile({ name: `${name} MUD`, notBefore: nb, notAfter: years(at, 10) }),
    mudCa,
    at,
  );
  return {
    mudCa,
    mud,
    root,
    idevidCa,
    masaCa,
    masa,
    declarationsCa,
    declarations,
    tls,
    attestationCa,
    endorsementsCa,
    endorsements,
  };
}
