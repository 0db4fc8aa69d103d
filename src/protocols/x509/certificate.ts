/**
 * A parsed X.509 certificate (RFC 5280 section 4.1): the fields Airlock reads, decoded once
 * with the DER walker in der.ts. Signatures are checked through the Crypto port (chain.ts).
 */
import { AirlockError } from '../../core/errors.js';
import { equalBytes, fromBase64, toHex } from '../../core/bytes.js';
import {
  DerReader,
  Tag,
  checkInteger,
  decodeOid,
  decodeString,
  decodeTime,
  type Tlv,
} from './der.js';
import { Oid } from './oids.js';
import { decodeIa5String } from './ia5-extension.js';

export interface Certificate {
  readonly der: Uint8Array;
  /** The signed part (TBSCertificate), as it appears in `der`. */
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: string;
  /** The signature value (for ECDSA, a DER Ecdsa-Sig-Value). */
  readonly signature: Uint8Array;
  /** RFC 4514-style display string, e.g. `CN=x, O=y, 2.5.4.5=z`. */
  readonly subject: string;
  readonly issuer: string;
  /** Raw DER of the subject and issuer Names: what path building compares. */
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  /** Lower-case hex without leading zero bytes, as OpenSSL prints it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** The X.520 serialNumber attribute of the subject, if any (an IDevID carries one). */
  readonly subjectSerialNumber: string | undefined;
  readonly isCa: boolean;
  /** BasicConstraints pathLenConstraint: how many CAs may follow this one, if limited. */
  readonly pathLength: number | undefined;
  /** KeyUsage bits (bit n of RFC 5280 section 4.2.1.3 is `1 << n`), undefined when absent. */
  readonly keyUsage: number | undefined;
  /** ExtendedKeyUsage purposes, undefined when absent. */
  readonly extendedKeyUsage: readonly string[] | undefined;
  /** OIDs of the extensions marked critical. */
  readonly criticalExtensions: readonly string[];
  /** Extension values (DER, inside the OCTET STRING) by OID. */
  readonly extensions: ReadonlyMap<string, Uint8Array>;
  readonly masaUrl: string | undefined;
  readonly mudUrl: string | undefined;
  readonly selfIssued: boolean;
}

const MAX_CERT_BYTES = 16 * 1024;
const CODE = 'ERR_CERT_MALFORMED';

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
};

export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length === 0 || der.length > MAX_CERT_BYTES) throw new AirlockError(CODE, 'size');
  const outer = new DerReader(der, CODE);
  const cert = outer.enter(Tag.SEQUENCE);
  outer.end();
  const tbsTlv = cert.read(Tag.SEQUENCE);
  const outerAlgorithm = cert.read(Tag.SEQUENCE);
  const signatureAlgorithm = decodeOid(
    new DerReader(outerAlgorithm.value, CODE).read(Tag.OID).value,
  );
  const sigBits = cert.read(Tag.BIT_STRING).value;
  cert.end();
  if (sigBits[0] !== 0) throw new AirlockError(CODE, 'signature has unused bits');

  const tbs = new DerReader(tbsTlv.value, CODE);
  const version = tbs.readOptional(0xa0);
  // [0] EXPLICIT INTEGER 2, byte for byte: the tag and length inside count too.
  if (
    version &&
    !(
      version.value.length === 3 &&
      version.value[0] === Tag.INTEGER &&
      version.value[1] === 1 &&
      version.value[2] === 2
    )
  )
    throw new AirlockError(CODE, 'only X.509 v3 is accepted');
  // RFC 5280 section 4.1.2.2: a serial of no octets, or padded, is not DER (and would print like another).
  const serialBytes = checkInteger(tbs.read(Tag.INTEGER).value, CODE);
  const innerAlgorithm = tbs.read(Tag.SEQUENCE);
  if (!equalBytes(innerAlgorithm.raw, outerAlgorithm.raw))
    throw new AirlockError(CODE, 'the signature algorithms inside and outside differ');
  const issuerTlv = tbs.read(Tag.SEQUENCE);
  const validity = tbs.enter(Tag.SEQUENCE);
  const notBefore = decodeTime(validity.read(), CODE);
  const notAfter = decodeTime(validity.read(), CODE);
  validity.end();
  const subjectTlv = tbs.read(Tag.SEQUENCE);
  const spki = tbs.read(Tag.SEQUENCE).raw;
  tbs.readOptional(0x81);
  tbs.readOptional(0x82);
  const extensions = new Map<string, Uint8Array>();
  const criticalExtensions: string[] = [];
  const extWrapper = tbs.readOptional(0xa3);
  tbs.end();
  if (extWrapper) {
    // RFC 5280 section 4.1.2.1: extensions make it v3, and a certificate without a version is v1.
    if (!version) throw new AirlockError(CODE, 'extensions in a certificate that is not v3');
    const list = new DerReader(extWrapper.value, CODE);
    const exts = list.enter(Tag.SEQUENCE);
    list.end();
    if (exts.done) throw new AirlockError(CODE, 'empty extensions'); // SEQUENCE SIZE (1..MAX)
    while (!exts.done) {
      const e = exts.enter(Tag.SEQUENCE);
      const oid = decodeOid(e.read(Tag.OID).value);
      const critical = e.readOptional(Tag.BOOLEAN);
      if (critical && readBoolean(critical)) criticalExtensions.push(oid);
      const value = e.read(Tag.OCTET_STRING).value;
      e.end();
      if (extensions.has(oid)) throw new AirlockError(CODE, `duplicate extension ${oid}`);
      extensions.set(oid, value);
    }
  }
  const subject = readName(subjectTlv);
  const ia5 = (oid: string) => {
    const v = extensions.get(oid);
    return v === undefined ? undefined : decodeIa5String(v);
  };
  let s = 0;
  while (s < serialBytes.length - 1 && serialBytes[s] === 0) s++;
  return {
    der,
    tbs: tbsTlv.raw,
    signatureAlgorithm,
    signature: sigBits.subarray(1),
    subject: subject.text,
    issuer: readName(issuerTlv).text,
    subjectDer: subjectTlv.raw,
    issuerDer: issuerTlv.raw,
    serial: toHex(serialBytes.subarray(s)),
    notBefore,
    notAfter,
    spki,
    subjectSerialNumber: subject.attributes.get(Oid.serialNumber),
    ...basicConstraints(extensions.get(Oid.basicConstraints)),
    keyUsage: keyUsageBits(extensions.get(Oid.keyUsage)),
    extendedKeyUsage: extendedKeyUsage(extensions.get(Oid.extKeyUsage)),
    criticalExtensions,
    extensions,
    masaUrl: ia5(Oid.masaUrl),
    mudUrl: ia5(Oid.mudUrl),
    selfIssued: equalBytes(subjectTlv.raw, issuerTlv.raw),
  };
}

function readName(name: Tlv): { text: string; attributes: Map<string, string> } {
  const rdns = new DerReader(name.value, CODE);
  const parts: string[] = [];
  const attributes = new Map<string, string>();
  while (!rdns.done) {
    const set = rdns.enter(Tag.SET);
    while (!set.done) {
      const atv = set.enter(Tag.SEQUENCE);
      const oid = decodeOid(atv.read(Tag.OID).value);
      const value = decodeString(atv.read());
      atv.end();
      if (!attributes.has(oid)) attributes.set(oid, value);
      parts.push(`${SHORT_NAMES[oid] ?? oid}=${value}`);
    }
  }
  return { text: parts.join(', '), attributes };
}

function basicConstraints(value: Uint8Array | undefined): {
  isCa: boolean;
  pathLength: number | undefined;
} {
  if (!value) return { isCa: false, pathLength: undefined };
  const outer = new DerReader(value, CODE);
  const bc = outer.enter(Tag.SEQUENCE);
  outer.end();
  const ca = bc.readOptional(Tag.BOOLEAN);
  const len = bc.readOptional(Tag.INTEGER);
  bc.end();
  if (len && (len.value.length !== 1 || len.value[0]! > 0x7f))
    throw new AirlockError(CODE, 'unsupported pathLenConstraint');
  return { isCa: ca !== undefined && readBoolean(ca), pathLength: len ? len.value[0] : undefined };
}

function readBoolean(t: Tlv): boolean {
  if (t.value.length !== 1 || (t.value[0] !== 0 && t.value[0] !== 0xff))
    throw new AirlockError(CODE, 'DER: bad BOOLEAN');
  return t.value[0] === 0xff;
}

function keyUsageBits(value: Uint8Array | undefined): number | undefined {
  if (!value) return undefined;
  const outer = new DerReader(value, CODE);
  const bits = outer.read(Tag.BIT_STRING).value;
  outer.end();
  if (bits.length < 2 || bits[0]! > 7) throw new AirlockError(CODE, 'DER: bad KeyUsage');
  let mask = 0;
  for (let i = 1; i < Math.min(bits.length, 3); i++) {
    for (let b = 0; b < 8; b++) if (bits[i]! & (0x80 >> b)) mask |= 1 << ((i - 1) * 8 + b);
  }
  return mask;
}

function extendedKeyUsage(value: Uint8Array | undefined): string[] | undefined {
  if (!value) return undefined;
  const outer = new DerReader(value, CODE);
  const seq = outer.enter(Tag.SEQUENCE);
  outer.end();
  const out: string[] = [];
  while (!seq.done) out.push(decodeOid(seq.read(Tag.OID).value));
  return out;
}

/** From an `x5c` entry or any base64 DER. */
export function parseCertificateBase64(b64: string): Certificate {
  const der = fromBase64(b64);
  if (!der) throw new AirlockError(CODE, 'not base64');
  return parseCertificate(der);
}

/** X.520 commonName. */
const COMMON_NAME = '2.5.4.3';
/** RFC 4108 section 5: id-on-hardwareModuleName. */
export const ID_ON_HARDWARE_MODULE_NAME = '1.3.6.1.5.5.7.8.4';

/** The subject's first commonName (2.5.4.3), if any: where some vendors put a device's serial. */
export function subjectCommonName(cert: Certificate): string | undefined {
  return readName({
    tag: Tag.SEQUENCE,
    value: new DerReader(cert.subjectDer, CODE).read(Tag.SEQUENCE).value,
    raw: cert.subjectDer,
  }).attributes.get(COMMON_NAME);
}

/** RFC 4108 section 5 HardwareModuleName: the module type and its serial number (octets). */
export interface HardwareModuleName {
  readonly hwType: string;
  readonly hwSerialNum: Uint8Array;
}

/**
 * The hardwareModuleName in the subjectAltName otherName (id-on-hardwareModuleName,
 * 1.3.6.1.5.5.7.8.4; RFC 8995 section 2.3.1 names it as a place for the serial number).
 * Other otherNames (a vendor's private OID) are not it. Undefined when absent.
 */
export function hardwareModuleName(cert: Certificate): HardwareModuleName | undefined {
  const san = cert.extensions.get(Oid.subjectAltName);
  if (!san) return undefined;
  const outer = new DerReader(san, CODE);
  const names = outer.enter(Tag.SEQUENCE);
  outer.end();
  while (!names.done) {
    const gn = names.read();
    if (gn.tag !== 0xa0) continue; // [0] otherName; the other GeneralName forms are not it
    const other = new DerReader(gn.value, CODE);
    const typeId = decodeOid(other.read(Tag.OID).value);
    if (typeId !== ID_ON_HARDWARE_MODULE_NAME) continue;
    const explicit = other.enter(0xa0);
    other.end();
    const hmn = explicit.enter(Tag.SEQUENCE);
    explicit.end();
    const hwType = decodeOid(hmn.read(Tag.OID).value);
    const hwSerialNum = hmn.read(Tag.OCTET_STRING).value;
    hmn.end();
    return { hwType, hwSerialNum };
  }
  return undefined;
}
