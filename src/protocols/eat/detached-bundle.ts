/**
 * The Detached EAT Bundle (DEB, RFC 9711 section 5), JSON form:
 *
 * ```
 * [ [ "JWT", "<main token>" ], { "<submodule name>": "<base64url claims-set JSON>", ... } ]
 * ```
 *
 * The main token's `submods` binds each detached claims set by its digest,
 * `"<name>": ["DIGEST", ["SHA-256", "<base64url digest>"]]` (its submods claim); the digest is
 * over the claims set's bytes as carried (the base64url-decoded text, whitespace and all).
 *
 * What this reads and what it does not:
 * - The main token's signature is NOT verified, only its payload decoded. Airlock accepts
 *   ES256 alone, and a bundle names no key: the public examples are HS256 with a secret no one
 *   published. A caller that trusts a bundle must verify the main token itself (with
 *   `mainToken` and a key it knows); until then the claims here are what the bundle says, not
 *   what anyone vouched for, and a matching digest only ties a detached set to that unverified
 *   main token.
 * - The JSON form only: a main token of type `CBOR` (a CWT) is refused, as is a digest
 *   algorithm other than SHA-256 (`"SHA-256"`, or COSE's -16).
 * - A digest that does not match is reported (`digestsMatch`), not thrown: the caller decides.
 *   Everything malformed is ERR_EAT_MALFORMED: not JSON, not the bundle's shape, a claims set
 *   (main or detached) that the EAT claims schema refuses (that of `parseEatClaims`), a
 *   detached set the main token binds to no digest, a digest that is not base64url SHA-256.
 */
import { z } from 'zod';
import { fromBase64Url, fromUtf8, equalBytes } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';
import { parseStrictJson } from '../json/strict.js';
import { checked } from '../schema.js';
import { EatClaims } from './claims.js';

/** A bundle carries a token and a few claims sets; a larger one is refused before it is parsed. */
export const MAX_BUNDLE_BYTES = 64 * 1024;

/** COSE's identifier of SHA-256 (RFC 9054), the CBOR examples' form of the algorithm. */
const COSE_SHA_256 = -16;

const b64u = z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, 'base64url');

const BundleShape = z.tuple([
  // [type, token]: any type parses here, and anything but JWT is then refused by name.
  z.tuple([z.string().min(1).max(16), z.string().min(1)]),
  z.record(z.string().min(1), b64u).refine((m) => Object.keys(m).length > 0, {
    message: 'at least one detached claims set',
  }),
]);

const DetachedDigest = z.tuple([
  z.literal('DIGEST'),
  z.tuple([z.union([z.string().min(1), z.number().int()]), b64u]),
]);

/** The bundle decoded, before its detached claims sets are read as claims. */
export interface DecodedDetachedBundle {
  /** The main token's compact JWS text, as received (its signature unverified). */
  readonly mainToken: string;
  /** The main token's JWS header, as it says (its `alg` is whatever the signer chose). */
  readonly mainHeader: Readonly<Record<string, unknown>>;
  /** The main token's claims (decoded, not verified). */
  readonly main: EatClaims;
  /** Each detached claims set's bytes (the base64url-decoded text), by submodule name. */
  readonly detachedBytes: Readonly<Record<string, Uint8Array>>;
}

export interface DetachedBundle extends DecodedDetachedBundle {
  /** Each detached claims set, by submodule name. */
  readonly detached: Readonly<Record<string, EatClaims>>;
  /** By submodule name: whether SHA-256 of the detached bytes is the main token's digest. */
  readonly digestsMatch: Readonly<Record<string, boolean>>;
}

function malformed(detail: string, cause?: unknown): AirlockError {
  return new AirlockError('ERR_EAT_MALFORMED', detail, cause === undefined ? undefined : { cause });
}

/** base64url, unpadded or padded (RFC 9711's own examples pad some values). */
function decodeB64u(text: string, what: string): Uint8Array {
  const bytes = fromBase64Url(text.replace(/={1,2}$/, ''));
  if (!bytes) throw malformed(`${what} is not base64url`);
  return bytes;
}

function jsonOf(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch (cause) {
    throw malformed(`${what} is not UTF-8`, cause);
  }
  return parseStrictJson(text, 'ERR_EAT_MALFORMED', what);
}

/** The header and claims of a compact JWS, decoded without checking its signature. */
function decodeUnverifiedJwt(text: string): { header: Record<string, unknown>; claims: EatClaims } {
  const parts = text.trim().split('.');
  if (parts.length !== 3) throw malformed('the main token is not a compact JWS (three parts)');
  const [h, p, s] = parts as [string, string, string];
  if (s.length > 0) decodeB64u(s, "the main token's signature");
  const header = jsonOf(decodeB64u(h, "the main token's header"), "the main token's header");
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw malformed("the main token's header is not an object");
  const what = "the main token's payload";
  const claims = checked(EatClaims, jsonOf(decodeB64u(p, what), what), 'ERR_EAT_MALFORMED', what);
  return { header: header as Record<string, unknown>, claims };
}

/** Decodes the bundle's structure and its main token; the detached sets stay bytes. */
export function decodeDetachedBundle(text: string): DecodedDetachedBundle {
  if (text.length > MAX_BUNDLE_BYTES)
    throw malformed(`the bundle exceeds ${MAX_BUNDLE_BYTES} bytes`);
  const [[type, token], sets] = checked(
    BundleShape,
    parseStrictJson(text, 'ERR_EAT_MALFORMED', 'the detached EAT bundle'),
    'ERR_EAT_MALFORMED',
    'the detached EAT bundle',
  );
  if (type !== 'JWT')
    throw malformed(
      `a main token of type ${JSON.stringify(type)}: Airlock reads the JSON form (a JWT) only`,
    );
  const { header, claims } = decodeUnverifiedJwt(token);
  // fromEntries defines own properties (no prototype setter), whatever a set is named.
  const detachedBytes = Object.fromEntries(
    Object.entries(sets).map(([name, b64]) => [
      name,
      decodeB64u(b64, `the detached claims set ${JSON.stringify(name)}`),
    ]),
  );
  return { mainToken: token.trim(), mainHeader: header, main: claims, detachedBytes };
}

/**
 * For each detached claims set, whether its SHA-256 is the digest the main token's `submods`
 * gives it. A set the main token binds to no digest, or a digest in another algorithm or of
 * another length, is malformed.
 */
export function detachedDigestsMatch(
  crypto: Crypto,
  main: EatClaims,
  detachedBytes: Readonly<Record<string, Uint8Array>>,
): Record<string, boolean> {
  const out: [string, boolean][] = [];
  for (const [name, bytes] of Object.entries(detachedBytes)) {
    const what = `the main token's digest of ${JSON.stringify(name)}`;
    const submods = main.submods ?? {};
    if (!Object.hasOwn(submods, name)) throw malformed(`${what} is missing`);
    const entry = submods[name];
    const [, [alg, digest]] = checked(DetachedDigest, entry, 'ERR_EAT_MALFORMED', what);
    const sha256 = typeof alg === 'string' ? alg.toUpperCase() === 'SHA-256' : alg === COSE_SHA_256;
    if (!sha256) throw malformed(`${what} uses ${String(alg)}: Airlock computes SHA-256 only`);
    const expected = decodeB64u(digest, what);
    if (expected.length !== 32) throw malformed(`${what} is not a SHA-256 digest (32 bytes)`);
    out.push([name, equalBytes(crypto.sha256(bytes), expected)]);
  }
  return Object.fromEntries(out);
}

/**
 * Reads a Detached EAT Bundle in JSON form: the main token's claims (signature NOT verified,
 * see above), each detached claims set, and whether each one's digest matches.
 */
export function readDetachedBundle(crypto: Crypto, text: string): DetachedBundle {
  const decoded = decodeDetachedBundle(text);
  const digestsMatch = detachedDigestsMatch(crypto, decoded.main, decoded.detachedBytes);
  const detached = Object.fromEntries(
    Object.entries(decoded.detachedBytes).map(([name, bytes]) => {
      const what = `the detached claims set ${JSON.stringify(name)}`;
      return [name, checked(EatClaims, jsonOf(bytes, what), 'ERR_EAT_MALFORMED', what)];
    }),
  );
  return { ...decoded, detached, digestsMatch };
}
