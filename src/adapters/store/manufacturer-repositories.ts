/**
 * The manufacturer's repositories (core/store.ts) over Kysely: one implementation for SQLite
 * and PostgreSQL. What every voucher runs is compiled once per dialect (prepared.ts).
 */
import type { Kysely } from 'kysely';
import type {
  ManufacturerDeclarations,
  ManufacturerDevices,
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

export function manufacturerRepositories(db: Db, dialect: Dialect): ManufacturerRepositories {
  return {
    devices: devices(db, dialect),
    declarations: declarations(db),
    masa: masa(db),
    keys: kyselyKeyRecords(db, 'mfg_keys'),
  };
}

export function manufacturerStore(db: Db): ManufacturerStore & { dialect: Dialect } {
  return new KyselyUnitOfWork(db, manufacturerRepositories);
}
