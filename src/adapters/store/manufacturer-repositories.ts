/**
 * The manufacturer's repositories (core/store.ts) over Kysely: one implementation for SQLite
 * and PostgreSQL. What every voucher runs is compiled once per dialect (prepared.ts).
 */
import type { Kysely } from 'kysely';
import type {
  FirmwareRecord,
  ManufacturerDeclarations,
  ManufacturerDevices,
  ManufacturerFirmware,
  ManufacturerMudFiles,
  ManufacturerRepositories,
  ManufacturerStore,
  MasaRecords,
} from '../../core/store.js';
import type { ManufacturerDb } from './schema.js';
import { prepared, type Params } from './prepared.js';
import { KyselyUnitOfWork, type Dialect } from './unit-of-work.js';
import { kyselyKeyRecords } from './key-records.js';

type Db = Kysely<ManufacturerDb>;

const sql = {
  /** The hash and sequence of a device's latest declaration: every voucher reads it. */
  latest: prepared((db: Db, p: Params<'serial'>) =>
    db
      .selectFrom('mfg_declarations')
      .select(['hash', 'sequence'])
      .where('serial', '=', p.serial)
      .orderBy('sequence', 'desc')
      .limit(1),
  ),
  /** A nonce is used once per device: the insert that records it is the replay check. */
  nonce: prepared((db: Db, p: Params<'serial' | 'nonce' | 'at'>) =>
    db
      .insertInto('masa_nonces')
      .values({ serial: p.serial, nonce: p.nonce, seen_at: p.at })
      .onConflict((oc) => oc.doNothing()),
  ),
  audit: prepared(
    (db: Db, p: Params<'at' | 'action' | 'actor' | 'subject' | 'outcome' | 'code' | 'detail'>) =>
      db.insertInto('masa_audit').values({
        at: p.at,
        actor: p.actor,
        action: p.action,
        subject: p.subject,
        outcome: p.outcome,
        code: p.code,
        detail: p.detail,
      }),
  ),
  voucher: prepared(
    (db: Db, p: Params<'serial' | 'at' | 'domain' | 'owner' | 'nonce' | 'assertion'>) =>
      db.insertInto('masa_vouchers').values({
        serial: p.serial,
        issued_at: p.at,
        domain_id: p.domain,
        owner_id: p.owner,
        nonce: p.nonce,
        assertion: p.assertion,
      }),
  ),
  vouchersOf: prepared((db: Db, p: Params<'serial' | 'limit'>) =>
    db
      .selectFrom('masa_vouchers')
      .select(['issued_at', 'domain_id', 'nonce', 'assertion'])
      .where('serial', '=', p.serial)
      .orderBy('id', 'desc')
      .limit(p.limit),
  ),
};

function devices(db: Db, dialect: Dialect): ManufacturerDevices {
  return {
    async exists(serial) {
      return (
        (await db
          .selectFrom('mfg_devices')
          .select('serial')
          .where('serial', '=', serial)
          .executeTakeFirst()) !== undefined
      );
    },
    async hasModel(model) {
      return (
        (await db
          .selectFrom('mfg_devices')
          .select('serial')
          .where('model', '=', model)
          .limit(1)
          .executeTakeFirst()) !== undefined
      );
    },
    async add(d, at) {
      await db
        .insertInto('mfg_devices')
        .values({
          serial: d.serial,
          model: d.model,
          idevid_der: d.idevidDer,
          masa_url: d.masaUrl,
          mud_url: d.mudUrl,
          minted_at: at.toISOString(),
        })
        .execute();
    },
    async lock(serial) {
      // SQLite has no row locks: its transaction holds the whole database.
      if (dialect === 'postgres')
        await db
          .selectFrom('mfg_devices')
          .select('serial')
          .where('serial', '=', serial)
          .forUpdate()
          .execute();
    },
  };
}

function declarations(db: Db): ManufacturerDeclarations {
  return {
    latest: (serial) => sql.latest.first(db, { serial }),
    async jws(serial, sequence) {
      return (
        await db
          .selectFrom('mfg_declarations')
          .select('jws')
          .where('serial', '=', serial)
          .where('sequence', '=', sequence)
          .executeTakeFirst()
      )?.jws;
    },
    async chain(serial) {
      return (
        await db
          .selectFrom('mfg_declarations')
          .select('jws')
          .where('serial', '=', serial)
          .orderBy('sequence')
          .execute()
      ).map((r) => r.jws);
    },
    async append(d) {
      await db
        .insertInto('mfg_declarations')
        .values({
          serial: d.serial,
          sequence: d.sequence,
          jws: d.jws,
          hash: d.hash,
          owner_id: d.ownerId,
          issued_on: d.issuedOn,
        })
        .execute();
    },
    async serials() {
      return (
        await db
          .selectFrom('mfg_declarations')
          .select('serial')
          .distinct()
          .orderBy('serial')
          .execute()
      ).map((r) => r.serial);
    },
  };
}

function masa(db: Db): MasaRecords {
  return {
    async useNonce(serial, nonce, at) {
      return (
        (await sql.nonce.run(db, { serial, nonce, at: at.toISOString() })).numAffectedRows === 1n
      );
    },
    async addVoucher(v, at) {
      await sql.voucher.run(db, {
        serial: v.serial,
        at: at.toISOString(),
        domain: v.domainId,
        owner: v.ownerId,
        nonce: v.nonce,
        assertion: v.assertion,
      });
    },
    async vouchersOf(serial, limit) {
      const rows = await sql.vouchersOf.rows(db, { serial, limit });
      return rows.map((r) => ({
        issuedAt: r.issued_at,
        domainId: r.domain_id,
        nonce: r.nonce,
        assertion: r.assertion,
      }));
    },
    async audit(e, at) {
      await sql.audit.run(db, {
        at: at.toISOString(),
        action: e.action,
        actor: e.actor,
        subject: e.subject,
        outcome: e.outcome,
        code: e.code,
        detail: JSON.stringify(e.detail),
      });
    },
  };
}

type FirmwareRow = ManufacturerDb['mfg_firmware'];

function firmwareRecord(r: Omit<FirmwareRow, 'id'>): FirmwareRecord {
  return {
    model: r.model,
    name: r.name,
    version: r.version,
    digest: r.digest,
    status: r.status,
    releasedAt: r.released_at,
    withdrawnAt: r.withdrawn_at,
  };
}

const FIRMWARE_COLUMNS = [
  'model',
  'name',
  'version',
  'digest',
  'status',
  'released_at',
  'withdrawn_at',
] as const;

function firmware(db: Db, dialect: Dialect): ManufacturerFirmware {
  // better-sqlite3 binds no booleans: SQLite stores 0 or 1.
  const bool = (b: boolean) => (dialect === 'postgres' ? b : b ? 1 : 0);
  return {
    async model(model) {
      const row = await db
        .selectFrom('mfg_models')
        .select('secure_boot')
        .where('model', '=', model)
        .executeTakeFirst();
      return row && { secureBoot: Boolean(row.secure_boot) };
    },
    async addModel(m, at) {
      await db
        .insertInto('mfg_models')
        .values({ model: m.model, secure_boot: bool(m.secureBoot), created_at: at.toISOString() })
        .execute();
    },
    async models() {
      const rows = await db
        .selectFrom('mfg_models')
        .select(['model', 'secure_boot'])
        .orderBy('model')
        .execute();
      return rows.map((r) => ({ model: r.model, secureBoot: Boolean(r.secure_boot) }));
    },
    async find(model, by) {
      let q = db.selectFrom('mfg_firmware').select(FIRMWARE_COLUMNS).where('model', '=', model);
      q = 'version' in by ? q.where('version', '=', by.version) : q.where('digest', '=', by.digest);
      const row = await q.executeTakeFirst();
      return row && firmwareRecord(row);
    },
    async add(f, at) {
      await db
        .insertInto('mfg_firmware')
        .values({
          model: f.model,
          name: f.name,
          version: f.version,
          digest: f.digest,
          status: 'released',
          released_at: at.toISOString(),
          withdrawn_at: null,
        })
        .execute();
    },
    async withdraw(model, version, at) {
      const r = await db
        .updateTable('mfg_firmware')
        .set({ status: 'withdrawn', withdrawn_at: at.toISOString() })
        .where('model', '=', model)
        .where('version', '=', version)
        .where('status', '=', 'released')
        .executeTakeFirst();
      return r.numUpdatedRows === 1n;
    },
    async list(model) {
      let q = db.selectFrom('mfg_firmware').select(FIRMWARE_COLUMNS);
      if (model !== undefined) q = q.where('model', '=', model);
      const rows = await q.orderBy('model').orderBy('id').execute();
      return rows.map(firmwareRecord);
    },
    async latestDocument() {
      return db
        .selectFrom('mfg_reference_values')
        .select(['sequence', 'document'])
        .orderBy('sequence', 'desc')
        .limit(1)
        .executeTakeFirst();
    },
    async addDocument(d, at) {
      await db
        .insertInto('mfg_reference_values')
        .values({ sequence: d.sequence, document: d.document, issued_at: at.toISOString() })
        .execute();
    },
  };
}

function mudFiles(db: Db): ManufacturerMudFiles {
  return {
    async get(model) {
      const r = await db
        .selectFrom('mfg_mud_files')
        .selectAll()
        .where('model', '=', model)
        .executeTakeFirst();
      return r && { mud: r.mud, signature: r.signature, publishedAt: r.published_at };
    },
    async put(model, f, at) {
      const values = { mud: f.mud, signature: f.signature, published_at: at.toISOString() };
      await db
        .insertInto('mfg_mud_files')
        .values({ model, ...values })
        .onConflict((oc) => oc.column('model').doUpdateSet(values))
        .execute();
    },
  };
}

export function manufacturerRepositories(db: Db, dialect: Dialect): ManufacturerRepositories {
  return {
    mudFiles: mudFiles(db),
    devices: devices(db, dialect),
    declarations: declarations(db),
    masa: masa(db),
    keys: kyselyKeyRecords(db, 'mfg_keys'),
    firmware: firmware(db, dialect),
  };
}

export function manufacturerStore(db: Db): ManufacturerStore & { dialect: Dialect } {
  return new KyselyUnitOfWork(db, manufacturerRepositories);
}
