/**
 * The MASA URL (RFC 8995 section 2.3.2) and MUD URL (RFC 8520 section 10) extensions are both
 * a bare IA5String.
 */
import { AirlockError } from '../../core/errors.js';
import { DerReader, Tag, tlv } from './der.js';

const PRINTABLE = /^[\x20-\x7e]*$/;

export function encodeIa5String(value: string): Uint8Array {
  if (!PRINTABLE.test(value))
    throw new AirlockError('ERR_INPUT_SCHEMA', 'an IA5String holds printable ASCII only');
  return tlv(Tag.IA5String, new TextEncoder().encode(value));
}

export function decodeIa5String(der: Uint8Array): string {
  const r = new DerReader(der, 'ERR_CERT_MALFORMED');
  const s = String.fromCharCode(...r.read(Tag.IA5String).value);
  r.end();
  if (!PRINTABLE.test(s)) throw new AirlockError('ERR_CERT_MALFORMED', 'IA5String content');
  return s;
}
