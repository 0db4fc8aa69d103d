/**
 * Issuing certificates (RFC 5280 section 4.1) from the templates in profiles.ts: the
 * TBSCertificate is built here with the DER writer and signed through the Crypto port. This
 * is on the onboarding hot path (one LDevID per device): @peculiar/x509's generator took
 * about 1 ms and several async hops per certificate; this takes one ECDSA signature.
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { DerReader, Tag, encodeOid, tlv } from './der.js';
import { Oid } from './oids.js';
import { parseCertificate, type Certificate } from './certificate.js';
import type { CertificateTemplate, NameAttribute } from './profiles.js';
import { p1363ToDer } from './ecdsa.js';

export interface Issuer {
  key: PrivateKeyHandle;
  /** Absent for a self-signed certificate. */
  cert?: Certificate;
}

const KEY_USAGE_BITS: Record<CertificateTemplate['keyUsage'][number], number> = {
  digitalSignature: 0,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
};

export function issueCertificate(
  crypto: Crypto,
  template: CertificateTemplate,
  subjectSpki: Uint8Array,
  issuer: Issuer,
): Certificate {
  const subjectName = encodeName(template.subject);
  const issuerName = issuer.cert ? issuer.cert.subjectDer : subjectName;
  const ski = keyIdentifier(crypto, subjectSpki);
  const aki = issuer.cert
    ? (subjectKeyIdentifier(issuer.cert) ?? keyIdentifier(crypto, issuer.cert.spki))
    : ski;
  const extensions: Uint8Array[] = [
    extension(
      Oid.basicConstraints,
      true,
      tlv(
        Tag.SEQUENCE,
        ...(template.ca
          ? [
              tlv(Tag.BOOLEAN, new Uint8Array([0xff])),
              ...(template.ca.pathLength === undefined ? [] : [integer(template.ca.pathLength)]),
            ]
          : []),
      ),
    ),
    extension(Oid.keyUsage, true, bitString(template.keyUsage.map((u) => KEY_USAGE_BITS[u]))),
    extension(Oid.subjectKeyIdentifier, false, tlv(Tag.OCTET_STRING, ski)),
    extension(Oid.authorityKeyIdentifier, false, tlv(Tag.SEQUENCE, tlv(0x80, aki))),
  ];
  if (template.extendedKeyUsage?.length)
    extensions.push(
      extension(
        Oid.extKeyUsage,
        false,
        tlv(Tag.SEQUENCE, ...template.extendedKeyUsage.map(encodeOid)),
      ),
    );
  if (template.dnsNames?.length)
    extensions.push(
      extension(
        Oid.subjectAltName,
        false,
        tlv(Tag.SEQUENCE, ...template.dnsNames.map(generalName)),
      ),
    );
  if (template.crlDistributionPoints?.length) {
    // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }
    extensions.push(
      extension(
        CRL_DISTRIBUTION_POINTS,
        false,
        tlv(
          Tag.SEQUENCE,
          ...template.crlDistributionPoints.map((uri) =>
            tlv(Tag.SEQUENCE, tlv(0xa0, tlv(0xa0, tlv(0x86, ascii(uri))))),
          ),
        ),
      ),
    );
  }
  for (const e of template.extra ?? []) extensions.push(extension(e.oid, e.critical, e.value));

  const serial = crypto.bytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const algorithm = tlv(Tag.SEQUENCE, encodeOid(Oid.ecdsaWithSha256));
  const tbs = tlv(
    Tag.SEQUENCE,
    tlv(0xa0, integer(2)),
    tlv(Tag.INTEGER, serial),
    algorithm,
    issuerName,
    tlv(Tag.SEQUENCE, time(template.notBefore), time(template.notAfter)),
    subjectName,
    subjectSpki,
    tlv(0xa3, tlv(Tag.SEQUENCE, ...extensions)),
  );
  const signature = p1363ToDer(crypto.signEs256(issuer.key, tbs));
  return parseCertificate(
    tlv(Tag.SEQUENCE, tbs, algorithm, tlv(Tag.BIT_STRING, new Uint8Array([0]), signature)),
  );
}

const CRL_DISTRIBUTION_POINTS = '2.5.29.31';
const CRL_NUMBER = '2.5.29.20';
const CRL_REASON = '2.5.29.21';

/** RFC 5280 section 5.3.1 CRLReason codes. */
const CRL_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  superseded: 4,
  cessationOfOperation: 5,
} as const;

export interface RevokedEntry {
  /** The certificate serial number in hex, as `Certificate.serial` gives it. */
  serial: string;
  revokedAt: Date;
  reason: keyof typeof CRL_REASONS;
}

/**
 * A version 2 CRL (RFC 5280 section 5), signed ecdsa-with-SHA256 by the issuing CA: its issuer
 * is the CA certificate's subject, byte for byte (section 5.1.2.3); its authorityKeyIdentifier
 * is the CA's subjectKeyIdentifier (section 5.2.1); it carries `crlNumber` (section 5.2.3),
 * which the caller keeps monotonic.
 */
export function issueCrl(
  crypto: Crypto,
  issuer: Required<Issuer>,
  crl: { entries: readonly RevokedEntry[]; thisUpdate: Date; nextUpdate: Date; crlNumber: number },
): Uint8Array {
  if (!Number.isSafeInteger(crl.crlNumber) || crl.crlNumber < 0)
    throw new AirlockError('ERR_INTERNAL', 'bad CRL number');
  const aki = subjectKeyIdentifier(issuer.cert) ?? keyIdentifier(crypto, issuer.cert.spki);
  const algorithm = tlv(Tag.SEQUENCE, encodeOid(Oid.ecdsaWithSha256));
  const revoked = crl.entries.map((e) => {
    const entryExtensions =
      e.reason === 'unspecified'
        ? []
        : [
            tlv(
              Tag.SEQUENCE,
              extension(CRL_REASON, false, tlv(0x0a, new Uint8Array([CRL_REASONS[e.reason]]))),
            ),
          ];
    return tlv(
      Tag.SEQUENCE,
      tlv(Tag.INTEGER, unsignedInteger(hexBytes(e.serial))),
      time(e.revokedAt),
      ...entryExtensions,
    );
  });
  const tbs = tlv(
    Tag.SEQUENCE,
    tlv(Tag.INTEGER, new Uint8Array([1])),
    algorithm,
    issuer.cert.subjectDer,
    time(crl.thisUpdate),
    time(crl.nextUpdate),
    ...(revoked.length ? [tlv(Tag.SEQUENCE, ...revoked)] : []),
    tlv(
      0xa0,
      tlv(
        Tag.SEQUENCE,
        extension(Oid.authorityKeyIdentifier, false, tlv(Tag.SEQUENCE, tlv(0x80, aki))),
        extension(CRL_NUMBER, false, tlv(Tag.INTEGER, unsignedInteger(numberBytes(crl.crlNumber)))),
      ),
    ),
  );
  const signature = p1363ToDer(crypto.signEs256(issuer.key, tbs));
  return tlv(Tag.SEQUENCE, tbs, algorithm, tlv(Tag.BIT_STRING, new Uint8Array([0]), signature));
}

/** A non-negative INTEGER's contents: minimal, with a leading zero when the top bit is set. */
function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return new Uint8Array([0]);
  if (m[0]! & 0x80) {
    const out = new Uint8Array(m.length + 1);
    out.set(m, 1);
    return out;
  }
  return m;
}

function hexBytes(hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new AirlockError('ERR_INTERNAL', 'bad serial number');
  const h = hex.length % 2 ? `0${hex}` : hex;
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function numberBytes(n: number): Uint8Array {
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return new Uint8Array(out.length ? out : [0]);
}

export function encodeName(attrs: readonly NameAttribute[]): Uint8Array {
  return tlv(
    Tag.SEQUENCE,
    ...attrs.map((a) => {
      // countryName and serialNumber are PrintableString (RFC 5280 appendix A); the rest UTF8String.
      const printable =
        (a.oid === '2.5.4.6' || a.oid === Oid.serialNumber) &&
        /^[A-Za-z0-9 '()+,./:=?-]*$/.test(a.value);
      return tlv(
        Tag.SET,
        tlv(
          Tag.SEQUENCE,
          encodeOid(a.oid),
          tlv(printable ? Tag.PrintableString : Tag.UTF8String, new TextEncoder().encode(a.value)),
        ),
      );
    }),
  );
}

/** RFC 7093 section 2 method 1: the leftmost 160 bits of the SHA-256 of the public key bits. */
function keyIdentifier(crypto: Crypto, spki: Uint8Array): Uint8Array {
  const r = new DerReader(spki, 'ERR_CERT_MALFORMED').enter(Tag.SEQUENCE);
  r.read(Tag.SEQUENCE);
  const bits = r.read(Tag.BIT_STRING).value;
  return crypto.sha256(bits.subarray(1)).subarray(0, 20);
}

function subjectKeyIdentifier(cert: Certificate): Uint8Array | undefined {
  const v = cert.extensions.get(Oid.subjectKeyIdentifier);
  return v ? new DerReader(v, 'ERR_CERT_MALFORMED').read(Tag.OCTET_STRING).value : undefined;
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return tlv(
    Tag.SEQUENCE,
    encodeOid(oid),
    ...(critical ? [tlv(Tag.BOOLEAN, new Uint8Array([0xff]))] : []),
    tlv(Tag.OCTET_STRING, value),
  );
}

function integer(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 127)
    throw new AirlockError('ERR_INTERNAL', 'small integers only');
  return tlv(Tag.INTEGER, new Uint8Array([n]));
}

/** A named-bit BIT STRING in DER: trailing zero bits dropped. */
function bitString(bits: number[]): Uint8Array {
  const max = Math.max(...bits);
  const bytes = new Uint8Array((max >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (max & 7);
  return tlv(Tag.BIT_STRING, new Uint8Array([unused]), bytes);
}

function time(d: Date): Uint8Array {
  const iso = d.toISOString();
  const y = d.getUTCFullYear();
  const body = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return y >= 1950 && y < 2050
    ? tlv(Tag.UTCTime, ascii(body.slice(2)))
    : tlv(Tag.GeneralizedTime, ascii(body));
}

/** dNSName [2], or iPAddress [7] for an IPv4 dotted quad. */
function generalName(name: string): Uint8Array {
  const ip = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  if (ip && ip.slice(1).every((o) => Number(o) <= 255))
    return tlv(0x87, new Uint8Array(ip.slice(1).map(Number)));
  return tlv(0x82, ascii(name));
}

function ascii(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
