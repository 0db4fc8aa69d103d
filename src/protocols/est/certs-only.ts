/**
 * EST responses (RFC 7030 sections 4.1.3 and 4.2.3): a degenerate "certs-only" CMS
 * SignedData (RFC 5751), base64-encoded, as application/pkcs7-mime.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { AirlockError } from '../../core/errors.js';
import { fromBase64 } from '../../core/bytes.js';

export const CERTS_ONLY_MEDIA_TYPE = 'application/pkcs7-mime; smime-type=certs-only';

export function encodeCertsOnly(certs: readonly Uint8Array[]): string {
  const list = new x509.X509Certificates(certs.map((c) => new x509.X509Certificate(c as Uint8Array<ArrayBuffer>)));
  return list.export('base64');
}

export function decodeCertsOnly(body: string): Uint8Array[] {
  const der = fromBase64(body);
  if (!der) throw new AirlockError('ERR_CERT_MALFORMED', 'the certs-only body is not base64');
  try {
    const list = new x509.X509Certificates(der as Uint8Array<ArrayBuffer>);
    return list.map((c) => new Uint8Array(c.rawData));
  } catch (cause) {
    throw new AirlockError('ERR_CERT_MALFORMED', 'not a certs-only SignedData', { cause });
  }
}
