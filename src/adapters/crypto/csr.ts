/**
 * A device-side PKCS#10 request for a fresh P-256 key generated on the device.
 */
import 'reflect-metadata';
import * as nodeCrypto from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { importPkcs8, type NodePrivateKey } from './node-crypto.js';

export async function generateKeyAndCsr(subject: string): Promise<{ key: NodePrivateKey; csrDer: Uint8Array }> {
  const subtle = nodeCrypto.webcrypto.subtle;
  const keys = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  return { key: importPkcs8(pkcs8), csrDer: new Uint8Array(csr.rawData) };
}
