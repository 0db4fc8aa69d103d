/**
 * Signing certificates and CRLs from the templates in src/protocols/x509/profiles.ts.
 */
import 'reflect-metadata';
import * as nodeCrypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { PrivateKeyHandle } from '../../core/ports.js';
import type { CertificateTemplate } from '../../protocols/x509/profiles.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { toCryptoKey } from './node-crypto.js';

x509.cryptoProvider.set(nodeCrypto.webcrypto as unknown as globalThis.Crypto);

const ES256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

const usageFlags: Record<CertificateTemplate['keyUsage'][number], x509.KeyUsageFlags> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
};

export interface Issuer {
  key: PrivateKeyHandle;
  /** Absent for a self-signed certificate. */
  cert?: Certificate;
}

/** Issues a certificate for `subjectSpki` and returns its DER. */
export async function issueCertificate(template: CertificateTemplate, subjectSpki: Uint8Array, issuer: Issuer): Promise<Uint8Array> {
  const publicKey = new x509.PublicKey(subjectSpki as Uint8Array<ArrayBuffer>);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(template.ca !== false, template.ca ? template.ca.pathLength : undefined, true),
    new x509.KeyUsagesExtension(template.keyUsage.reduce((f, u) => f | usageFlags[u], 0), true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
  if (issuer.cert) {
    const issuerKey = new x509.PublicKey(issuer.cert.spki as Uint8Array<ArrayBuffer>);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerKey));
  }
  if (template.extendedKeyUsage) extensions.push(new x509.ExtendedKeyUsageExtension(template.extendedKeyUsage));
  if (template.dnsNames?.length) extensions.push(new x509.SubjectAlternativeNameExtension(template.dnsNames.map((value) => ({ type: 'dns' as const, value }))));
  for (const e of template.extra ?? []) extensions.push(new x509.Extension(e.oid, e.critical, e.value as Uint8Array<ArrayBuffer>));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: template.subject,
    issuer: issuer.cert?.subject ?? template.subject,
    notBefore: template.notBefore,
    notAfter: template.notAfter,
    publicKey,
    signingKey: await toCryptoKey(issuer.key),
    signingAlgorithm: ES256,
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: 'superseded' | 'cessationOfOperation' | 'keyCompromise' | 'unspecified';
}

export async function issueCrl(issuer: Required<Issuer>, entries: readonly RevokedEntry[], thisUpdate: Date, nextUpdate: Date): Promise<Uint8Array> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    thisUpdate,
    nextUpdate,
    signingAlgorithm: ES256,
    signingKey: await toCryptoKey(issuer.key),
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(new x509.PublicKey(issuer.cert.spki as Uint8Array<ArrayBuffer>))],
    entries: entries.map((e) => ({ serialNumber: e.serial, revocationDate: e.revokedAt, reason: x509.X509CrlReason[e.reason] })),
  });
  return new Uint8Array(crl.rawData);
}

/** 16 random bytes, first bit clear so the INTEGER stays positive (RFC 5280 section 4.1.2.2). */
function serialNumber(): string {
  const b = nodeCrypto.randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}
