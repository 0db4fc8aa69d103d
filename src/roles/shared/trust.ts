/**
 * What a network installs to trust one manufacturer (report section 5.1.2): each CA for its
 * one purpose. The root authenticates the manufacturer's services (TLS to the MASA) and names
 * the manufacturer as a party; the others are the only anchors for what they issue.
 */
import { AirlockError } from '../../core/errors.js';
import { toBase64 } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import { parseCertificateBase64, type Certificate } from '../../protocols/x509/certificate.js';

export interface ManufacturerTrust {
  root: Certificate;
  /** Issues birth certificates (IDevIDs). */
  idevidCa: Certificate;
  /** Issues the MASA's voucher-signing certificates. */
  masaCa: Certificate;
  /** Issues the declaration-signing certificates. */
  declarationsCa: Certificate;
}

/** The trust bundle as a file a network administrator installs: base64 DER of each CA. */
export interface ManufacturerTrustFile {
  format: 'airlock-manufacturer-trust/1';
  root: string;
  idevidCa: string;
  masaCa: string;
  declarationsCa: string;
}

export function encodeTrustFile(t: ManufacturerTrust): ManufacturerTrustFile {
  return { format: 'airlock-manufacturer-trust/1', root: toBase64(t.root.der), idevidCa: toBase64(t.idevidCa.der), masaCa: toBase64(t.masaCa.der), declarationsCa: toBase64(t.declarationsCa.der) };
}

/** Reads a trust file; each purpose CA must be a CA certified by the root. */
export function decodeTrustFile(crypto: Crypto, json: unknown, at: Date): ManufacturerTrust {
  const f = json as Partial<ManufacturerTrustFile> | null;
  if (!f || f.format !== 'airlock-manufacturer-trust/1') throw new AirlockError('ERR_CONFIG', 'not an Airlock manufacturer trust file');
  const cert = (b64: unknown) => {
    if (typeof b64 !== 'string') throw new AirlockError('ERR_CONFIG', 'a certificate is missing from the trust file');
    return parseCertificateBase64(b64);
  };
  const t: ManufacturerTrust = { root: cert(f.root), idevidCa: cert(f.idevidCa), masaCa: cert(f.masaCa), declarationsCa: cert(f.declarationsCa) };
  for (const ca of [t.idevidCa, t.masaCa, t.declarationsCa]) {
    if (!ca.isCa) throw new AirlockError('ERR_CONFIG', `${ca.subject} is not a CA`);
    verifyChain(crypto, { leaf: ca, anchors: [t.root], at });
  }
  return t;
}
