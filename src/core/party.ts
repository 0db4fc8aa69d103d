import { toBase64Url } from './bytes.js';
import type { Crypto } from './ports.js';

/**
 * A party (NIST IR 8350 section 6): a manufacturer, a device owner, a network owner or an
 * authorized onboarder. Identified by the SHA-256 of its CA's SubjectPublicKeyInfo, so that
 * a network proves it is a party by holding a certificate from that CA.
 */
export interface Party {
  /** base64url(SHA-256(DER SubjectPublicKeyInfo of the party's CA)). */
  readonly id: string;
  readonly name: string;
}

export function partyIdFromSpki(crypto: Pick<Crypto, 'sha256'>, spki: Uint8Array): string {
  return toBase64Url(crypto.sha256(spki));
}

export const PARTY_ID = /^[A-Za-z0-9_-]{43}$/;
