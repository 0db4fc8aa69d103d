/**
 * JWS Compact Serialization (RFC 7515 section 7.1) with ES256 (RFC 7518 section 3.4), the
 * only algorithm Airlock signs or accepts. Signing and verification go through the Crypto
 * port: this is the onboarding hot path, and node:crypto's synchronous ECDSA measured six
 * times faster than WebCrypto here (docs/BENCHMARKS.md). `jose` cross-checks it in tests.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64Url, fromUtf8, toBase64Url, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';

export interface JwsHeader {
  alg: 'ES256';
  typ?: string;
  kid?: string;
  /** RFC 7515 section 4.1.6: base64 (not base64url) DER certificates, signer first. */
  x5c?: string[];
  [name: string]: unknown;
}

export interface DecodedJws {
  readonly compact: string;
  readonly header: JwsHeader;
  readonly payload: Uint8Array;
  readonly signingInput: Uint8Array;
  readonly signature: Uint8Array;
}

export function signCompact(crypto: Crypto, key: PrivateKeyHandle, header: JwsHeader, payload: Uint8Array | object): string {
  const body = payload instanceof Uint8Array ? payload : utf8(JSON.stringify(payload));
  const signingInput = `${toBase64Url(utf8(JSON.stringify(header)))}.${toBase64Url(body)}`;
  return `${signingInput}.${toBase64Url(crypto.signEs256(key, utf8(signingInput)))}`;
}

/** Splits and decodes a compact JWS without verifying it. */
export function decodeCompact(text: string): DecodedJws {
  const compact = text.trim();
  const parts = compact.split('.');
  if (parts.length !== 3) throw new AirlockError('ERR_JWS_MALFORMED', 'expected three dot-separated parts');
  const [h, p, s] = parts as [string, string, string];
  const headerBytes = fromBase64Url(h);
  const payload = fromBase64Url(p);
  const signature = fromBase64Url(s);
  if (!headerBytes || !payload || !signature) throw new AirlockError('ERR_JWS_MALFORMED', 'a part is not base64url');
  let header: unknown;
  try {
    header = JSON.parse(fromUtf8(headerBytes));
  } catch (cause) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'the protected header is not JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'the protected header is not an object');
  }
  const hdr = header as Record<string, unknown>;
  if (hdr.alg !== 'ES256') throw new AirlockError('ERR_JWS_ALGORITHM', `alg ${String(hdr.alg)}`);
  if (hdr.crit !== undefined) throw new AirlockError('ERR_JWS_MALFORMED', 'critical header parameters are not understood');
  if (hdr.x5c !== undefined && (!Array.isArray(hdr.x5c) || hdr.x5c.length === 0 || !hdr.x5c.every((c) => typeof c === 'string'))) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'x5c must be a non-empty array of strings');
  }
  if (signature.length !== 64) throw new AirlockError('ERR_JWS_MALFORMED', 'an ES256 signature has 64 bytes');
  return { compact, header: hdr as JwsHeader, payload, signingInput: utf8(`${h}.${p}`), signature };
}

/** Verifies the signature with the given public key (DER SubjectPublicKeyInfo). */
export function verifyCompact(crypto: Crypto, jws: DecodedJws, spki: Uint8Array): void {
  if (!crypto.verifyEs256(spki, jws.signingInput, jws.signature)) throw new AirlockError('ERR_JWS_SIGNATURE');
}

/** The payload as JSON. */
export function payloadJson(jws: DecodedJws): unknown {
  try {
    return JSON.parse(fromUtf8(jws.payload));
  } catch (cause) {
    throw new AirlockError('ERR_JWS_MALFORMED', 'the payload is not JSON', { cause });
  }
}
