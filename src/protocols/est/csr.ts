/**
 * EST enrollment requests (RFC 7030 section 4.2): a base64 PKCS#10 body. The device
 * generates its own key; the registrar checks the proof of possession and the key type.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AirlockError, ensure } from '../../core/errors.js';
import { fromBase64 } from '../../core/bytes.js';
import { Oid } from '../x509/oids.js';

export interface VerifiedCsr {
  readonly der: Uint8Array;
  readonly subject: string;
  readonly spki: Uint8Array;
}

const MAX_CSR_BYTES = 8 * 1024;

export function decodeCsrBody(body: string): Uint8Array {
  const der = fromBase64(body);
  if (!der || der.length === 0) throw new AirlockError('ERR_CSR_MALFORMED', 'the body is not base64');
  if (der.length > MAX_CSR_BYTES) throw new AirlockError('ERR_CSR_MALFORMED', 'too large');
  return der;
}

export async function verifyCsr(der: Uint8Array): Promise<VerifiedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw new AirlockError('ERR_CSR_MALFORMED', undefined, { cause });
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  ensure(alg.name === 'ECDSA' && alg.namedCurve === 'P-256', 'ERR_CSR_KEY', 'Airlock issues certificates for ECDSA P-256 keys');
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (cause) {
    throw new AirlockError('ERR_CSR_SIGNATURE', undefined, { cause });
  }
  ensure(ok, 'ERR_CSR_SIGNATURE');
  return { der, subject: csr.subject, spki: new Uint8Array(csr.publicKey.rawData) };
}

/** RFC 7030 section 4.5: the attributes the registrar wants: ECDSA with SHA-256 on P-256. */
export function csrAttributes(): Uint8Array {
  // SEQUENCE { OID ecdsa-with-SHA256, SEQUENCE { OID ecPublicKey, SET { OID secp256r1 } } }
  const oid = (dotted: string) => encodeOid(dotted);
  const tlv = (tag: number, body: Uint8Array) => new Uint8Array([tag, body.length, ...body]);
  const attr = tlv(0x30, new Uint8Array([...oid(Oid.ecPublicKey), ...tlv(0x31, oid(Oid.secp256r1))]));
  return tlv(0x30, new Uint8Array([...oid(Oid.ecdsaWithSha256), ...attr]));
}

function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const bytes = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return new Uint8Array([0x06, out.length, ...out]);
}
