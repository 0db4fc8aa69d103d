/**
 * EST responses (RFC 7030 sections 4.1.3 and 4.2.3): a degenerate "certs-only" CMS
 * SignedData (RFC 5652 section 5, RFC 8551), base64-encoded, as application/pkcs7-mime.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64, toBase64 } from '../../core/bytes.js';
import { DerReader, Tag, decodeOid, encodeOid, tlv } from '../x509/der.js';

export const CERTS_ONLY_MEDIA_TYPE = 'application/pkcs7-mime; smime-type=certs-only';

const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const ID_DATA = '1.2.840.113549.1.7.1';
const CODE = 'ERR_CERT_MALFORMED';

export function encodeCertsOnly(certs: readonly Uint8Array[]): string {
  const signedData = tlv(
    Tag.SEQUENCE,
    tlv(Tag.INTEGER, new Uint8Array([1])),
    tlv(Tag.SET),
    tlv(Tag.SEQUENCE, encodeOid(ID_DATA)),
    tlv(0xa0, ...certs),
    tlv(Tag.SET),
  );
  return toBase64(tlv(Tag.SEQUENCE, encodeOid(ID_SIGNED_DATA), tlv(0xa0, signedData)));
}

export function decodeCertsOnly(body: string): Uint8Array[] {
  const der = fromBase64(body);
  if (!der) throw new AirlockError(CODE, 'the certs-only body is not base64');
  const outer = new DerReader(der, CODE);
  const ci = outer.enter(Tag.SEQUENCE);
  outer.end();
  if (decodeOid(ci.read(Tag.OID).value) !== ID_SIGNED_DATA)
    throw new AirlockError(CODE, 'not a SignedData');
  const sd = ci.enter(0xa0).enter(Tag.SEQUENCE);
  sd.read(Tag.INTEGER);
  sd.read(Tag.SET);
  sd.read(Tag.SEQUENCE);
  const certs = sd.readOptional(0xa0);
  if (!certs) return [];
  const list = new DerReader(certs.value, CODE);
  const out: Uint8Array[] = [];
  while (!list.done) out.push(list.read(Tag.SEQUENCE).raw);
  return out;
}
