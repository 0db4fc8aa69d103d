/**
 * What a network installs to trust one manufacturer (report section 5.1.2): each CA for its
 * one purpose. The root authenticates the manufacturer's services (TLS to the MASA) and names
 * the manufacturer as a party; the others are the only anchors for what they issue.
 *
 * A manufacturer that is not Airlock (any RFC 8995 MASA) is trusted from a second form,
 * `airlock-foreign-manufacturer/1`: its IDevID CA(s), the anchors of its MASA (TLS and voucher
 * signing), an optional MASA URL that overrides the one in its birth certificates, and where
 * its birth certificates carry the serial number (RFC 8995 section 2.3.1).
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
  /**
   * Certifies the devices' attestation keys (docs/ATTESTATION.md). Absent from a trust file
   * written before attestation: such a manufacturer's devices cannot attest to this network.
   */
  attestationCa?: Certificate;
  /** Issues the signer of the manufacturer's reference values and supply-chain evidence. Absent as above. */
  endorsementsCa?: Certificate;
  /**
   * Issues the signer of the manufacturer's MUD files (RFC 8520 section 13, docs/INTENT.md):
   * the anchor a network verifies them against. Absent from a trust file written before.
   */
  mudCa?: Certificate;
}

/** The trust bundle as a file a network administrator installs: base64 DER of each CA. */
export interface ManufacturerTrustFile {
  format: 'airlock-manufacturer-trust/1';
  root: string;
  idevidCa: string;
  masaCa: string;
  declarationsCa: string;
  attestationCa?: string;
  endorsementsCa?: string;
  mudCa?: string;
}

/** Where a birth certificate carries the device's serial number (RFC 8995 section 2.3.1). */
export const SERIAL_NUMBER_FROM = ['serialNumber', 'cn', 'hardwareModuleName'] as const;
export type SerialNumberFrom = (typeof SERIAL_NUMBER_FROM)[number];

/** A manufacturer that is not Airlock: no declarations, its own MASA. */
export interface ForeignManufacturerTrust {
  readonly kind: 'foreign';
  /** Issue its birth certificates; a birth certificate must chain to one of them. */
  readonly idevidCas: readonly Certificate[];
  /** Anchors of its MASA: its TLS server certificate and its voucher signatures chain to one. */
  readonly masaTrustAnchors: readonly Certificate[];
  /** When set, the MASA of every one of its devices, whatever the birth certificate says. */
  readonly masaUrl: string | undefined;
  readonly serialNumberFrom: SerialNumberFrom;
}

/** What a network may trust: an Airlock manufacturer's bundle, or a foreign manufacturer. */
export type AnyManufacturerTrust = ManufacturerTrust | ForeignManufacturerTrust;

export function isForeign(t: AnyManufacturerTrust): t is ForeignManufacturerTrust {
  return (t as ForeignManufacturerTrust).kind === 'foreign';
}

export interface ForeignManufacturerTrustFile {
  format: 'airlock-foreign-manufacturer/1';
  /** Base64 DER of each IDevID CA. */
  idevidCas: string[];
  masaUrl?: string;
  /** Base64 DER of each MASA anchor (TLS and voucher signing). */
  masaTrustAnchors: string[];
  /** Default `serialNumber` (the subject's X.520 serialNumber). */
  serialNumberFrom?: SerialNumberFrom;
}

export function encodeForeignTrustFile(t: ForeignManufacturerTrust): ForeignManufacturerTrustFile {
  return {
    format: 'airlock-foreign-manufacturer/1',
    idevidCas: t.idevidCas.map((c) => toBase64(c.der)),
    ...(t.masaUrl === undefined ? {} : { masaUrl: t.masaUrl }),
    masaTrustAnchors: t.masaTrustAnchors.map((c) => toBase64(c.der)),
    serialNumberFrom: t.serialNumberFrom,
  };
}

/** Reads either trust file form (the `format` field decides). */
export function decodeAnyTrustFile(crypto: Crypto, json: unknown, at: Date): AnyManufacturerTrust {
  const format = (json as { format?: unknown } | null)?.format;
  return format === 'airlock-foreign-manufacturer/1'
    ? decodeForeignTrustFile(json, at)
    : decodeTrustFile(crypto, json, at);
}

/** Reads a foreign manufacturer's trust file; every IDevID CA must be a CA valid at `at`. */
export function decodeForeignTrustFile(json: unknown, at: Date): ForeignManufacturerTrust {
  const f = json as Partial<ForeignManufacturerTrustFile> | null;
  if (!f || f.format !== 'airlock-foreign-manufacturer/1')
    throw new AirlockError('ERR_CONFIG', 'not a foreign manufacturer trust file');
  const certs = (list: unknown, what: string) => {
    if (!Array.isArray(list) || list.length === 0 || list.some((c) => typeof c !== 'string'))
      throw new AirlockError(
        'ERR_CONFIG',
        `${what}: a non-empty list of base64 certificates is required`,
      );
    return (list as string[]).map(parseCertificateBase64);
  };
  const idevidCas = certs(f.idevidCas, 'idevidCas');
  const masaTrustAnchors = certs(f.masaTrustAnchors, 'masaTrustAnchors');
  for (const ca of idevidCas) {
    if (!ca.isCa) throw new AirlockError('ERR_CONFIG', `${ca.subject} is not a CA`);
    if (at < ca.notBefore || at > ca.notAfter)
      throw new AirlockError('ERR_CONFIG', `${ca.subject} is not valid now`);
  }
  const serialNumberFrom = f.serialNumberFrom ?? 'serialNumber';
  if (!SERIAL_NUMBER_FROM.includes(serialNumberFrom))
    throw new AirlockError(
      'ERR_CONFIG',
      `serialNumberFrom must be one of ${SERIAL_NUMBER_FROM.join(', ')}`,
    );
  let masaUrl: string | undefined;
  if (f.masaUrl !== undefined) {
    let u: URL | undefined;
    try {
      u = typeof f.masaUrl === 'string' ? new URL(f.masaUrl) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || u.protocol !== 'https:')
      throw new AirlockError('ERR_CONFIG', 'masaUrl must be an https URL');
    masaUrl = f.masaUrl;
  }
  return { kind: 'foreign', idevidCas, masaTrustAnchors, masaUrl, serialNumberFrom };
}

/** Every anchor for the TLS certificates of the MASAs of `trusts`, for the MASA client. */
export function masaTlsAnchors(trusts: readonly AnyManufacturerTrust[]): Certificate[] {
  return trusts.flatMap((t) => (isForeign(t) ? [...t.masaTrustAnchors] : [t.root]));
}

export function encodeTrustFile(t: ManufacturerTrust): ManufacturerTrustFile {
  return {
    format: 'airlock-manufacturer-trust/1',
    root: toBase64(t.root.der),
    idevidCa: toBase64(t.idevidCa.der),
    masaCa: toBase64(t.masaCa.der),
    declarationsCa: toBase64(t.declarationsCa.der),
    ...(t.attestationCa ? { attestationCa: toBase64(t.attestationCa.der) } : {}),
    ...(t.endorsementsCa ? { endorsementsCa: toBase64(t.endorsementsCa.der) } : {}),
    ...(t.mudCa ? { mudCa: toBase64(t.mudCa.der) } : {}),
  };
}

/**
 * Reads a trust file; each purpose CA must be a CA certified by the root. The attestation,
 * endorsements and MUD CAs are optional (files written before them have none), and checked
 * the same way when present.
 */
export function decodeTrustFile(crypto: Crypto, json: unknown, at: Date): ManufacturerTrust {
  const f = json as Partial<ManufacturerTrustFile> | null;
  if (!f || f.format !== 'airlock-manufacturer-trust/1')
    throw new AirlockError('ERR_CONFIG', 'not an Airlock manufacturer trust file');
  const cert = (b64: unknown) => {
    if (typeof b64 !== 'string')
      throw new AirlockError('ERR_CONFIG', 'a certificate is missing from the trust file');
    return parseCertificateBase64(b64);
  };
  const t: ManufacturerTrust = {
    root: cert(f.root),
    idevidCa: cert(f.idevidCa),
    masaCa: cert(f.masaCa),
    declarationsCa: cert(f.declarationsCa),
    ...(f.attestationCa === undefined ? {} : { attestationCa: cert(f.attestationCa) }),
    ...(f.endorsementsCa === undefined ? {} : { endorsementsCa: cert(f.endorsementsCa) }),
    ...(f.mudCa === undefined ? {} : { mudCa: cert(f.mudCa) }),
  };
  for (const ca of [
    t.idevidCa,
    t.masaCa,
    t.declarationsCa,
    t.attestationCa,
    t.endorsementsCa,
    t.mudCa,
  ]) {
    if (!ca) continue;
    if (!ca.isCa) throw new AirlockError('ERR_CONFIG', `${ca.subject} is not a CA`);
    verifyChain(crypto, { leaf: ca, anchors: [t.root], at });
  }
  return t;
}
