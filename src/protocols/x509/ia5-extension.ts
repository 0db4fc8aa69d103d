/**
 * The MASA URL (RFC 8995 section 2.3.2) and MUD URL (RFC 8520 section 10) extensions are both
 * a bare IA5String. This reads and writes that DER without a full ASN.1 library.
 */
import { AirlockError } from '../../core/errors.js';

export function encodeIa5String(value: string): Uint8Array {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new AirlockError('ERR_INPUT_SCHEMA', 'an IA5String holds printable ASCII only');
  const body = new TextEncoder().encode(value);
  return new Uint8Array([0x16, ...derLength(body.length), ...body]);
}

export function decodeIa5String(der: Uint8Array): string {
  if (der[0] !== 0x16) throw new AirlockError('ERR_CERT_MALFORMED', 'expected an IA5String');
  const { length, offset } = readLength(der, 1);
  if (offset + length !== der.length) throw new AirlockError('ERR_CERT_MALFORMED', 'IA5String length');
  const s = String.fromCharCode(...der.subarray(offset));
  if (!/^[\x20-\x7e]*$/.test(s)) throw new AirlockError('ERR_CERT_MALFORMED', 'IA5String content');
  return s;
}

function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

function readLength(der: Uint8Array, at: number): { length: number; offset: number } {
  const first = der[at];
  if (first === undefined) throw new AirlockError('ERR_CERT_MALFORMED', 'truncated');
  if (first < 0x80) return { length: first, offset: at + 1 };
  const n = first & 0x7f;
  if (n === 0 || n > 2 || at + 1 + n > der.length) throw new AirlockError('ERR_CERT_MALFORMED', 'bad length');
  let length = 0;
  for (let i = 0; i < n; i++) length = (length << 8) | der[at + 1 + i]!;
  return { length, offset: at + 1 + n };
}
