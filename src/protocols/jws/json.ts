/**
 * The JWS JSON Serializations (RFC 7515 section 7.2): General (`signatures` array, 7.2.1) and
 * Flattened (7.2.2), and `decodeJws`, which takes any of the three serializations.
 * draft-ietf-anima-jws-voucher signs vouchers in the General form with one signature;
 * `signGeneral` writes that. For vouchers exactly one signature is accepted: with two, which
 * signer vouches would be the verifier's guess.
 *
 * Everything that says how to check the signature (alg, x5c, typ, crit...) must be in the
 * protected header; an unprotected `header` carrying one is refused, as is a name in both.
 */
import { AirlockError } from '../../core/errors.js';
import { fromUtf8, toBase64Url, utf8 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { parseStrictJson } from '../json/strict.js';
import { decodeCompact, decodeParts, type DecodedJws } from './compact.js';
import { SECURITY_PARAMETERS, decodeProtectedHeader, type JwsHeader } from './header.js';

/** Signs `payload` in the General JWS JSON Serialization with one signature; returns the JSON text. */
export function signGeneral(
  crypto: Crypto,
  key: PrivateKeyHandle,
  header: JwsHeader,
  payload: Uint8Array | object,
): string {
  const body = payload instanceof Uint8Array ? payload : utf8(JSON.stringify(payload));
  const h = toBase64Url(utf8(JSON.stringify(header)));
  const p = toBase64Url(body);
  const signature = toBase64Url(crypto.signEs256(key, utf8(`${h}.${p}`)));
  return JSON.stringify({ payload: p, signatures: [{ protected: h, signature }] });
}

/** Decodes a JWS in any serialization (compact, flattened or general JSON), without verifying it. */
export function decodeJws(input: string | Uint8Array): DecodedJws {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = fromUtf8(input);
    } catch (cause) {
      throw new AirlockError('ERR_JWS_MALFORMED', 'not UTF-8', { cause });
    }
  }
  const trimmed = text.trim();
  return trimmed.startsWith('{') ? decodeJsonSerialization(trimmed) : decodeCompact(trimmed);
}

const GENERAL_MEMBERS = new Set(['payload', 'signatures']);
const FLATTENED_MEMBERS = new Set(['payload', 'protected', 'header', 'signature']);
const SIGNATURE_MEMBERS = new Set(['protected', 'header', 'signature']);

/** A General or Flattened JWS JSON Serialization. */
export function decodeJsonSerialization(text: string): DecodedJws {
  const doc = parseStrictJson(text, 'ERR_JWS_MALFORMED', 'the JWS JSON serialization');
  if (!isObject(doc))
    throw new AirlockError('ERR_JWS_MALFORMED', 'the JWS JSON serialization is not an object');
  if (typeof doc.payload !== 'string' || doc.payload === '')
    throw new AirlockError(
      'ERR_JWS_MALFORMED',
      'payload is missing (detached payloads are not accepted)',
    );
  let sig: Record<string, unknown>;
  let serialization: 'general' | 'flattened';
  if ('signatures' in doc) {
    onlyMembers(doc, GENERAL_MEMBERS);
    if (!Array.isArray(doc.signatures) || doc.signatures.length === 0)
      throw new AirlockError('ERR_JWS_MALFORMED', 'signatures must be a non-empty array');
    if (doc.signatures.length !== 1)
      throw new AirlockError(
        'ERR_JWS_MALFORMED',
        `exactly one signature is accepted, found ${doc.signatures.length}`,
      );
    const only: unknown = doc.signatures[0];
    if (!isObject(only))
      throw new AirlockError('ERR_JWS_MALFORMED', 'a signature is not an object');
    onlyMembers(only, SIGNATURE_MEMBERS);
    sig = only;
    serialization = 'general';
  } else {
    onlyMembers(doc, FLATTENED_MEMBERS);
    sig = doc;
    serialization = 'flattened';
  }
  if (typeof sig.protected !== 'string')
    throw new AirlockError('ERR_JWS_MALFORMED', 'the protected header is missing');
  if (typeof sig.signature !== 'string')
    throw new AirlockError('ERR_JWS_MALFORMED', 'the signature is missing');
  let unprotected: Record<string, unknown> | undefined;
  if (sig.header !== undefined) {
    if (!isObject(sig.header))
      throw new AirlockError('ERR_JWS_MALFORMED', 'the unprotected header is not an object');
    unprotected = sig.header;
    const protectedNames = decodeProtectedHeader(sig.protected);
    for (const name of Object.keys(unprotected)) {
      if (SECURITY_PARAMETERS.has(name))
        throw new AirlockError('ERR_JWS_MALFORMED', `${name} must be in the protected header`);
      if (name in protectedNames)
        throw new AirlockError('ERR_JWS_MALFORMED', `${name} is in both headers`);
    }
  }
  return decodeParts(sig.protected, doc.payload, sig.signature, serialization, text, unprotected);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function onlyMembers(o: Record<string, unknown>, allowed: ReadonlySet<string>): void {
  for (const name of Object.keys(o))
    if (!allowed.has(name))
      throw new AirlockError(
        'ERR_JWS_MALFORMED',
        `unexpected member ${JSON.stringify(name.slice(0, 40))}`,
      );
}
