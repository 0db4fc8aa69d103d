/**
 * An EAR in JWT form: signed with ES256 by the verifier's key, checked by whoever relies on
 * it (the registrar) with that key alone, never with a key the result carries.
 */
import { AirlockError } from '../../core/errors.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { decodeCompact, payloadJson, signCompact, verifyCompact } from '../jws/compact.js';
import { readEarClaims, type EarClaims } from './claims.js';

export const MAX_EAR_BYTES = 32 * 1024;

export function signEar(
  crypto: Crypto,
  key: PrivateKeyHandle,
  kid: string,
  claims: EarClaims,
): string {
  return signCompact(crypto, key, { alg: 'ES256', typ: 'JWT', kid }, claims);
}

/** The claims of an EAR signed by the key `spki`; ERR_EAR_UNTRUSTED when another key signed it. */
export function verifyEar(crypto: Crypto, jwt: string, spki: Uint8Array): EarClaims {
  if (jwt.length > MAX_EAR_BYTES)
    throw new AirlockError('ERR_EAR_MALFORMED', `the result exceeds ${MAX_EAR_BYTES} bytes`);
  let decoded;
  try {
    decoded = decodeCompact(jwt);
  } catch (cause) {
    throw new AirlockError('ERR_EAR_MALFORMED', 'the result is not a compact JWS', { cause });
  }
  try {
    verifyCompact(crypto, decoded, spki);
  } catch (cause) {
    throw new AirlockError('ERR_EAR_UNTRUSTED', undefined, { cause });
  }
  return readEarClaims(payloadJson(decoded));
}
