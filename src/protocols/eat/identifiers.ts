/**
 * How Airlock derives the EAT identifiers of a device (RFC 9711 section 4.2), so that the
 * verifier can check each against what the manufacturer certified rather than believe it:
 * - `ueid`: type RAND (0x01) with 128 bits: the first 16 bytes of the SHA-256 of the key that
 *   speaks for the device (its attestation key, or for supply-chain evidence its birth key).
 *   Those keys are made at random on the device, once, so the UEID is unique and permanent.
 * - `oemid`: the random-number form (16 bytes): the first 16 bytes of the manufacturer's party
 *   id (the SHA-256 of its root CA's public key).
 * - `hwmodel`: the first 16 bytes of the SHA-256 of the model name (RFC 9711 section 4.2.4
 *   allows any byte string up to 32 bytes that the manufacturer defines).
 */
import { fromBase64Url, toBase64Url, utf8 } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import type { Crypto } from '../../core/ports.js';

export const UEID_TYPE_RAND = 0x01;

export function ueidOf(crypto: Crypto, spki: Uint8Array): string {
  const id = new Uint8Array(17);
  id[0] = UEID_TYPE_RAND;
  id.set(crypto.sha256(spki).subarray(0, 16), 1);
  return toBase64Url(id);
}

export function oemidOf(partyId: string): string {
  const bytes = fromBase64Url(partyId);
  if (!bytes || bytes.length !== 32)
    throw new AirlockError('ERR_INPUT_SCHEMA', 'a party id is a base64url SHA-256');
  return toBase64Url(bytes.subarray(0, 16));
}

export function hwmodelOf(crypto: Crypto, model: string): string {
  return toBase64Url(crypto.sha256(utf8(model)).subarray(0, 16));
}
