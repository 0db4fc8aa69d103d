/**
 * EST enrollment requests (RFC 7030 section 4.2): a base64 PKCS#10 (RFC 2986) body. The
 * device generates its own key; the registrar checks the proof of possession and the key.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { fromBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { DerReader, Tag, decodeOid, encodeOid, tlv } from '../x509/der.js';
import { Oid } from '../x509/oids.js';
import { p1363ToDer } from '../x509/ecdsa.js';

export interface VerifiedCsr {
  readonly der: Uint8Array;
  readonly spki: Uint8Array;
}

const MAX_CSR_BYTES = 8 * 1024;
const CODE = 'ERR_CSR_MALFORMED';

export function decodeCsrBody(body: string): Uint8Array {
  const der = fromBase64(body);
  if (!der || der.length === 0) throw new AirlockError(CODE, 'the body is not base64');
  if (der.length > MAX_CSR_BYTES) throw new AirlockError(CODE, 'too large');
  return der;
}

/** Parses the request, checks its key is ECDSA P-256 and that it is signed by that key. */
export function verifyCsr(crypto: Crypto, der: Uint8Array): VerifiedCsr {
  const outer = new DerReader(der, CODE);
  const req = outer.enter(Tag.SEQUENCE);
  outer.end();
  const info = req.read(Tag.SEQUENCE);
  const sigAlg = decodeOid(req.enter(Tag.SEQUENCE).read(Tag.OID).value);
  const sig = req.read(Tag.BIT_STRING).value;
  req.end();

  const fields = new DerReader(info.value, CODE);
  const version = fields.read(Tag.INTEGER).value;
  ensure(version.length === 1 && version[0] === 0, CODE, 'PKCS#10 version must be 0');
  fields.read(Tag.SEQUENCE); // subject: the registrar decides the subject itself
  const spkiTlv = fields.read(Tag.SEQUENCE);
  fields.readOptional(0xa0);
  fields.end();

  const spki = new DerReader(spkiTlv.value, CODE);
  const alg = spki.enter(Tag.SEQUENCE);
  const keyType = decodeOid(alg.read(Tag.OID).value);
  const curve = alg.done ? undefined : decodeOid(alg.read(Tag.OID).value);
  ensure(keyType === Oid.ecPublicKey && curve === Oid.secp256r1, 'ERR_CSR_KEY', 'Airlock issues certificates for ECDSA P-256 keys');
  ensure(sigAlg === Oid.ecdsaWithSha256, 'ERR_CSR_SIGNATURE', 'the request must be signed with ecdsa-with-SHA256');
  ensure(sig[0] === 0 && crypto.verifyEs256(spkiTlv.raw, info.raw, sig.subarray(1), 'der'), 'ERR_CSR_SIGNATURE');
  return { der, spki: spkiTlv.raw };
}

/** Device side: a request for `key`, subject CN=`commonName`, signed by that key (proof of possession). */
export function buildCsr(crypto: Crypto, key: PrivateKeyHandle, commonName: string): Uint8Array {
  const name = tlv(Tag.SEQUENCE, tlv(Tag.SET, tlv(Tag.SEQUENCE, encodeOid('2.5.4.3'), tlv(Tag.UTF8String, new TextEncoder().encode(commonName)))));
  const info = tlv(Tag.SEQUENCE, tlv(Tag.INTEGER, new Uint8Array([0])), name, key.spki, tlv(0xa0));
  const signature = p1363ToDer(crypto.signEs256(key, info));
  return tlv(Tag.SEQUENCE, info, tlv(Tag.SEQUENCE, encodeOid(Oid.ecdsaWithSha256)), tlv(Tag.BIT_STRING, new Uint8Array([0]), signature));
}

/** RFC 7030 section 4.5: the attributes the registrar wants: ECDSA with SHA-256 on P-256. */
export function csrAttributes(): Uint8Array {
  // SEQUENCE { OID ecdsa-with-SHA256, SEQUENCE { OID ecPublicKey, SET { OID secp256r1 } } }
  return tlv(Tag.SEQUENCE, encodeOid(Oid.ecdsaWithSha256), tlv(Tag.SEQUENCE, encodeOid(Oid.ecPublicKey), tlv(Tag.SET, encodeOid(Oid.secp256r1))));
}
