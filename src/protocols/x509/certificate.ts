/**
 * A parsed X.509 certificate: the fields Airlock reads, decoded once. Parsing is pure
 * (@peculiar/x509 over asn1js); signatures are checked through the Crypto port (chain.ts).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AirlockError } from '../../core/errors.js';
import { fromBase64, toBase64 } from '../../core/bytes.js';
import { Oid } from './oids.js';
import { decodeIa5String } from './ia5-extension.js';

export interface Certificate {
  readonly der: Uint8Array;
  readonly subject: string;
  readonly issuer: string;
  /** Lower-case hex, as @peculiar/x509 and OpenSSL print it. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** The X.520 serialNumber attribute of the subject, if any (an IDevID carries one). */
  readonly subjectSerialNumber: string | undefined;
  readonly isCa: boolean;
  /** Extension values (DER, inside the OCTET STRING) by OID. */
  readonly extensions: ReadonlyMap<string, Uint8Array>;
  readonly masaUrl: string | undefined;
  readonly mudUrl: string | undefined;
  readonly selfIssued: boolean;
}

const MAX_CERT_BYTES = 16 * 1024;

export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length === 0 || der.length > MAX_CERT_BYTES) throw new AirlockError('ERR_CERT_MALFORMED', 'size');
  let c: x509.X509Certificate;
  try {
    c = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw new AirlockError('ERR_CERT_MALFORMED', undefined, { cause });
  }
  try {
    const extensions = new Map<string, Uint8Array>();
    for (const e of c.extensions) extensions.set(e.type, new Uint8Array(e.value));
    const bc = c.getExtension(x509.BasicConstraintsExtension);
    const serialAttr = c.subjectName.getField(Oid.serialNumber)[0];
    const ia5 = (oid: string) => {
      const v = extensions.get(oid);
      return v === undefined ? undefined : decodeIa5String(v);
    };
    return {
      der,
      subject: c.subject,
      issuer: c.issuer,
      serial: c.serialNumber.toLowerCase(),
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      spki: new Uint8Array(c.publicKey.rawData),
      subjectSerialNumber: serialAttr,
      isCa: bc?.ca === true,
      extensions,
      masaUrl: ia5(Oid.masaUrl),
      mudUrl: ia5(Oid.mudUrl),
      selfIssued: c.subject === c.issuer,
    };
  } catch (cause) {
    if (cause instanceof AirlockError) throw cause;
    throw new AirlockError('ERR_CERT_MALFORMED', undefined, { cause });
  }
}

/** From an `x5c` entry or any base64 DER. */
export function parseCertificateBase64(b64: string): Certificate {
  const der = fromBase64(b64);
  if (!der) throw new AirlockError('ERR_CERT_MALFORMED', 'not base64');
  return parseCertificate(der);
}

export function certificateBase64(cert: Certificate | Uint8Array): string {
  return toBase64(cert instanceof Uint8Array ? cert : cert.der);
}
