/**
 * The JWS Protected Header (RFC 7515 section 4), shared by all three serializations: strict
 * JSON (no repeated member name, section 5.2), ES256 only (RFC 7518 section 3.4), no `crit`
 * (section 4.1.11: Airlock understands no extension), and a well-formed `x5c` (section 4.1.6).
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64Url, fromUtf8 } from '../../core/bytes.js';
import { parseStrictJson } from '../json/strict.js';

export interface JwsHeader {
  alg: 'ES256';
  typ?: string;
  kid?: string;
  /** RFC 7515 section 4.1.6: base64 (not base64url) DER certificates, signer first. */
  x5c?: string[];
  [name: string]: unknown;
}

/**
 * Header parameters that decide how the signature is checked or what it means: they are
 * only believed when integrity-protected, so an unprotected `header` that carries one is refused.
 */
export const SECURITY_PARAMETERS: ReadonlySet<string> = new Set([
  'alg',
  'crit',
  'typ',
  'cty',
  'b64',
  'zip',
  'x5c',
  'x5u',
  'x5t',
  'x5t#S256',
  'jku',
  'jwk',
]);

/** Decodes and checks the base64url protected header. */
export function decodeProtectedHeader(b64url: string): JwsHeader {
  const bytes = fromBase64Url(b64url);
  if (!bytes || bytes.length === 0)
    throw new AirlockError('ERR_JWS_MALFORMED', 'the protected header is not base64url');
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch (cause) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'the protected header is not UTF-8', { cause });
  }
  const header = parseStrictJson(text, 'ERR_JWS_MALFORMED', 'the protected header');
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'the protected header is not an object');
  }
  const hdr = header as Record<string, unknown>;
  if (hdr.alg !== 'ES256') throw new AirlockError('ERR_JWS_ALGORITHM', `alg ${String(hdr.alg)}`);
  if (hdr.crit !== undefined)
    throw new AirlockError('ERR_JWS_MALFORMED', 'critical header parameters are not understood');
  if (
    hdr.x5c !== undefined &&
    (!Array.isArray(hdr.x5c) ||
      hdr.x5c.length === 0 ||
      !hdr.x5c.every((c) => typeof c === 'string'))
  ) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'x5c must be a non-empty array of strings');
  }
  return hdr as JwsHeader;
}
