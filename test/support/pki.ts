/** Small PKIs for protocol tests, made with the project's own issuer. */
import {
  generateP256Key,
  NodeCrypto,
  type NodePrivateKey,
} from '../../src/adapters/crypto/node-crypto.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import type { Certificate } from '../../src/protocols/x509/certificate.js';
import {
  caProfile,
  idevidProfile,
  signerProfile,
  type CertificateTemplate,
} from '../../src/protocols/x509/profiles.js';

export const crypto = new NodeCrypto();

export interface Pair {
  key: NodePrivateKey;
  cert: Certificate;
}

export async function issue(template: CertificateTemplate, issuer?: Pair): Promise<Pair> {
  const key = generateP256Key();
  return {
    key,
    cert: issueCertificate(
      crypto,
      template,
      key.spki,
      issuer ? { key: issuer.key, cert: issuer.cert } : { key },
    ),
  };
}

export const T0 = new Date('2026-01-01T00:00:00Z');
const inYears = (n: number) => new Date(T0.getTime() + n * 365 * 86_400_000);

export async function manufacturerPki(name = 'Test Maker') {
  const root = await issue(
    caProfile({ name: `${name} Root`, notBefore: T0, notAfter: inYears(20) }),
  );
  const idevidCa = await issue(
    caProfile({ name: `${name} IDevID CA`, notBefore: T0, notAfter: inYears(20), pathLength: 0 }),
    root,
  );
  const signer = await issue(
    signerProfile({ name: `${name} Signer`, notBefore: T0, notAfter: inYears(5) }),
    root,
  );
  const declarationsCa = await issue(
    caProfile({
      name: `${name} Declarations CA`,
      notBefore: T0,
      notAfter: inYears(20),
      pathLength: 0,
    }),
    root,
  );
  const declarationSigner = await issue(
    signerProfile({ name: `${name} Declarations`, notBefore: T0, notAfter: inYears(5) }),
    declarationsCa,
  );
  const masaCa = await issue(
    caProfile({ name: `${name} MASA CA`, notBefore: T0, notAfter: inYears(20), pathLength: 0 }),
    root,
  );
  const masaSigner = await issue(
    signerProfile({ name: `${name} MASA`, notBefore: T0, notAfter: inYears(5) }),
    masaCa,
  );
  return { root, idevidCa, signer, declarationsCa, declarationSigner, masaCa, masaSigner };
}

export async function device(
  idevidCa: Pair,
  serialNumber: string,
  masaUrl = 'https://masa.example:8443',
) {
  return issue(
    idevidProfile({
      serialNumber,
      model: 'm1',
      manufacturer: 'Test Maker',
      masaUrl,
      mudUrl: 'https://mud.example/m1.json',
      notBefore: T0,
    }),
    idevidCa,
  );
}
