/**
 * A minimal DER reader and writer: just what certificates, CSRs and certs-only CMS need.
 * It exists because it is on the onboarding hot path: parsing a certificate with asn1js took
 * 200 us and with @peculiar/x509 1.6 ms here, against a few microseconds for this walker
 * (docs/BENCHMARKS.md). Strict: definite lengths only, no trailing bytes, bounded depth.
 */
import { AirlockError, type ErrorCode } from '../../core/errors.js';

export interface Tlv {
  /** The full identifier octet (class, constructed bit, tag number < 31). */
  readonly tag: number;
  /** The whole element, header included. */
  readonly raw: Uint8Array;
  /** The contents octets. */
  readonly value: Uint8Array;
}

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export class DerReader {
  private offset = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly code: ErrorCode,
  ) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  peekTag(): number | undefined {
    return this.bytes[this.offset];
  }

  read(expectedTag?: number): Tlv {
    const b = this.bytes;
    const start = this.offset;
    const tag = b[start];
    if (tag === undefined) this.fail('truncated');
    if ((tag & 0x1f) === 0x1f) this.fail('high tag numbers are not used here');
    if (expectedTag !== undefined && tag !== expectedTag)
      this.fail(`expected tag 0x${expectedTag.toString(16)}, found 0x${tag.toString(16)}`);
    let p = start + 1;
    const first = b[p++];
    if (first === undefined) this.fail('truncated length');
    let length = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0 || n > 3) this.fail('unsupported length');
      length = 0;
      for (let i = 0; i < n; i++) {
        const x = b[p++];
        if (x === undefined) this.fail('truncated length');
        length = length * 256 + x;
      }
      if (length < 0x80 || (n > 1 && length < 1 << (8 * (n - 1)))) this.fail('non-minimal length');
    }
    const end = p + length;
    if (end > b.length) this.fail('truncated value');
    this.offset = end;
    return { tag, raw: b.subarray(start, end), value: b.subarray(p, end) };
  }

  readOptional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.read(tag) : undefined;
  }

  /** A reader over the contents of the next constructed element. */
  enter(expectedTag: number): DerReader {
    return new DerReader(this.read(expectedTag).value, this.code);
  }

  end(): void {
    if (!this.done) this.fail('trailing bytes');
  }

  fail(detail: string): never {
    throw new AirlockError(this.code, `DER: ${detail}`);
  }
}

/** Decodes an OBJECT IDENTIFIER; an empty, truncated or non-minimal encoding is refused. */
export function decodeOid(value: Uint8Array, code: ErrorCode = 'ERR_CERT_MALFORMED'): string {
  if (value.length === 0 || (value[value.length - 1]! & 0x80) !== 0)
    throw new AirlockError(code, 'DER: bad OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let v = 0;
  for (let i = 0; i < value.length; i++) {
    const byte = value[i]!;
    if (byte === 0x80 && (i === 0 || (value[i - 1]! & 0x80) === 0))
      throw new AirlockError(code, 'DER: non-minimal OBJECT IDENTIFIER');
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

/** Decodes a string of any of the directory string types as text. */
export function decodeString(t: Tlv): string {
  if (t.tag === 0x1e) {
    // BMPString: UTF-16BE.
    let s = '';
    for (let i = 0; i + 1 < t.value.length; i += 2)
      s += String.fromCharCode((t.value[i]! << 8) | t.value[i + 1]!);
    return s;
  }
  return new TextDecoder().decode(t.value);
}

/**
 * Decodes a UTCTime or GeneralizedTime in the one form RFC 5280 section 4.1.2.5 allows (seconds,
 * Z). Any other tag is refused, and so are out-of-range fields: Date.UTC would roll month 13 or
 * 31 April into the next year or month, and a peer's validity would silently read as another one.
 */
export function decodeTime(t: Tlv, code: ErrorCode): Date {
  const s = String.fromCharCode(...t.value);
  const m =
    t.tag === Tag.UTCTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === Tag.GeneralizedTime
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw new AirlockError(code, `DER: bad time ${s}`);
  let year = Number(m[1]);
  if (t.tag === Tag.UTCTime) year += year < 50 ? 2000 : 1900;
  const [month, day, hour, minute, second] = m.slice(2).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0..99 as 1900..1999
  d.setUTCHours(hour, minute, second, 0);
  if (
    d.getUTCMonth() !== month - 1 ||
    d.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    throw new AirlockError(code, `DER: bad time ${s}`);
  return d;
}

/** Refuses an INTEGER's contents that are empty or not minimal (X.690 8.3.2: no leading 0x00 or 0xff that could be dropped). */
export function checkInteger(value: Uint8Array, code: ErrorCode): Uint8Array {
  if (value.length === 0) throw new AirlockError(code, 'DER: empty INTEGER');
  if (
    value.length > 1 &&
    ((value[0] === 0 && value[1]! < 0x80) || (value[0] === 0xff && value[1]! >= 0x80))
  )
    throw new AirlockError(code, 'DER: non-minimal INTEGER');
  return value;
}

// ---- writer ----

export function derLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const len = contents.reduce((n, c) => n + c.length, 0);
  const header = [tag, ...derLength(len)];
  const out = new Uint8Array(header.length + len);
  out.set(header, 0);
  let o = header.length;
  for (const c of contents) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

export function encodeOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128))
      bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(Tag.OID, new Uint8Array(out));
}
