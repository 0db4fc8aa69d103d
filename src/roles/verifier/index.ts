/**
 * The verification service role (RFC 9334 verifier; NIST IR 8350 section 5.1.1 step 3 and 5.2
 * steps 3 and 4): appraises devices' evidence against the endorsements and reference values of
 * the manufacturers it trusts, over Veraison's challenge-response API, and signs each result
 * (EAR) with a key of its own. Its records (keys, sessions, reference values) are in its own
 * database: a SQLite file, or PostgreSQL shared by several verifier nodes.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { AirlockError } from '../../core/errors.js';
import { toBase64, toPem } from '../../core/bytes.js';
import type { VerifierStore } from '../../core/store.js';
import { KeyRing } from '../../adapters/store/key-ring.js';
import type { VerifierDb } from '../../adapters/store/schema.js';
import type { OpenedDb } from '../../adapters/store/sqlite.js';
import { isDatabaseUrl, openRoleDatabase } from '../../adapters/store/open.js';
import { verifierStore } from '../../adapters/store/verifier-repositories.js';
import { verifierMigrations } from '../../adapters/store/migrations/verifier.js';
import { Sealer } from '../../adapters/crypto/seal.js';
import { jwkFromSpki, type P256Jwk } from '../../adapters/crypto/p256-encoding.js';
import { closeGracefully, createHttpsServer, listen } from '../../adapters/http/server.js';
import { serverLimitsOf } from '../../adapters/http/limits.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { verifierDefaults, type VerifierConfig } from './defaults.js';
import { openVerifierPki, type VerifierPki } from './pki.js';
import { ReferenceValues, type Provisioned } from './reference-values.js';
import { AttestationSessions } from './sessions.js';
import {
  checkManufacturerTrust,
  type ManufacturerTrustInput,
  type VerifierTrustFile,
} from './trust.js';
import { verifierRoutes } from './routes.js';

export type { ManufacturerTrustInput, VerifierTrustFile } from './trust.js';

export interface VerifierOptions {
  ctx: RoleContext;
  /** The SQLite file, unless `databaseUrl` is given. */
  databaseFile: string;
  /** A postgres:// URL: the role's records in PostgreSQL (shared by several nodes), not in `databaseFile`. */
  databaseUrl?: string;
  /** False: a database that holds no keys of the role is ERR_CONFIG (no command creates keys as a side effect). Default true. */
  create?: boolean;
  kek: Uint8Array;
  config?: Partial<VerifierConfig>;
  /** The manufacturers whose devices it appraises. */
  manufacturers: ManufacturerTrustInput[];
}

/** The EAR key as a relying party installs it: its JWK, with `kid`, `alg` and `use`. */
export interface EarKeyJwk extends P256Jwk {
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

/** What a relying party (a registrar) needs to use this verifier. */
export interface VerifierTrustInfo {
  /** The verifier's base URL: the configured public URL, else the one it serves at (undefined before it serves). */
  url: string | undefined;
  /** The CA of its TLS certificate, PEM. */
  tlsCaPem: string;
  /** The key that signs its results. */
  earKeyJwk: EarKeyJwk;
}

export class Verifier {
  private server: FastifyInstance | undefined;
  #url: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly ctx: RoleContext,
    readonly config: VerifierConfig,
    private readonly opened: OpenedDb<VerifierDb>,
    /** The verifier's records, through a unit of work (core/store.ts). */
    readonly store: VerifierStore,
    readonly pki: VerifierPki,
    readonly referenceValues: ReferenceValues,
    readonly sessions: AttestationSessions,
  ) {}

  static async open(opts: VerifierOptions): Promise<Verifier> {
    const config = { ...verifierDefaults, ...opts.config };
    if (opts.databaseUrl !== undefined && !isDatabaseUrl(opts.databaseUrl))
      throw new AirlockError('ERR_CONFIG', 'the database URL must be a postgres:// URL');
    for (const [name, v] of Object.entries({
      sessionTtlSeconds: config.sessionTtlSeconds,
      sessionRetentionSeconds: config.sessionRetentionSeconds,
      referenceValuesRefreshSeconds: config.referenceValuesRefreshSeconds,
      clockSkewSeconds: config.clockSkewSeconds,
    }))
      if (!Number.isSafeInteger(v) || v < (name === 'sessionTtlSeconds' ? 1 : 0))
        throw new AirlockError('ERR_CONFIG', `${name} must be a whole number of seconds`);
    const at = opts.ctx.clock.now();
    const seen = new Set<string>();
    for (const m of opts.manufacturers) {
      checkManufacturerTrust(opts.ctx.crypto, m, at);
      if (seen.has(m.party.id))
        throw new AirlockError('ERR_CONFIG', `${m.party.name} is trusted twice`);
      seen.add(m.party.id);
    }
    const opened = await openRoleDatabase<VerifierDb>(
      opts.databaseUrl ?? opts.databaseFile,
      verifierMigrations,
      'verifier',
    );
    try {
      const store = verifierStore(opened.db);
      if (opts.create === false && !(await store.run((r) => r.keys.get('verifier-ca'))))
        throw new AirlockError('ERR_CONFIG', 'the database holds no verifier', {
          details: { hint: 'create it first: `airlock verifier init`' },
        });
      const pki = await openVerifierPki(
        opts.ctx.crypto,
        new KeyRing(store, 'ver_keys', new Sealer(opts.kek), keyStoreOf(opts.ctx)),
        config.name,
        config.hostnames,
        at,
      );
      const referenceValues = new ReferenceValues(opts.ctx, store, [...opts.manufacturers]);
      const sessions = new AttestationSessions(opts.ctx, store, config, pki, referenceValues);
      return new Verifier(opts.ctx, config, opened, store, pki, referenceValues, sessions);
    } catch (e) {
      await opened.close();
      throw e;
    }
  }

  /**
   * The database itself, for inspection from outside (tests). Nothing in Airlock reads or
   * writes through it: the role's work goes through `store`.
   */
  get db(): Kysely<VerifierDb> {
    return this.opened.db;
  }

  /** The URL it serves at, once it serves. */
  get url(): string | undefined {
    return this.#url;
  }

  /** The EAR signing key's JWK. */
  earKeyJwk(): EarKeyJwk {
    const jwk = jwkFromSpki(this.pki.ear.cert.spki);
    if (!jwk) throw new AirlockError('ERR_INTERNAL', 'the EAR key is not a P-256 key');
    return { ...jwk, kid: this.pki.earKid, alg: 'ES256', use: 'sig' };
  }

  trustInfo(): VerifierTrustInfo {
    return {
      url: this.config.publicUrl || this.#url,
      tlsCaPem: toPem('CERTIFICATE', this.pki.ca.cert.der),
      earKeyJwk: this.earKeyJwk(),
    };
  }

  /** The trust file a relying party installs (`airlock verifier trust-bundle`). */
  trustFile(): VerifierTrustFile {
    return {
      format: 'airlock-verifier-trust/1',
      tlsCa: toBase64(this.pki.ca.cert.der),
      earKey: this.earKeyJwk(),
    };
  }

  /**
   * Takes a manufacturer's signed reference values (what `/endorsement-provisioning/v1/submit`
   * receives): ERR_REFERENCE_VALUES_MALFORMED unless a trusted manufacturer signed them,
   * ERR_REFERENCE_VALUES_ROLLBACK unless they are newer than those held.
   */
  provision(document: string): Promise<Provisioned> {
    return this.referenceValues.provision(document);
  }

  /** Pulls the current reference values of each manufacturer that has a URL; failures are logged. */
  refresh(): Promise<void> {
    return this.referenceValues.refresh();
  }

  /** Serves the API, and pulls reference values now and every `referenceValuesRefreshSeconds`. */
  async serve(port: number, host = '127.0.0.1'): Promise<string> {
    const app = createHttpsServer({
      key: this.pki.tls.key,
      certChain: [this.pki.tls.cert, this.pki.ca.cert],
      requestClientCert: false,
      logger: this.ctx.logger,
      limits: serverLimitsOf(this.config),
    });
    verifierRoutes(app, this);
    const { url } = await listen(app, port, host);
    this.server = app;
    this.#url = url;
    const every = this.config.referenceValuesRefreshSeconds;
    if (every > 0 && this.referenceValues.manufacturers.some((m) => m.url !== undefined)) {
      void this.refresh();
      this.#timer = setInterval(() => void this.refresh(), every * 1000);
      this.#timer.unref();
    }
    this.ctx.logger.info(
      { url, manufacturers: this.referenceValues.manufacturers.length },
      'verifier: challenge-response verification listening',
    );
    return url;
  }

  /** Stops refreshing, drains the server (requests in flight get up to `drainMs`), then closes the database. */
  async close(drainMs = this.config.drainTimeoutMs): Promise<void> {
    clearInterval(this.#timer);
    await this.referenceValues.close();
    if (this.server) await closeGracefully(this.server, drainMs);
    await this.opened.close();
  }
}
