/**
 * `idevid-issuer` (RFC 8366bis, ietf-voucher YANG): the keyIdentifier of the pledge IDevID's
 * AuthorityKeyIdentifier extension (RFC 5280 section 4.2.1.1). The MASA sets it; the pledge
 * and the registrar compare it with the IDevID they hold.
 */
import { AirlockError } from '../../core/errors.js';
import { equalBytes, fromBase64 } from '../../core/bytes.js';
import type { Certificate } from '../x509/certificate.js';
import { DerReader, Tag } from '../x509/der.js';
import { Oid } from '../x509/oids.js';

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
export function authorityKeyIdentifier(cert: Certificate): Uint8Array | undefined {
  const value = cert.extensions.get(Oid.authorityKeyIdentifier);
  if (!value) return undefined;
  const outer = new DerReader(value, 'ERR_CERT_MALFORMED');
  const aki = outer.enter(Tag.SEQUENCE);
  outer.end();
  const keyId = aki.readOptional(0x80);
  return keyId && keyId.value.length > 0 ? keyId.value : undefined;
}

/**
 * A voucher's `idevid-issuer`, when present, names the issuer of `idevid`: mismatch is
 * ERR_VOUCHER_IDEVID_ISSUER (also when the IDevID carries no AuthorityKeyIdentifier).
 */
export function checkIdevidIssuer(
  idevidIssuer: string | undefined,
  expected: Uint8Array | undefined,
): void {
  if (idevidIssuer === undefined) return;
  const named = fromBase64(idevidIssuer);
  if (!named || !expected || !equalBytes(named, expected))
    throw new AirlockError('ERR_VOUCHER_IDEVID_ISSUER');
}
