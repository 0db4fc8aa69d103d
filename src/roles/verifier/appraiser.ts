/**
 * Where the verifier's appraisals run (src/onboarding/verifier/appraise.ts): on the event loop
 * (`inlineAppraiser`), or in a thread of their own (`AppraisalThread`, appraisal-thread.ts),
 * so that parsing and verifying evidence does not take the thread that serves the verifier's
 * API, and in `airlock up` the registrar's and the MASA's as well. Either way the appraisal is
 * the same pure function over the same inputs, its clock the instant the verifier gives.
 */
import type { Crypto } from '../../core/ports.js';
import {
  appraiseEvidence,
  type Appraisal,
  type ManufacturerEndorsements,
} from '../../onboarding/verifier/appraise.js';

/** One piece of evidence to appraise, and all it is appraised against. */
export interface AppraisalRequest {
  /** The canonical evidence media type. */
  mediaType: string;
  evidence: string;
  /** The session's nonce, base64url. */
  nonce: string;
  manufacturers: readonly ManufacturerEndorsements[];
  clockSkewSeconds: number;
  /** The verifier's clock at the appraisal. */
  at: Date;
}

export interface Appraiser {
  /** The appraisal; ERR_EAT_MALFORMED (thrown) for evidence that does not parse. */
  appraise(request: AppraisalRequest): Promise<Appraisal>;
  /** Resolves true once appraisals run in a thread of their own, false if they run inline. */
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/** The appraisal of `request` on the calling thread. */
export function appraiseNow(crypto: Crypto, request: AppraisalRequest): Appraisal {
  const { at } = request;
  return appraiseEvidence(
    { crypto, clock: { now: () => new Date(at.getTime()) } },
    {
      mediaType: request.mediaType,
      evidence: request.evidence,
      nonce: request.nonce,
      manufacturers: request.manufacturers,
      clockSkewSeconds: request.clockSkewSeconds,
    },
  );
}

/** Appraisals on the event loop. */
export function inlineAppraiser(crypto: Crypto): Appraiser {
  return {
    appraise: async (request) => appraiseNow(crypto, request),
    ready: async () => false,
    close: async () => {},
  };
}
