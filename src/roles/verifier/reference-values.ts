/**
 * The reference values the verifier holds (RFC 9334 section 3: the reference value provider
 * and endorser is the manufacturer): the latest signed document of each trusted manufacturer,
 * pushed to it (`provision`, from `/endorsement-provisioning/v1/submit`) or pulled from the
 * manufacturer (`refresh`). A document is stored only if it verifies against that
 * manufacturer's endorsements CA and root, and only if it is newer than the one held: an
 * older sequence, or the same sequence with other content, is ERR_REFERENCE_VALUES_ROLLBACK.
 *
 * The database is the truth (several verifier nodes may share one PostgreSQL database, and
 * any of them may take a new document): every appraisal reads the sequences held, and only a
 * document whose sequence this process has not verified yet is read and verified again.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import type { Party } from '../../core/party.js';
import { toPem } from '../../core/bytes.js';
import type { VerifierRepositories, VerifierStore } from '../../core/store.js';
import { decodeCompact, payloadJson } from '../../protocols/jws/compact.js';
import {
  MAX_REFERENCE_VALUES_BYTES,
  REFERENCE_VALUES_MEDIA_TYPE,
  verifyReferenceValues,
  type VerifiedReferenceValues,
} from '../../protocols/endorsement/reference-values.js';
import type { ManufacturerEndorsements } from '../../onboarding/verifier/appraise.js';
import { PeerConnection } from '../../adapters/http/connection.js';
import type { RoleContext } from '../shared/context.js';
import type { ManufacturerTrustInput } from './trust.js';

export const REFERENCE_VALUES_PATH = '/.well-known/airlock/reference-values';

/** How long a manufacturer may take to connect, and to answer, when its reference values are pulled. */
const PULL_TIMEOUT_MS = 15_000;

export interface Provisioned {
  manufacturer: Party;
  sequence: number;
  /** False when the very document was held already. */
  changed: boolean;
}

export class ReferenceValues {
  /** By party id: the sequence this process last verified, and what it verified to. */
  readonly #verified = new Map<
    string,
    { sequence: number; references: VerifiedReferenceValues | undefined }
  >();
  /** Connections of pulls in flight, closed by close(). */
  readonly #pulling = new Set<PeerConnection>();
  #refreshing: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: VerifierStore,
    readonly manufacturers: readonly ManufacturerTrustInput[],
  ) {}

  /** Each trusted manufacturer with the reference values held for it, read through `r`. */
  async endorsements(r: VerifierRepositories): Promise<ManufacturerEndorsements[]> {
    const held = new Map((await r.referenceValues.sequences()).map((h) => [h.partyId, h.sequence]));
    const out: ManufacturerEndorsements[] = [];
    for (const m of this.manufacturers) {
      const sequence = held.get(m.party.id);
      let references: VerifiedReferenceValues | undefined;
      if (sequence !== undefined) {
        const known = this.#verified.get(m.party.id);
        references = known?.sequence === sequence ? known.references : await this.#load(r, m);
      }
      out.push({ party: m.party, root: m.root, endorsementsCa: m.endorsementsCa, references });
    }
    return out;
  }

  /** Reads and verifies the document held for `m` (a newer one than this process knows). */
  async #load(
    r: VerifierRepositories,
    m: ManufacturerTrustInput,
  ): Promise<VerifiedReferenceValues | undefined> {
    const row = await r.referenceValues.get(m.party.id);
    if (!row) return undefined;
    let references: VerifiedReferenceValues | undefined;
    try {
      references = this.#verify(m, row.document);
    } catch (e) {
      // Stored once verified: its certificates may have expired since. It judges nothing now.
      this.ctx.logger.warn(
        { manufacturer: m.party.name, sequence: row.sequence, code: codeOf(e) },
        'verifier: the reference values held no longer verify',
      );
    }
    // Known by the sequence read with the document (a newer one may have come meanwhile).
    this.#verified.set(m.party.id, { sequence: row.sequence, references });
    return references;
  }

  #verify(m: ManufacturerTrustInput, document: string): VerifiedReferenceValues {
    const verified = verifyReferenceValues(this.ctx.crypto, document, {
      anchors: [m.endorsementsCa],
      root: m.root,
      at: this.ctx.clock.now(),
    });
    if (verified.body.manufacturer.id !== m.party.id)
      throw new AirlockError(
        'ERR_REFERENCE_VALUES_MALFORMED',
        'the document names another manufacturer than its signer',
      );
    return verified;
  }

  /**
   * Takes a signed reference values document: it must name a trusted manufacturer, be signed
   * by that manufacturer's endorsements signer, and be newer than the one held.
   */
  async provision(document: string): Promise<Provisioned> {
    if (document.length > MAX_REFERENCE_VALUES_BYTES)
      throw new AirlockError('ERR_REFERENCE_VALUES_MALFORMED', 'the document is too large');
    // Whose it says it is decides whose anchors must verify it; the signature then decides.
    let claimed: unknown;
    try {
      const json = payloadJson(decodeCompact(document)) as {
        'airlock-reference-values'?: { manufacturer?: { id?: unknown } };
      } | null;
      claimed = json?.['airlock-reference-values']?.manufacturer?.id;
    } catch (cause) {
      throw new AirlockError('ERR_REFERENCE_VALUES_MALFORMED', 'the document is not a JWS', {
        cause,
      });
    }
    const m = this.manufacturers.find((x) => x.party.id === claimed);
    if (m === undefined)
      throw new AirlockError(
        'ERR_REFERENCE_VALUES_MALFORMED',
        'the document names no manufacturer this verifier trusts',
      );
    const verified = this.#verify(m, document);
    const sequence = verified.body.sequence;
    const at = this.ctx.clock.now();
    const stored = await this.store.run(async (r) => {
      if (await r.referenceValues.putNewer({ partyId: m.party.id, sequence, document }, at))
        return true;
      const held = await r.referenceValues.get(m.party.id);
      if (held && held.sequence === sequence && held.document === document) return false;
      throw new AirlockError(
        'ERR_REFERENCE_VALUES_ROLLBACK',
        held && held.sequence === sequence
          ? `sequence ${sequence} is held already, with other content`
          : `sequence ${sequence}, but ${held?.sequence ?? 'a later one'} is held`,
      );
    });
    if (stored) {
      this.#verified.set(m.party.id, { sequence, references: verified });
      this.ctx.logger.info(
        { manufacturer: m.party.name, sequence },
        'verifier: reference values provisioned',
      );
    }
    return { manufacturer: m.party, sequence, changed: stored };
  }

  /**
   * Pulls the current reference values of every manufacturer that has a URL, over HTTPS that
   * must chain to that manufacturer's root and name its host. Failures are logged, never
   * thrown; a pull already in flight is joined, not repeated.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        for (const m of this.manufacturers) {
          if (m.url === undefined || this.#closed) continue;
          try {
            const p = await this.provision(await this.#pull(m, m.url));
            if (p.changed)
              this.ctx.logger.info(
                { manufacturer: m.party.name, sequence: p.sequence },
                'verifier: reference values refreshed',
              );
          } catch (e) {
            if (this.#closed) return;
            this.ctx.logger.warn(
              { manufacturer: m.party.name, code: codeOf(e), err: (e as Error).message },
              'verifier: reference values not refreshed',
            );
          }
        }
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #pull(m: ManufacturerTrustInput, url: string): Promise<string> {
    const base = new URL(url);
    const conn = await PeerConnection.open(base.origin, {
      ca: toPem('CERTIFICATE', m.root.der),
      verifyHostname: true,
      minVersion: 'TLSv1.2',
      handshakeTimeoutMs: PULL_TIMEOUT_MS,
      requestTimeoutMs: PULL_TIMEOUT_MS,
      maxResponseBytes: MAX_REFERENCE_VALUES_BYTES,
    });
    this.#pulling.add(conn);
    try {
      const res = await conn.call(
        'GET',
        `${base.pathname.replace(/\/+$/, '')}${REFERENCE_VALUES_PATH}`,
        { accept: REFERENCE_VALUES_MEDIA_TYPE },
      );
      return res.body;
    } finally {
      this.#pulling.delete(conn);
      await conn.close();
    }
  }

  /** Ends pulls in flight; later refreshes do nothing. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const c of this.#pulling) await c.close();
    await this.#refreshing?.catch(() => undefined);
  }
}

function codeOf(e: unknown): string {
  return isAirlockError(e) ? e.code : 'ERR_INTERNAL';
}
