/**
 * The challenge-response session of Veraison's verification API (the RATS reference
 * interaction model, draft-ietf-rats-reference-interaction-models): `POST
 * /challenge-response/v1/newSession?nonceSize=N` creates a session (201, `Location`), `POST`
 * evidence to it answers the session with the attestation result (synchronous: 200, state
 * `complete`, `result` the EAR in JWT form).
 */
import { z } from 'zod';
import { checked } from '../schema.js';

export const SESSION_MEDIA_TYPE = 'application/vnd.veraison.challenge-response-session+json';
export const NEW_SESSION_PATH = '/challenge-response/v1/newSession';
export const SESSION_PATH_PREFIX = '/challenge-response/v1/session/';
/** Veraison's bounds on the nonce, in bytes. */
export const MIN_NONCE_BYTES = 8;
export const MAX_NONCE_BYTES = 64;

export const ChallengeResponseSession = z.looseObject({
  /** base64url without padding (Veraison also accepts standard base64 on input). */
  nonce: z.string().regex(/^[A-Za-z0-9_+/-]{11,88}={0,2}$/),
  expiry: z.iso.datetime({ offset: true }),
  accept: z.array(z.string().min(1)).min(1),
  state: z.enum(['waiting', 'processing', 'complete', 'failed']),
  evidence: z.looseObject({ type: z.string(), value: z.string() }).optional(),
  /** The EAR, JWT form. */
  result: z.string().optional(),
});
export type ChallengeResponseSession = z.infer<typeof ChallengeResponseSession>;

export function readSession(json: unknown): ChallengeResponseSession {
  return checked(ChallengeResponseSession, json, 'ERR_VERIFIER_REFUSED', 'the verifier session');
}
