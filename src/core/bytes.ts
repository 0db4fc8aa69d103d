/** Small, dependency-free byte helpers for the pure layers (no Buffer there). */

const B64URL = /^[A-Za-z0-9_-]*$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** For ASCII the base64 encoders produce: any decoder reads it the same. */
const ascii = new TextDecoder();

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function fromUtf8(b: Uint8Array): string {
  return strictUtf8.decode(b);
}

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const STANDARD_CODES = Uint8Array.from(STANDARD, (c) => c.charCodeAt(0));
const URL_SAFE_CODES = Uint8Array.from(URL_SAFE, (c) => c.charCodeAt(0));
/** Either alphabet's character to its value (the callers' patterns decide which alphabet is allowed). */
const DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  DECODE[STANDARD.charCodeAt(i)] = i;
  DECODE[URL_SAFE.charCodeAt(i)] = i;
}
const PAD = 61; // '='

/**
 * Base64 of `b` in the alphabet `codes`, padded or not. The characters are written as bytes and
 * decoded once: several kilobytes pass through here per message on the onboarding path, and
 * building the string a character at a time was six times slower (docs/BENCHMARKS.md).
 */
function encode(b: Uint8Array, codes: Uint8Array, pad: boolean): string {
  const full = b.length - (b.length % 3);
  const rest = b.length - full;
  const out = new Uint8Array((full / 3) * 4 + (rest === 0 ? 0 : pad ? 4 : rest + 1));
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    out[o] = codes[n >> 18]!;
    out[o + 1] = codes[(n >> 12) & 63]!;
    out[o + 2] = codes[(n >> 6) & 63]!;
    out[o + 3] = codes[n & 63]!;
    o += 4;
  }
  if (rest !== 0) {
    const n = (b[full]! << 16) | (rest === 2 ? b[full + 1]! << 8 : 0);
    out[o++] = codes[n >> 18]!;
    out[o++] = codes[(n >> 12) & 63]!;
    if (rest === 2) out[o++] = codes[(n >> 6) & 63]!;
    else if (pad) out[o++] = PAD;
    if (pad) out[o++] = PAD;
  }
  return ascii.decode(out);
}

/** Decodes `s`, already checked to be base64 of either alphabet, without its padding characters. */
function decode(s: string, length: number): Uint8Array {
  const out = new Uint8Array(Math.floor((length * 3) / 4));
  let o = 0;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const n =
      (DECODE[s.charCodeAt(i)]! << 18) |
      (DECODE[s.charCodeAt(i + 1)]! << 12) |
      (DECODE[s.charCodeAt(i + 2)]! << 6) |
      DECODE[s.charCodeAt(i + 3)]!;
    out[o] = n >> 16;
    out[o + 1] = (n >> 8) & 255;
    out[o + 2] = n & 255;
    o += 3;
  }
  const rest = length - i;
  if (rest >= 2) {
    const n =
      (DECODE[s.charCodeAt(i)]! << 18) |
      (DECODE[s.charCodeAt(i + 1)]! << 12) |
      (rest === 3 ? DECODE[s.charCodeAt(i + 2)]! << 6 : 0);
    out[o++] = n >> 16;
    if (rest === 3) out[o] = (n >> 8) & 255;
  }
  return out;
}

/** Standard base64, padded. */
export function toBase64(b: Uint8Array): string {
  return encode(b, STANDARD_CODES, true);
}

/** Decodes standard base64 (padded); returns undefined for anything that is not. White space is ignored. */
export function fromBase64(s: string): Uint8Array | undefined {
  const clean = /\s/.test(s) ? s.replace(/\s/g, '') : s;
  if (clean.length % 4 !== 0 || !B64.test(clean)) return undefined;
  const pad = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  return decode(clean, clean.length - pad);
}

/** Base64url without padding (RFC 7515 section 2). */
export function toBase64Url(b: Uint8Array): string {
  return encode(b, URL_SAFE_CODES, false);
}

/** Decodes base64url without padding; returns undefined for anything that is not. */
export function fromBase64Url(s: string): Uint8Array | undefined {
  if (s.length % 4 === 1 || !B64URL.test(s)) return undefined;
  return decode(s, s.length);
}

/**
 * Decodes base64 of either alphabet, padded or not (RFC 4648 sections 4 and 5): what
 * Veraison's API and its clients write (Go's padded base64url, standard base64) as well as
 * unpadded base64url. Undefined for anything else, or for a mix of the two alphabets.
 */
export function fromAnyBase64(s: string): Uint8Array | undefined {
  const unpadded = s.replace(/={1,2}$/, '');
  if (unpadded !== s && s.length % 4 !== 0) return undefined;
  if (/[+/]/.test(unpadded) && /[-_]/.test(unpadded)) return undefined;
  return fromBase64Url(unpadded.replace(/\+/g, '-').replace(/\//g, '_'));
}

/** Whether `a` (if a string) and `b` are base64 of the same bytes, whichever alphabets and padding (fromAnyBase64). */
export function sameBase64Bytes(a: unknown, b: string): boolean {
  const x = typeof a === 'string' ? fromAnyBase64(a) : undefined;
  const y = fromAnyBase64(b);
  return x !== undefined && y !== undefined && equalBytes(x, y);
}

/** Base64url with padding (RFC 4648 section 5): what Go's base64.URLEncoding, and so Veraison, reads. */
export function toPaddedBase64Url(b: Uint8Array): string {
  const t = toBase64Url(b);
  return t + '='.repeat((4 - (t.length % 4)) % 4);
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

/** All DER blocks with the given label, in order. */
export function fromPem(pem: string, label = 'CERTIFICATE'): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(re)) {
    const der = fromBase64(m[1]!);
    if (der) out.push(der);
  }
  return out;
}
