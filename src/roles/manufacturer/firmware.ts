/**
 * Firmware releases and the reference values signed from them (report section 5.1.1 step 3;
 * RFC 9334: the manufacturer as endorser and reference value provider; docs/ATTESTATION.md).
 *
 * Each release or withdrawal commits, in the same transaction, a new reference values
 * document (src/protocols/endorsement/reference-values.ts) with the next sequence number,
 * signed by the endorsements signer; the stored document is what every reader gets, so that
 * one sequence always means the same bytes. Two changes that race for a sequence number: the
 * primary key keeps one, and the other starts over on what the first committed.
 *
 * A model has secure boot unless its first release says otherwise; that is fixed from then on.
 */
import { AirlockError } from '../../core/errors.js';
import { fromBase64Url, toBase64, toBase64Url } from '../../core/bytes.js';
import type { Party } from '../../core/party.js';
import type {
  FirmwareRecord,
  ManufacturerRepositories,
  ManufacturerStore,
} from '../../core/store.js';
import { isUniqueViolation } from '../../adapters/store/unique-violation.js';
import {
  ReferenceValuesBody,
  signReferenceValues,
  type FirmwareRelease,
} from '../../protocols/endorsement/reference-values.js';
import { checked } from '../../protocols/schema.js';
import type { RoleContext } from '../shared/context.js';
import type { ManufacturerPki } from './pki.js';

/** Model names, as minting takes them. */
export const MODEL = /^[A-Za-z0-9._-]{1,64}$/;
/**
 * Dotted numeric, 1 to 4 parts, each without leading zeros (so that `1.02` cannot be released
 * beside `1.2`) and at most 9 digits (exact as a number).
 */
const VERSION = /^(0|[1-9]\d{0,8})(\.(0|[1-9]\d{0,8})){0,3}$/;
const DIGEST = /^[A-Za-z0-9_-]{43}$/;
/** Control and bidirectional characters: a name is shown to operators. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
/** How often a change starts over after losing a race for its sequence number. */
const ATTEMPTS = 5;

export interface ReleaseInput {
  model: string;
  version: string;
  /** Default `<model>-firmware`. */
  name?: string;
  /** base64url SHA-256 of the image; or give the image itself (`imageBytes`). */
  digest?: string;
  imageBytes?: Uint8Array;
  /**
   * Whether the model boots only firmware its manufacturer signed. Set by the model's first
   * release (default true); a later release may repeat it or leave it out, not contradict it.
   */
  secureBoot?: boolean;
}

/** A release as `list` shows it: with its model's secure boot setting. */
export interface FirmwareListing extends FirmwareRecord {
  secureBoot: boolean;
}

/** A change committed: the release as it now stands, and the sequence of the current document. */
export interface FirmwareChange extends FirmwareListing {
  sequence: number;
  /** False for a withdrawal of what was withdrawn already (nothing was written). */
  changed: boolean;
}

export type ReferenceValuesListener = (document: string) => void | Promise<void>;

export class FirmwareService {
  readonly #listeners = new Set<ReferenceValuesListener>();

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: ManufacturerStore,
    private readonly pki: ManufacturerPki,
    private readonly party: Party,
  ) {}

  /** Releases a firmware image; ERR_FIRMWARE_EXISTS for a version (or image) of the model released before, withdrawn or not. */
  async release(input: ReleaseInput): Promise<FirmwareChange> {
    const model = modelOf(input.model);
    const version = versionOf(input.version);
    const name = nameOf(input.name ?? `${model}-firmware`);
    const digest = this.digestOf(input);
    if (input.secureBoot !== undefined && typeof input.secureBoot !== 'boolean')
      throw new AirlockError('ERR_INPUT_SCHEMA', 'secureBoot is true or false');
    return this.#change(async (r, at) => {
      const existing = await r.firmware.model(model);
      const secureBoot = existing?.secureBoot ?? input.secureBoot ?? true;
      if (input.secureBoot !== undefined && input.secureBoot !== secureBoot)
        throw new AirlockError(
          'ERR_INPUT_SCHEMA',
          `model ${model} was released ${secureBoot ? 'with' : 'without'} secure boot; a release cannot change that`,
        );
      if (await r.firmware.find(model, { version }))
        throw new AirlockError('ERR_FIRMWARE_EXISTS', `${model} ${version}`);
      const same = await r.firmware.find(model, { digest });
      if (same)
        throw new AirlockError(
          'ERR_FIRMWARE_EXISTS',
          `that image was released as ${model} ${same.version}`,
        );
      if (!existing) await r.firmware.addModel({ model, secureBoot }, at);
      await r.firmware.add({ model, name, version, digest }, at);
      return { record: (await r.firmware.find(model, { version }))!, secureBoot, changed: true };
    });
  }

  /** Withdraws a release (ERR_FIRMWARE_UNKNOWN if there is none); withdrawing it again changes nothing. */
  async withdraw(input: { model: string; version: string }): Promise<FirmwareChange> {
    const model = modelOf(input.model);
    const version = versionOf(input.version);
    return this.#change(async (r, at) => {
      const settings = await r.firmware.model(model);
      const found = settings && (await r.firmware.find(model, { version }));
      if (!settings || !found)
        throw new AirlockError('ERR_FIRMWARE_UNKNOWN', `${model} ${version}`);
      const changed = await r.firmware.withdraw(model, version, at);
      const record = changed ? (await r.firmware.find(model, { version }))! : found;
      return { record, secureBoot: settings.secureBoot, changed };
    });
  }

  /** Every release, by model, then in the order they were released. */
  async list(): Promise<FirmwareListing[]> {
    return this.store.run(async (r) => {
      const secureBoot = new Map((await r.firmware.models()).map((m) => [m.model, m.secureBoot]));
      return (await r.firmware.list()).map((f) => ({ ...f, secureBoot: secureBoot.get(f.model)! }));
    });
  }

  /** The current signed reference values document; ERR_NOT_FOUND before the first release. */
  async referenceValues(): Promise<string> {
    const latest = await this.store.run((r) => r.firmware.latestDocument());
    if (!latest) throw new AirlockError('ERR_NOT_FOUND', 'no firmware was released yet');
    return latest.document;
  }

  /**
   * What the factory flashes into a new device of `model`: whether the model has secure boot
   * (a model with no release has), and its latest released version (the highest version
   * number not withdrawn), if any.
   */
  async forMinting(model: string): Promise<{ secureBoot: boolean; firmware?: FirmwareRecord }> {
    return this.store.run(async (r) => {
      const settings = await r.firmware.model(model);
      let latest: FirmwareRecord | undefined;
      if (settings)
        for (const f of await r.firmware.list(model))
          if (
            f.status === 'released' &&
            (!latest || compareVersions(f.version, latest.version) >= 0)
          )
            latest = f;
      return { secureBoot: settings?.secureBoot ?? true, ...(latest ? { firmware: latest } : {}) };
    });
  }

  /**
   * Calls `listener` with the new document after each change this process committed, before
   * the change's promise settles (`airlock up` pushes it to its verifier). A listener that
   * fails is logged, and the change stands. Returns a function that removes the listener.
   */
  onChange(listener: ReferenceValuesListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  private digestOf(input: ReleaseInput): string {
    if ((input.digest === undefined) === (input.imageBytes === undefined))
      throw new AirlockError('ERR_INPUT_SCHEMA', 'give either the digest or the image, not both');
    if (input.imageBytes !== undefined) {
      if (!(input.imageBytes instanceof Uint8Array))
        throw new AirlockError('ERR_INPUT_SCHEMA', 'the image is bytes');
      return toBase64Url(this.ctx.crypto.sha256(input.imageBytes));
    }
    const d = input.digest;
    const bytes = typeof d === 'string' && DIGEST.test(d) ? fromBase64Url(d) : undefined;
    if (!bytes || toBase64Url(bytes) !== d)
      throw new AirlockError(
        'ERR_INPUT_SCHEMA',
        'the digest is a base64url SHA-256 (43 characters)',
      );
    return d;
  }

  /**
   * Runs `work` and, when it changed something, signs and stores the next document in the
   * same transaction; after the commit, tells the listeners.
   */
  async #change(
    work: (
      r: ManufacturerRepositories,
      at: Date,
    ) => Promise<{ record: FirmwareRecord; secureBoot: boolean; changed: boolean }>,
  ): Promise<FirmwareChange> {
    for (let attempt = 1; ; attempt++) {
      const at = this.ctx.clock.now();
      try {
        const done = await this.store.transaction(async (r) => {
          const result = await work(r, at);
          const latest = await r.firmware.latestDocument();
          if (!result.changed) return { ...result, sequence: latest?.sequence ?? 0 };
          const sequence = (latest?.sequence ?? 0) + 1;
          const document = await this.#sign(r, sequence, at);
          await r.firmware.addDocument({ sequence, document }, at);
          return { ...result, sequence, document };
        });
        if ('document' in done) await this.#notify(done.document, done.sequence);
        return {
          ...done.record,
          secureBoot: done.secureBoot,
          sequence: done.sequence,
          changed: done.changed,
        };
      } catch (e) {
        // Another change took the sequence (or the version) first: start over on what it did.
        if (attempt >= ATTEMPTS || !isUniqueViolation(e)) throw e;
      }
    }
  }

  async #sign(r: ManufacturerRepositories, sequence: number, at: Date): Promise<string> {
    // The releases first, then the models: on PostgreSQL (READ COMMITTED) each statement sees
    // what was committed when it began, and a change committed between the two reads may add a
    // model and its release. Read in this order, every release's model is there (a model is
    // written with its first release and never removed); a model with no release read here is
    // such a change's, left out: this document then loses the race for its sequence anyway.
    const releases = await r.firmware.list();
    const secureBoot = new Map((await r.firmware.models()).map((m) => [m.model, m.secureBoot]));
    const models: ReferenceValuesBody['models'] = {};
    for (const f of releases) {
      const release: FirmwareRelease = {
        name: f.name,
        version: f.version,
        digest: f.digest,
        status: f.status,
        'released-on': f.releasedAt,
        ...(f.withdrawnAt === null ? {} : { 'withdrawn-on': f.withdrawnAt }),
      };
      (models[f.model] ??= { 'secure-boot': secureBoot.get(f.model)!, firmware: [] }).firmware.push(
        release,
      );
    }
    // What a verifier will check, checked before it is signed: a document that would not
    // verify (a model with too many releases) is refused, and the change with it.
    const body = checked(
      ReferenceValuesBody,
      {
        manufacturer: { id: this.party.id, name: this.party.name },
        sequence,
        'issued-on': at.toISOString(),
        'attestation-cas': [toBase64(this.pki.attestationCa.cert.der)],
        models,
      },
      'ERR_INPUT_SCHEMA',
      'the reference values',
    );
    return signReferenceValues(
      this.ctx.crypto,
      this.pki.endorsements.key,
      [this.pki.endorsements.cert, this.pki.endorsementsCa.cert],
      body,
    );
  }

  async #notify(document: string, sequence: number): Promise<void> {
    for (const listener of this.#listeners) {
      try {
        await listener(document);
      } catch (err) {
        this.ctx.logger.warn(
          { err, sequence },
          'manufacturer: a reference values listener failed; the change stands',
        );
      }
    }
  }
}

function modelOf(model: unknown): string {
  if (typeof model !== 'string' || !MODEL.test(model))
    throw new AirlockError('ERR_INPUT_SCHEMA', 'model names are 1-64 letters, digits, . _ -');
  return model;
}

function versionOf(version: unknown): string {
  if (typeof version !== 'string' || !VERSION.test(version))
    throw new AirlockError(
      'ERR_INPUT_SCHEMA',
      'a version is 1 to 4 dotted numbers without leading zeros, e.g. 1.4.2',
    );
  return version;
}

function nameOf(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length < 1 ||
    name.length > 128 ||
    UNSAFE.test(name) ||
    name.trim() !== name
  )
    throw new AirlockError(
      'ERR_INPUT_SCHEMA',
      'a firmware name is 1 to 128 characters, no control characters or surrounding spaces',
    );
  return name;
}

/** Dotted numeric versions compared part by part, missing parts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
