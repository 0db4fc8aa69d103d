/**
 * Veraison's challenge-response sessions, synchronous: a session holds a fresh nonce until it
 * expires; the evidence posted to it is appraised at once (src/onboarding/verifier/appraise.ts)
 * and the session answers with the EAR. A session takes evidence once: the transaction that
 * appraises it takes it from `waiting` first, so a second post (or a racing one, on another
 * node) finds no waiting session: ERR_ATTESTATION_SESSION, as for an expired or unknown one.
 * Malformed evidence uses the session up too (its state is `failed`): evidence gets one try
 * per session (a relying party that chooses its nonces decides how many sessions one may have).
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { fromAnyBase64, toBase64Url } from '../../core/bytes.js';
import type {
  VerifierRepositories,
  VerifierSessionRecord,
  VerifierStore,
} from '../../core/store.js';
import type { EarClaims } from '../../protocols/ear/claims.js';
import {
  MAX_NONCE_BYTES,
  MIN_NONCE_BYTES,
  type ChallengeResponseSession,
} from '../../protocols/rats/challenge-response.js';
import { deviceTokenMediaType, supplyChainMediaType } from '../../protocols/eat/claims.js';
import { signEar } from '../../protocols/ear/result.js';
import {
  appraiseEvidence,
  earFor,
  evidenceKindOf,
  type Appraisal,
} from '../../onboarding/verifier/appraise.js';
import type { RoleContext } from '../shared/context.js';
import type { VerifierConfig } from './defaults.js';
import type { VerifierPki } from './pki.js';
import type { ReferenceValues } from './reference-values.js';

/** The evidence media types the verifier appraises, as each session lists them. */
export const ACCEPTED_MEDIA_TYPES: readonly string[] = [deviceTokenMediaType, supplyChainMediaType];

export const DEFAULT_NONCE_BYTES = 32;

/** Session ids: 16 random bytes, base64url. */
export const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

/** A session's nonce: one the client chose, or so many fresh random bytes. */
export type NonceRequest = { value: Uint8Array } | { size: number };

/** Expired sessions are looked for at most this often per process. */
const PURGE_EVERY_MS = 60_000;

export class AttestationSessions {
  #lastPurge = 0;

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: VerifierStore,
    private readonly config: VerifierConfig,
    private readonly pki: VerifierPki,
    private readonly references: ReferenceValues,
  ) {}

  /**
   * The nonce a `newSession` request asks for: `nonce`, one the client chose (base64 of either
   * alphabet, padded or not, 8 to 64 bytes; a relying party that binds the evidence to its own
   * channel),
   * or `nonceSize` fresh random bytes (8 to 64, 32 when neither is given). Not both.
   */
  static nonceOf(query: { nonce?: unknown; nonceSize?: unknown }): NonceRequest {
    const { nonce, nonceSize } = query;
    if (nonce !== undefined && nonceSize !== undefined)
      throw new AirlockError('ERR_INPUT_SCHEMA', 'nonce and nonceSize are exclusive');
    if (nonce !== undefined) {
      // A '+' of standard base64 left unescaped in a query string arrives as a space.
      const text = typeof nonce === 'string' ? nonce.replace(/ /g, '+') : '';
      const bytes = fromAnyBase64(text);
      if (!bytes || bytes.length < MIN_NONCE_BYTES || bytes.length > MAX_NONCE_BYTES)
        throw new AirlockError(
          'ERR_INPUT_SCHEMA',
          `nonce must be ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes in base64 or base64url`,
        );
      return { value: bytes };
    }
    if (nonceSize === undefined) return { size: DEFAULT_NONCE_BYTES };
    const n =
      typeof nonceSize === 'string' && /^\d{1,3}$/.test(nonceSize) ? Number(nonceSize) : NaN;
    if (!(n >= MIN_NONCE_BYTES && n <= MAX_NONCE_BYTES))
      throw new AirlockError(
        'ERR_INPUT_SCHEMA',
        `nonceSize must be a whole number from ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES}`,
      );
    return { size: n };
  }

  /** A new session with the nonce asked for: the client's, or fresh random bytes. */
  async open(request: NonceRequest): Promise<{ id: string; session: ChallengeResponseSession }> {
    const at = this.ctx.clock.now();
    await this.#purge(at);
    const made = this.#make(request, at);
    await this.store.run((r) =>
      r.sessions.add({ id: made.id, nonce: made.nonce, expiresAt: new Date(made.expiresAt) }, at),
    );
    return { id: made.id, session: view(made) };
  }

  /** A session that has not expired; ERR_ATTESTATION_SESSION otherwise. */
  async get(id: string): Promise<ChallengeResponseSession> {
    const s = SESSION_ID.test(id)
      ? await this.store.run((r) => r.sessions.get(id, this.ctx.clock.now()))
      : undefined;
    if (!s) throw new AirlockError('ERR_ATTESTATION_SESSION');
    return view(s);
  }

  async remove(id: string): Promise<void> {
    const removed = SESSION_ID.test(id) && (await this.store.run((r) => r.sessions.remove(id)));
    if (!removed) throw new AirlockError('ERR_ATTESTATION_SESSION');
  }

  /**
   * A session not yet stored, for a relying party in this process that brings the evidence
   * itself (LocalVerifierClient): `submitReserved` stores it answered, in one write once the
   * evidence is appraised. Until then no other client can see or use it.
   */
  reserve(request: NonceRequest): { id: string; session: ChallengeResponseSession } {
    const made = this.#make(request, this.ctx.clock.now());
    return { id: made.id, session: view(made) };
  }

  /**
   * The evidence, appraised: the session complete, with the signed EAR as its result.
   * ERR_INPUT_MEDIA_TYPE for a media type it does not accept (the session is not used up);
   * ERR_EAT_MALFORMED for evidence that does not parse (it is).
   */
  async submit(id: string, contentType: string, evidence: string): Promise<Submitted> {
    const evidenceType = acceptedType(contentType);
    if (!SESSION_ID.test(id)) throw new AirlockError('ERR_ATTESTATION_SESSION');
    const outcome = await this.store.transaction(async (r) => {
      const at = this.ctx.clock.now();
      const s = await r.sessions.take(id, at);
      if (!s) throw new AirlockError('ERR_ATTESTATION_SESSION');
      const done = await this.#appraise(r, s, evidenceType, evidence, at);
      await r.sessions.finish(id, {
        state: done.failed ? 'failed' : 'complete',
        evidenceType,
        evidence,
        result: done.record.result,
      });
      return done;
    });
    return this.#answered(outcome);
  }

  /**
   * Evidence for a session `reserve` made (its id, nonce and expiry as it gave them): appraised,
   * and the session stored complete (or failed) at once. ERR_ATTESTATION_SESSION when it has
   * expired, or was used already.
   */
  async submitReserved(
    reserved: { id: string; nonce: string; expiry: string },
    contentType: string,
    evidence: string,
  ): Promise<Submitted> {
    const evidenceType = acceptedType(contentType);
    if (!SESSION_ID.test(reserved.id)) throw new AirlockError('ERR_ATTESTATION_SESSION');
    await this.#purge(this.ctx.clock.now());
    // One write, the session stored answered: no transaction needed around it.
    const outcome = await this.store.run(async (r) => {
      const at = this.ctx.clock.now();
      if (!(Date.parse(reserved.expiry) > at.getTime()))
        throw new AirlockError('ERR_ATTESTATION_SESSION');
      const s: VerifierSessionRecord = {
        id: reserved.id,
        nonce: reserved.nonce,
        expiresAt: reserved.expiry,
        state: 'waiting',
        evidenceType: null,
        evidence: null,
        result: null,
      };
      const done = await this.#appraise(r, s, evidenceType, evidence, at);
      if (!(await r.sessions.addDone(done.record, at)))
        throw new AirlockError('ERR_ATTESTATION_SESSION');
      return done;
    });
    return this.#answered(outcome);
  }

  #make(request: NonceRequest, at: Date): VerifierSessionRecord & { expiresAt: string } {
    const n = 'value' in request ? request.value.length : request.size;
    if (!(n >= MIN_NONCE_BYTES && n <= MAX_NONCE_BYTES))
      throw new AirlockError(
        'ERR_INPUT_SCHEMA',
        `a nonce has ${MIN_NONCE_BYTES} to ${MAX_NONCE_BYTES} bytes`,
      );
    const id = toBase64Url(this.ctx.crypto.bytes(16));
    const nonce = toBase64Url(
      'value' in request ? request.value : this.ctx.crypto.bytes(request.size),
    );
    const expiresAt = new Date(at.getTime() + this.config.sessionTtlSeconds * 1000);
    return {
      id,
      nonce,
      expiresAt: expiresAt.toISOString(),
      state: 'waiting',
      evidenceType: null,
      evidence: null,
      result: null,
    };
  }

  /** The session `s` with `evidence` appraised: complete with its signed EAR, or failed (malformed evidence). */
  async #appraise(
    r: VerifierRepositories,
    s: VerifierSessionRecord,
    evidenceType: string,
    evidence: string,
    at: Date,
  ): Promise<Appraised> {
    const { crypto, clock } = this.ctx;
    const manufacturers = await this.references.endorsements(r);
    let appraisal: Appraisal;
    try {
      appraisal = appraiseEvidence(
        { crypto, clock },
        {
          mediaType: evidenceType,
          evidence,
          nonce: s.nonce,
          manufacturers,
          clockSkewSeconds: this.config.clockSkewSeconds,
        },
      );
    } catch (e) {
      if (!isAirlockError(e, 'ERR_EAT_MALFORMED')) throw e;
      return {
        record: { ...s, state: 'failed', evidenceType, evidence, result: null },
        failed: e,
      };
    }
    const claims = earFor(appraisal, {
      nonce: s.nonce,
      iat: Math.floor(at.getTime() / 1000),
      developer: this.config.developer,
      build: this.config.build,
      policyId: this.config.appraisalPolicyId,
    });
    const result = signEar(crypto, this.pki.ear.key, this.pki.earKid, claims);
    return {
      record: { ...s, state: 'complete', evidenceType, evidence, result },
      appraisal,
      claims,
    };
  }

  /** The outcome, logged; a failed one thrown (after its transaction stored it). */
  #answered(outcome: Appraised): Submitted {
    if (outcome.failed) throw outcome.failed;
    const a = outcome.appraisal!;
    this.ctx.logger.info(
      {
        status: a.status,
        ...(a.annotated
          ? { serial: a.annotated['serial-number'], manufacturer: a.annotated.manufacturer }
          : {}),
        reasons: a.reasons.length,
      },
      'verifier: evidence appraised',
    );
    return { session: view(outcome.record), appraisal: a, claims: outcome.claims! };
  }

  /** Deletes sessions that expired more than `sessionRetentionSeconds` ago, at most once a minute. */
  async #purge(at: Date): Promise<void> {
    if (at.getTime() - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = at.getTime();
    const before = new Date(at.getTime() - this.config.sessionRetentionSeconds * 1000);
    const n = await this.store.run((r) => r.sessions.purge(before));
    if (n > 0) this.ctx.logger.debug({ sessions: n }, 'verifier: expired sessions deleted');
  }
}

/** A session answered: as the API shows it, the appraisal, and the claims of its signed EAR. */
export interface Submitted {
  session: ChallengeResponseSession;
  appraisal: Appraisal;
  claims: EarClaims;
}

interface Appraised {
  record: VerifierSessionRecord;
  appraisal?: Appraisal;
  claims?: EarClaims;
  failed?: AirlockError;
}

/** The canonical evidence media type of `contentType`; ERR_INPUT_MEDIA_TYPE if it is not one taken. */
function acceptedType(contentType: string): string {
  const kind = evidenceKindOf(contentType);
  if (kind === undefined)
    throw new AirlockError(
      'ERR_INPUT_MEDIA_TYPE',
      `the evidence must be one of: ${ACCEPTED_MEDIA_TYPES.join(', ')}`,
    );
  return kind === 'device' ? deviceTokenMediaType : supplyChainMediaType;
}

/** A session as the API shows it. */
function view(s: VerifierSessionRecord): ChallengeResponseSession {
  return {
    nonce: s.nonce,
    expiry: s.expiresAt,
    accept: [...ACCEPTED_MEDIA_TYPES],
    state: s.state,
    ...(s.evidenceType !== null && s.evidence !== null
      ? { evidence: { type: s.evidenceType, value: s.evidence } }
      : {}),
    ...(s.result !== null ? { result: s.result } : {}),
  };
}
