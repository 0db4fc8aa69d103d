/**
 * Signing CRLs (RFC 5280 section 5) with @peculiar/x509: rare, off the hot path.
 * Certificates are issued by src/protocols/x509/issue.ts.
 */
import 'reflect-metadata';
import * as nodeCrypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { PrivateKeyHandle } from '../../core/ports.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { toCryptoKey } from './node-crypto.js';

x509.cryptoProvider.set(nodeCrypto.webcrypto as unknown as globalThis.Crypto);

const ES256 = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface Issuer {
  key: PrivateKeyHandle;
  cert: Certificate;
}

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: 'superseded' | 'cessationOfOperation' | 'keyCompromise' | 'unspecified';
}

export async function issueCrl(issuer: Issuer, entries: readonly RevokedEntry[], thisUpdate: Date, nextUpdate: Date): Promise<Uint8Array> {
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
