/**
 * Veraison's challenge-response sessions, synchronous: a session holds a fresh nonce until it
 * expires; the evidence posted to it is appraised at once (src/onboarding/verifier/appraise.ts)
 * and the session answers with the EAR. A session takes evidence once: the transaction that
 * appraises it takes it from `waiting` first, so a second post (or a racing one, on another
 * node) finds no waiting session: ERR_ATTESTATION_SESSION, as for an expired or unknown one.
 * Malformed evidence uses the session up too (its state is `failed`): a device gets one try
 * per nonce.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { fromBase64, fromBase64Url, toBase64Url } from '../../core/bytes.js';
import type { VerifierSessionRecord, VerifierStore } from '../../core/store.js';
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
   * The nonce a `newSession` request asks for: `nonce`, one the client chose (base64 or
   * base64url, 8 to 64 bytes; a relying party that binds the evidence to its own channel),
   * or `nonceSize` fresh random bytes (8 to 64, 32 when neither is given). Not both.
   */
  static nonceOf(query: { nonce?: unknown; nonceSize?: unknown }): NonceRequest {
    const { nonce, nonceSize } = query;
    if (nonce !== undefined && nonceSize !== undefined)
      throw new AirlockError('ERR_INPUT_SCHEMA', 'nonce and nonceSize are exclusive');
    if (nonce !== undefined) {
      // A '+' of standard base64 left unescaped in a query string arrives as a space.
      const text = typeof nonce === 'string' ? nonce.replace(/ /g, '+') : '';
      const bytes = fromBase64Url(text) ?? fromBase64(text);
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
    const id = toBase64Url(this.ctx.crypto.bytes(16));
    const nonce = toBase64Url(
      'value' in request ? request.value : this.ctx.crypto.bytes(request.size),
    );
    const expiresAt = new Date(at.getTime() + this.config.sessionTtlSeconds * 1000);
    await this.store.run((r) => r.sessions.add({ id, nonce, expiresAt }, at));
    return {
      id,
      session: view({
        id,
        nonce,
        expiresAt: expiresAt.toISOString(),
        state: 'waiting',
        evidenceType: null,
        evidence: null,
        result: null,
      }),
    };
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
   * The evidence, appraised: the session complete, with the signed EAR as its result.
   * ERR_INPUT_MEDIA_TYPE for a media type it does not accept (the session is not used up);
   * ERR_EAT_MALFORMED for evidence that does not parse (it is).
   */
  async submit(
    id: string,
    contentType: string,
    evidence: string,
  ): Promise<{ session: ChallengeResponseSession; appraisal: Appraisal }> {
    const kind = evidenceKindOf(contentType);
    if (kind === undefined)
      throw new AirlockError(
        'ERR_INPUT_MEDIA_TYPE',
        `the evidence must be one of: ${ACCEPTED_MEDIA_TYPES.join(', ')}`,
      );
    if (!SESSION_ID.test(id)) throw new AirlockError('ERR_ATTESTATION_SESSION');
    const evidenceType = kind === 'device' ? deviceTokenMediaType : supplyChainMediaType;
    const { crypto, clock } = this.ctx;
    const outcome = await this.store.transaction(async (r) => {
      const at = clock.now();
      const s = await r.sessions.take(id, at);
      if (!s) throw new AirlockError('ERR_ATTESTATION_SESSION');
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
        await r.sessions.finish(id, { state: 'failed', evidenceType, evidence, result: null });
        return { failed: e };
      }
      const result = signEar(
        crypto,
        this.pki.ear.key,
        this.pki.earKid,
        earFor(appraisal, {
          nonce: s.nonce,
          iat: Math.floor(at.getTime() / 1000),
          developer: this.config.developer,
          build: this.config.build,
          policyId: this.config.appraisalPolicyId,
        }),
      );
      await r.sessions.finish(id, { state: 'complete', evidenceType, evidence, result });
      const done: VerifierSessionRecord = {
        ...s,
        state: 'complete',
        evidenceType,
        evidence,
        result,
      };
      return { session: view(done), appraisal };
    });
    if ('failed' in outcome) throw outcome.failed;
    const a = outcome.appraisal;
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
    return outcome;
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
