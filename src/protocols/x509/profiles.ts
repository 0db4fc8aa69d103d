/**
 * Certificate profiles: what each kind of certificate in Airlock contains. Pure data; the
 * crypto adapter turns a template into a signed certificate.
 */
import { Oid } from './oids.js';
import { encodeIa5String } from './ia5-extension.js';

/** One attribute of a distinguished name, in order, each its own RDN. */
export interface NameAttribute {
  oid: string;
  value: string;
}

export const cn = (value: string): NameAttribute => ({ oid: '2.5.4.3', value });
export const org = (value: string): NameAttribute => ({ oid: '2.5.4.10', value });
export const serialNumberAttr = (value: string): NameAttribute => ({
  oid: Oid.serialNumber,
  value,
});

export interface CertificateTemplate {
  subject: NameAttribute[];
  notBefore: Date;
  notAfter: Date;
  ca: { pathLength?: number } | false;
  keyUsage: Array<'digitalSignature' | 'keyCertSign' | 'cRLSign' | 'keyAgreement'>;
  extendedKeyUsage?: string[];
  /** subjectAltName entries: host names, and IPv4 addresses written as dotted quads. */
  dnsNames?: string[];
  /** cRLDistributionPoints: one distribution point per URI (fullName). */
  crlDistributionPoints?: string[];
  /** Extensions carried verbatim: OID, DER value, criticality. */
  extra?: Array<{ oid: string; value: Uint8Array; critical: boolean }>;
}

/** IEEE 802.1AR: an IDevID never expires (RFC 5280 section 4.1.2.5, GeneralizedTime 99991231235959Z). */
export const IDEVID_NOT_AFTER = new Date('9999-12-31T23:59:59Z');

export interface IdevidFields {
  serialNumber: string;
  model: string;
  manufacturer: string;
  masaUrl: string;
  mudUrl?: string;
  notBefore: Date;
}

export function idevidProfile(f: IdevidFields): CertificateTemplate {
  const extra: NonNullable<CertificateTemplate['extra']> = [
    { oid: Oid.masaUrl, value: encodeIa5String(f.masaUrl), critical: false },
  ];
  if (f.mudUrl) extra.push({ oid: Oid.mudUrl, value: encodeIa5String(f.mudUrl), critical: false });
  return {
    subject: [cn(f.model), org(f.manufacturer), serialNumberAttr(f.serialNumber)],
    notBefore: f.notBefore,
    notAfter: IDEVID_NOT_AFTER,
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: [Oid.clientAuth],
    extra,
  };
}

/**
 * A device's attestation key (docs/ATTESTATION.md): issued at minting by the manufacturer's
 * attestation CA, it signs the device's evidence (EAT) and nothing else. The subject names the
 * device as its IDevID does (serial number, model, manufacturer); like an IDevID it never
 * expires, for a device's evidence must verify for as long as the device lives.
 */
export function attestationKeyProfile(f: {
  serialNumber: string;
  model: string;
  manufacturer: string;
  notBefore: Date;
}): CertificateTemplate {
  return {
    subject: [serialNumberAttr(f.serialNumber), cn(f.model), org(f.manufacturer)],
    notBefore: f.notBefore,
    notAfter: IDEVID_NOT_AFTER,
    ca: false,
    keyUsage: ['digitalSignature'],
  };
}

/**
 * The locally significant device identity issued by the domain CA (step 15). With `crlUrl`,
 * a cRLDistributionPoints extension (RFC 5280 section 4.2.1.13) names where the CRL is served.
 */
export function ldevidProfile(f: {
  serialNumber: string;
  domain: string;
  notBefore: Date;
  notAfter: Date;
  crlUrl?: string;
}): CertificateTemplate {
  return {
    ...(f.crlUrl ? { crlDistributionPoints: [f.crlUrl] } : {}),
    subject: [cn(f.serialNumber), serialNumberAttr(f.serialNumber), org(f.domain)],
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage: [Oid.clientAuth],
  };
}

type ServerFields = { name: string; dnsNames: string[]; notBefore: Date; notAfter: Date };

/** A server's certificate of the domain, for the extended key usages given. */
function serverProfile(f: ServerFields, extendedKeyUsage: string[]): CertificateTemplate {
  return {
    subject: [cn(f.name)],
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    ca: false,
    keyUsage: ['digitalSignature'],
    extendedKeyUsage,
    dnsNames: f.dnsNames,
  };
}

/** RFC 8995 section 2.3.2 and 5.3: the registrar's TLS certificate, with id-kp-cmcRA. */
export function registrarProfile(f: ServerFields): CertificateTemplate {
  return serverProfile(f, [Oid.serverAuth, Oid.clientAuth, Oid.cmcRA]);
}

/**
 * The network's EAP server certificate (RFC 5216 section 5.3): what a device's 802.1X
 * supplicant verifies against the owner's domain CA before it sends its own certificate.
 */
export function radiusServerProfile(f: ServerFields): CertificateTemplate {
  return serverProfile(f, [Oid.serverAuth]);
}

export function caProfile(f: {
  name: string;
  notBefore: Date;
  notAfter: Date;
  pathLength?: number;
}): CertificateTemplate {
  return {
    subject: [cn(f.name)],
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    ca: f.pathLength === undefined ? {} : { pathLength: f.pathLength },
    keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
  };
}

/** A signing certificate (MASA, declarations, TLS server). */
export function signerProfile(f: {
  name: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames?: string[];
  serverAuth?: boolean;
}): CertificateTemplate {
  return {
    subject: [cn(f.name)],
    notBefore: f.notBefore,
    notAfter: f.notAfter,
    ca: false,
    keyUsage: ['digitalSignature'],
    ...(f.serverAuth ? { extendedKeyUsage: [Oid.serverAuth] } : {}),
    ...(f.dnsNames ? { dnsNames: f.dnsNames } : {}),
  };
}
