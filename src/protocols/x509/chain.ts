/**
 * Certification path validation, as much of RFC 5280 section 6 as Airlock's PKIs need:
 * each certificate is signed by the next, intermediates and anchors are CAs, every
 * certificate is inside its validity period at `at`, and the path ends at a trust anchor
 * (matched by exact DER, or by issuer Name bytes and signature). Fails closed with a typed error.
 */
import { AirlockError } from '../../core/errors.js';
import { equalBytes } from '../../core/bytes.js';
import type { Crypto } from '../../core/ports.js';
import type { Certificate } from './certificate.js';
import { Oid } from './oids.js';

export interface ChainInput {
  leaf: Certificate;
  intermediates?: readonly Certificate[];
  anchors: readonly Certificate[];
  at: Date;
  /** Maximum number of certificates between leaf and anchor. */
  maxIntermediates?: number;
}

/** Returns the path from the leaf to the anchor that validates it, anchor last. */
export function verifyChain(crypto: Crypto, input: ChainInput): Certificate[] {
  const { leaf, anchors, at } = input;
  const pool = input.intermediates ?? [];
  const max = input.maxIntermediates ?? 3;
  const path: Certificate[] = [leaf];
  checkCertificate(leaf, at, 'leaf');
  let current = leaf;
  for (let depth = 0; depth <= max; depth++) {
    for (const anchor of anchors) {
      if (equalBytes(anchor.der, current.der)) return path;
      if (equalBytes(anchor.subjectDer, current.issuerDer) && signedBy(crypto, current, anchor)) {
        if (!anchor.isCa) throw new AirlockError('ERR_CERT_UNTRUSTED', 'the anchor is not a CA');
        checkCertificate(anchor, at, 'issuer');
        checkPathLength(anchor, path);
        path.push(anchor);
        return path;
      }
    }
    const issuer = pool.find(
      (c) => equalBytes(c.subjectDer, current.issuerDer) && !equalBytes(c.der, current.der),
    );
    if (!issuer || !issuer.isCa || !signedBy(crypto, current, issuer)) break;
    checkCertificate(issuer, at, 'issuer');
    checkPathLength(issuer, path);
    path.push(issuer);
    current = issuer;
  }
  throw new AirlockError('ERR_CERT_UNTRUSTED', `no path from "${leaf.subject}" to a trust anchor`);
}

/** ES256 (the only algorithm Airlock issues) on the fast path; anything else through the port. */
function signedBy(crypto: Crypto, cert: Certificate, issuer: Certificate): boolean {
  if (cert.signatureAlgorithm === Oid.ecdsaWithSha256)
    return crypto.verifyEs256(issuer.spki, cert.tbs, cert.signature, 'der');
  return crypto.verifyCertificateSignature(cert.der, issuer.spki);
}

/** The critical extensions Airlock understands (RFC 5280 section 4.2: refuse any other). */
const UNDERSTOOD = new Set<string>([
  Oid.basicConstraints,
  Oid.keyUsage,
  Oid.extKeyUsage,
  Oid.subjectAltName,
]);
const KEY_CERT_SIGN = 1 << 5;

function checkCertificate(c: Certificate, at: Date, role: 'leaf' | 'issuer'): void {
  const unknown = c.criticalExtensions.find((oid) => !UNDERSTOOD.has(oid));
  if (unknown)
    throw new AirlockError(
      'ERR_CERT_UNTRUSTED',
      `"${c.subject}" has a critical extension ${unknown} that is not understood`,
    );
  if (role === 'issuer' && c.keyUsage !== undefined && (c.keyUsage & KEY_CERT_SIGN) === 0)
    throw new AirlockError('ERR_CERT_UNTRUSTED', `"${c.subject}" may not sign certificates`);
  checkValidity(c, at);
}

/** RFC 5280 section 4.2.1.9: no more CAs below an issuer than its pathLenConstraint allows. */
function checkPathLength(issuer: Certificate, below: readonly Certificate[]): void {
  const intermediates = below.length - 1;
  if (issuer.pathLength !== undefined && intermediates > issuer.pathLength) {
    throw new AirlockError(
      'ERR_CERT_UNTRUSTED',
      `"${issuer.subject}" allows ${issuer.pathLength} CA(s) below it, the path has ${intermediates}`,
    );
  }
}

function checkValidity(c: Certificate, at: Date): void {
  if (at < c.notBefore || at > c.notAfter) {
    throw new AirlockError(
      'ERR_CERT_EXPIRED',
      `"${c.subject}" is valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()}`,
    );
  }
}
