/**
 * JWS Compact Serialization (RFC 7515 section 7.1) with ES256 (RFC 7518 section 3.4), the
 * only algorithm Airlock signs or accepts. Signing and verification go through the Crypto
 * port: this is the onboarding hot path, and node:crypto's synchronous ECDSA measured six
 * times faster than WebCrypto here (docs/BENCHMARKS.md). `jose` cross-checks it in tests.
 * The JSON serializations are in json.ts; `DecodedJws` is the same for all three.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { parseStrictJson } from '../json/strict.js';
import { decodeProtectedHeader, type JwsHeader } from './header.js';

export type { JwsHeader } from './header.js';

export type JwsSerialization = 'compact' | 'flattened' | 'general';

export interface DecodedJws {
  /**
   * The compact form of this JWS (`protected.payload.signature`): the text received when it
   * came compact, the equivalent compact text when it came as JSON (same signing input and
   * signature, so it verifies the same; an unprotected header, if any, is not in it).
   */
  readonly compact: string;
  /** How it was serialized when received. */
  readonly serialization: JwsSerialization;
  /** The text as received (equal to `compact` for the compact serialization). */
  readonly text: string;
  /** The JWS Protected Header. */
  readonly header: JwsHeader;
  /** The unprotected `header` member of a JSON serialization (never a security parameter). */
  readonly unprotectedHeader: Readonly<Record<string, unknown>> | undefined;
  readonly payload: Uint8Array;
  /** ASCII(BASE64URL(protected) || '.' || BASE64URL(payload)), RFC 7515 section 5.1. */
  readonly signingInput: Uint8Array;
  readonly signature: Uint8Array;
}

export function signCompact(
  crypto: Crypto,
  key: PrivateKeyHandle,
  header: JwsHeader,
  payload: Uint8Array | object,
): string {
  const body = payload instanceof Uint8Array ? payload : utf8(JSON.stringify(payload));
  const signingInput = `${toBase64Url(utf8(JSON.stringify(header)))}.${toBase64Url(body)}`;
  return `${signingInput}.${toBase64Url(crypto.signEs256(key, utf8(signingInput)))}`;
}

/** Splits and decodes a compact JWS without verifying it. */
export function decodeCompact(text: string): DecodedJws {
  const compact = text.trim();
  const parts = compact.split('.');
  if (parts.length !== 3)
    throw new AirlockError('ERR_JWS_MALFORMED', 'expected three dot-separated parts');
  const [h, p, s] = parts as [string, string, string];
  return decodeParts(h, p, s, 'compact', compact, undefined);
}

/** Decodes the three base64url parts common to every serialization. */
export function decodeParts(
  h: string,
  p: string,
  s: string,
  serialization: JwsSerialization,
  text: string,
  unprotectedHeader: Record<string, unknown> | undefined,
): DecodedJws {
  const payload = fromBase64Url(p);
  const signature = fromBase64Url(s);
  if (!payload || !signature)
    throw new AirlockError('ERR_JWS_MALFORMED', 'a part is not base64url');
  const header = decodeProtectedHeader(h);
  if (signature.length !== 64)
    throw new AirlockError('ERR_JWS_MALFORMED', 'an ES256 signature has 64 bytes');
  const compact = `${h}.${p}.${s}`;
  return {
    compact,
    serialization,
    text: serialization === 'compact' ? compact : text,
    header,
    unprotectedHeader,
    payload,
    signingInput: utf8(`${h}.${p}`),
    signature,
  };
}

/** Verifies the signature with the given public key (DER SubjectPublicKeyInfo), whatever the serialization. */
export function verifyCompact(crypto: Crypto, jws: DecodedJws, spki: Uint8Array): void {
  if (!crypto.verifyEs256(spki, jws.signingInput, jws.signature))
    throw new AirlockError('ERR_JWS_SIGNATURE');
}

/** The payload as JSON; a repeated member name is refused (RFC 7515 section 5.2). */
export function payloadJson(jws: DecodedJws): unknown {
  let text: string;
  try {
    text = fromUtf8(jws.payload);
  } catch (cause) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'the payload is not UTF-8', { cause });
  }
  return parseStrictJson(text, 'ERR_JWS_MALFORMED', 'the payload');
}
