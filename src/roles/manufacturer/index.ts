/**
 * The manufacturer role: PKI, factory, declarations and MASA, over one database.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Party } from '../../core/party.js';
import { AirlockError } from '../../core/errors.js';
import type { ManufacturerStore } from '../../core/store.js';
import { partyIdFromSpki } from '../../core/party.js';
import { KeyRing } from '../../adapters/store/key-ring.js';
import type { ManufacturerDb } from '../../adapters/store/schema.js';
import type { OpenedDb } from '../../adapters/store/sqlite.js';
import { isDatabaseUrl, openRoleDatabase } from '../../adapters/store/open.js';
import { manufacturerStore } from '../../adapters/store/manufacturer-repositories.js';
import { manufacturerMigrations } from '../../adapters/store/migrations/manufacturer.js';
import { Sealer } from '../../adapters/crypto/seal.js';
import { closeGracefully, createHttpsServer, listen } from '../../adapters/http/server.js';
import { serverLimitsOf } from '../../adapters/http/limits.js';
import type { ManufacturerTrust } from '../shared/trust.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { manufacturerDefaults, type ManufacturerConfig } from './defaults.js';
import { DeclarationService } from './declarations.js';
import { Factory } from './factory.js';
import { FirmwareService } from './firmware.js';
import { Masa } from './masa.js';
import { MasaAuditLog } from './audit-log.js';
import { openManufacturerPki, type ManufacturerPki } from './pki.js';
import { IntentService } from './intent.js';
import { manufacturerRoutes } from './routes.js';

export interface ManufacturerOptions {
  ctx: RoleContext;
  /** The SQLite file, unless `databaseUrl` is given. */
  databaseFile: string;
  /** A postgres:// URL: the role's records in PostgreSQL (shared by several nodes), not in `databaseFile`. */
  databaseUrl?: string;
  /** False: a database that holds no keys of the role is ERR_CONFIG (no command creates keys as a side effect). Default true. */
  create?: boolean;
  kek: Uint8Array;
  config?: Partial<ManufacturerConfig>;
}

export class Manufacturer {
  private server: FastifyInstance | undefined;

  private constructor(
    readonly ctx: RoleContext,
    readonly config: ManufacturerConfig,
    private readonly opened: OpenedDb<ManufacturerDb>,
    /** The manufacturer's records, through a unit of work (core/store.ts). */
    readonly store: ManufacturerStore,
    readonly pki: ManufacturerPki,
    readonly party: Party,
    readonly declarations: DeclarationService,
    readonly factory: Factory,
    readonly masa: Masa,
    readonly auditLog: MasaAuditLog,
    /** Firmware releases and the signed reference values (report section 5.1.1 step 3). */
    readonly firmware: FirmwareService,
    /** Each model's signed MUD file (report section 5.1.1 step 4, docs/INTENT.md). */
    readonly intent: IntentService,
  ) {}

  static async open(opts: ManufacturerOptions): Promise<Manufacturer> {
    const config = { ...manufacturerDefaults, ...opts.config };
    if (opts.databaseUrl !== undefined && !isDatabaseUrl(opts.databaseUrl))
      throw new AirlockError('ERR_CONFIG', 'the database URL must be a postgres:// URL');
    const store = await openRoleDatabase<ManufacturerDb>(
      opts.databaseUrl ?? opts.databaseFile,
      manufacturerMigrations,
      'manufacturer',
    );
    const at = opts.ctx.clock.now();
    const repos = manufacturerStore(store.db);
    if (opts.create === false && !(await repos.run((r) => r.keys.get('root-ca')))) {
      await store.close();
      throw new AirlockError('ERR_CONFIG', 'the database holds no manufacturer', {
        details: { hint: 'create it first: `airlock manufacturer init`' },
      });
    }
    const pki = await openManufacturerPki(
      opts.ctx.crypto,
      new KeyRing(repos, 'mfg_keys', new Sealer(opts.kek), keyStoreOf(opts.ctx)),
      config.name,
      config.hostnames,
      at,
    );
    const party: Party = {
      id: partyIdFromSpki(opts.ctx.crypto, pki.root.cert.spki),
      name: config.name,
    };
    const declarations = new DeclarationService(opts.ctx, repos, pki, party);
    const firmware = new FirmwareService(opts.ctx, repos, pki, party);
    const factory = new Factory(opts.ctx, repos, pki, declarations, config, party, firmware);
    const auditLog = new MasaAuditLog(opts.ctx, repos, pki, declarations);
    const masa = new Masa(opts.ctx, repos, pki, declarations, config, auditLog);
    const intent = new IntentService(opts.ctx, repos, pki, config, config.name);
    return new Manufacturer(
      opts.ctx,
      config,
      store,
      repos,
      pki,
      party,
      declarations,
      factory,
      masa,
      auditLog,
      firmware,
      intent,
    );
  }

  /**
   * The database itself, for inspection from outside (tests, the benchmark's final check).
   * Nothing in Airlock reads or writes through it: the role's work goes through `store`.
   */
  get db(): Kysely<ManufacturerDb> {
    return this.opened.db;
  }

  /** What a network installs to trust this manufacturer: one CA per purpose. */
  trustBundle(): ManufacturerTrust {
    return {
      root: this.pki.root.cert,
      idevidCa: this.pki.idevidCa.cert,
      masaCa: this.pki.masaCa.cert,
      declarationsCa: this.pki.declarationsCa.cert,
      attestationCa: this.pki.attestationCa.cert,
      endorsementsCa: this.pki.endorsementsCa.cert,
      mudCa: this.pki.mudCa.cert,
    };
  }

  /** Sells a device the manufacturer still owns to a purchaser (report section 5.1.1 step 6). */
  async sell(serial: string, to: Party): Promise<string[]> {
    return this.declarations.transfer(serial, this.party.id, to);
  }

  async serve(port: number, host = '127.0.0.1'): Promise<string> {
    const app = createHttpsServer({
      key: this.pki.tls.key,
      certChain: [this.pki.tls.cert, this.pki.root.cert],
      requestClientCert: true,
      logger: this.ctx.logger,
      limits: serverLimitsOf(this.config),
    });
    manufacturerRoutes(app, this);
    const { url } = await listen(app, port, host);
    this.server = app;
    // New IDevIDs carry the address this role actually listens on.
    this.config.publicUrl = url;
    this.config.mudBaseUrl = `${url}/mud`;
    this.ctx.logger.info({ url }, 'manufacturer: MASA and declarations listening');
    return url;
  }

  /** Drains the MASA (requests in flight get up to `drainMs`, new ones a 503 problem), then closes the database. */
  async close(drainMs = this.config.drainTimeoutMs): Promise<void> {
    if (this.server) await closeGracefully(this.server, drainMs);
    await this.opened.close();
  }
}
