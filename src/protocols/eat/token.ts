/**
 * An EAT in JWT form (RFC 9711 section 7.2.1, RFC 7519): a JWS compact with ES256, `typ`
 * `eat+jwt`, and the signer's certificate chain in `x5c` (the device's attestation key
 * certificate, then its issuer). Signing and decoding only: who may sign is the verifier's
 * judgement (src/onboarding/verifier).
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { toBase64 } from '../../core/bytes.js';
import {
  decodeCompact,
  payloadJson,
  verifyCompact,
  signCompact,
  type DecodedJws,
} from '../jws/compact.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';

export const EAT_JWT_TYP = 'eat+jwt';
/** An EAT is a small thing; a larger one is refused before it is parsed. */
export const MAX_EAT_BYTES = 16 * 1024;

export function signEat(
  crypto: Crypto,
  key: PrivateKeyHandle,
  chain: readonly Certificate[],
  claims: object,
): string {
  return signCompact(
    crypto,
    key,
    { alg: 'ES256', typ: EAT_JWT_TYP, x5c: chain.map((c) => toBase64(c.der)) },
    claims,
  );
}

export interface DecodedEat {
  readonly jws: DecodedJws;
  /** The claims, as JSON (not yet checked against a profile). */
  readonly json: unknown;
  /** The x5c certificates, signer first. */
  readonly chain: readonly Certificate[];
}

/** Splits an EAT and parses its x5c, without verifying anything. */
export function decodeEat(text: string): DecodedEat {
  if (text.length > MAX_EAT_BYTES)
    throw new AirlockError('ERR_EAT_MALFORMED', `the token exceeds ${MAX_EAT_BYTES} bytes`);
  let jws: DecodedJws;
  try {
    jws = decodeCompact(text);
  } catch (cause) {
    throw new AirlockError('ERR_EAT_MALFORMED', 'the token is not a compact JWS', { cause });
  }
  if (jws.header.typ !== undefined && jws.header.typ.toLowerCase() !== EAT_JWT_TYP)
    throw new AirlockError('ERR_EAT_MALFORMED', `typ ${jws.header.typ}`);
  const x5c = jws.header.x5c;
  if (!x5c || x5c.length > 4)
    throw new AirlockError('ERR_EAT_MALFORMED', 'x5c must carry the signer and at most 3 more');
  return { jws, json: payloadJson(jws), chain: x5c.map((c) => parseCertificateBase64(c)) };
}

/** The signature, checked with the x5c signer's key (whether that key is trusted is the caller's check). */
export function verifyEatSignature(crypto: Crypto, eat: DecodedEat): Certificate {
  const signer = eat.chain[0]!;
  verifyCompact(crypto, eat.jws, signer.spki);
  return signer;
}
