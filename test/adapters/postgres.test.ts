/**
 * PostgreSQL as Airlock's second store, on a real server (test/support/postgres-server.ts,
 * from Debian's package): each role's migrations create the same tables and indexes as on
 * SQLite, bytes and numbered ids round-trip, values come back as SQLite gives them (bigint as
 * a number), prepared queries run with PostgreSQL's $n placeholders, processes opening one
 * database at once migrate it once, and a unique violation surfaces with a code callers can
 * map. The same migrations still give SQLite the schema it always had.
 * Each test takes a fresh database of the one server: no test sees another's rows.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { networkMigrations } from '../../src/adapters/store/migrations/network.js';
import { manufacturerMigrations } from '../../src/adapters/store/migrations/manufacturer.js';
import { verifierMigrations } from '../../src/adapters/store/migrations/verifier.js';
import { openPostgres, withoutPassword } from '../../src/adapters/store/postgres.js';
import { openSqlite, type OpenedDb } from '../../src/adapters/store/sqlite.js';
import { prepared, type Params } from '../../src/adapters/store/prepared.js';
import { isUniqueViolation } from '../../src/adapters/store/unique-violation.js';
import type { ManufacturerDb, NetworkDb } from '../../src/adapters/store/schema.js';
import { createDatabase, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { device, manufacturerPki } from '../support/pki.js';

const started = await startPostgres();
const server: PostgresServer | undefined = 'skipped' in started ? undefined : started;
if ('skipped' in started) console.log(`skipped: ${started.skipped}`);

afterAll(async () => {
  await server?.stop();
});

let databases = 0;
/** A fresh database on the server, for one test. */
const freshDatabase = () => createDatabase(server!.url, `test_${++databases}`);

const now = () => new Date().toISOString();

function device0(serial: string, der: Uint8Array) {
  return {
    serial,
    idevid_der: der,
    manufacturer: 'Test Maker',
    state: 'vouched' as const,
    nonce: null,
    voucher_at: null,
    authenticated_at: null,
    onboarded_at: null,
    ldevid_serial: null,
    psk_id: null,
    onboardings: 0,
    updated_at: now(),
  };
}

/** Table and index names, as each dialect lists them (PostgreSQL's primary key indexes and SQLite's automatic ones left out). */
async function pgSchema(db: Kysely<any>) {
  const tables = await sql<{
    name: string;
    type: string;
  }>`select table_name as name, table_type as type from information_schema.tables where table_schema = 'public' and table_name not like 'kysely_%' order by 1`.execute(
    db,
  );
  const indexes = await sql<{
    name: string;
  }>`select indexname as name from pg_indexes where schemaname = 'public' and indexname not like '%_pkey' and tablename not like 'kysely_%' order by 1`.execute(
    db,
  );
  return {
    tables: tables.rows.filter((r) => r.type === 'BASE TABLE').map((r) => r.name),
    views: tables.rows.filter((r) => r.type === 'VIEW').map((r) => r.name),
    indexes: indexes.rows.map((r) => r.name),
  };
}

async function sqliteSchema(db: Kysely<any>) {
  const rows = await sql<{
    type: string;
    name: string;
    tbl: string;
  }>`select type, name, tbl_name as tbl from sqlite_master where name not like 'sqlite_%' and tbl_name not like 'kysely_%' order by name`.execute(
    db,
  );
  return {
    tables: rows.rows.filter((r) => r.type === 'table').map((r) => r.name),
    views: rows.rows.filter((r) => r.type === 'view').map((r) => r.name),
    // SQLite names a primary key constraint's index sqlite_autoindex_*; PostgreSQL by the constraint.
    indexes: rows.rows.filter((r) => r.type === 'index').map((r) => r.name),
  };
}

describe.skipIf(!server)('PostgreSQL store', () => {
  it('creates every table and index of each role, as on SQLite, with bytea and identity columns', async () => {
    for (const migrations of [networkMigrations, manufacturerMigrations, verifierMigrations]) {
      const url = await freshDatabase();
      const opened = await openPostgres<any>(url, migrations);
      const lite = await openSqlite<any>(':memory:', migrations);
      try {
        const onPg = await pgSchema(opened.db);
        const onSqlite = await sqliteSchema(lite.db);
        expect(onPg.tables).toEqual(onSqlite.tables);
        // FreeRADIUS's view of the network (docs/RADIUS.md), on both.
        expect(onPg.views).toEqual(onSqlite.views);
        expect(onPg.views).toEqual(migrations === networkMigrations ? ['radius_devices'] : []);
        // Named primary key constraints (mfg_declarations_pk) are indexes on PostgreSQL only.
        expect(onPg.indexes.filter((n) => !n.endsWith('_pk'))).toEqual(onSqlite.indexes);
        if (migrations === verifierMigrations)
          expect(onPg.tables).toEqual(['ver_keys', 'ver_reference_values', 'ver_sessions']);
        else expect(onPg.tables.length).toBeGreaterThan(5);

        const columns = await sql<{
          table_name: string;
          column_name: string;
          data_type: string;
          is_identity: string;
        }>`
          select table_name, column_name, data_type, is_identity from information_schema.columns where table_schema = 'public'`.execute(
          opened.db,
        );
        const bytea = columns.rows
          .filter((c) => c.data_type === 'bytea')
          .map((c) => `${c.table_name}.${c.column_name}`)
          .sort();
        const identity = columns.rows
          .filter((c) => c.is_identity === 'YES')
          .map((c) => `${c.table_name}.${c.column_name}`)
          .sort();
        if (migrations === networkMigrations) {
          // net_dpp_enrollees (0009): the DPP enrollees' keys, as DER SubjectPublicKeyInfo.
          expect(bytea).toEqual([
            'net_crls.der',
            'net_devices.idevid_der',
            'net_dpp_enrollees.spki_der',
            'net_keys.cert_der',
          ]);
          // net_policies (migration 0004): every policy applied, in order; net_access_changes
          // (0008): what may change who FreeRADIUS admits, in order.
          expect(identity).toEqual(['net_access_changes.seq', 'net_events.id', 'net_policies.id']);
        } else if (migrations === verifierMigrations) {
          expect(bytea).toEqual(['ver_keys.cert_der']);
          expect(identity).toEqual([]);
        } else {
          expect(bytea).toEqual([
            'mfg_devices.idevid_der',
            'mfg_keys.cert_der',
            'mfg_parties.ca_der',
          ]);
          expect(identity).toEqual(['masa_audit.id', 'masa_vouchers.id', 'mfg_firmware.id']);
        }
        const ran = await sql<{
          name: string;
        }>`select name from kysely_migration order by name`.execute(opened.db);
        expect(ran.rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
      } finally {
        await opened.close();
        await lite.close();
      }
    }
  });

  it('opening again runs nothing; the file it reports has no password', async () => {
    const url = await freshDatabase();
    expect(url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/test_\d+$/);
    const first = await openPostgres<NetworkDb>(url, networkMigrations);
    await first.db
      .insertInto('net_keys')
      .values({
        name: 'ca',
        sealed_key: 'sealed',
        cert_der: new Uint8Array([1]),
        created_at: now(),
      })
      .execute();
    await first.close();
    const again = await openPostgres<NetworkDb>(url, networkMigrations);
    expect(await again.db.selectFrom('net_keys').select('name').execute()).toEqual([
      { name: 'ca' },
    ]);
    expect(again.file).toBe(withoutPassword(url));
    expect(again.file).not.toContain(new URL(url).password);
    expect(again.file).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/test_\d+$/);
    await again.close();
  });

  it('round-trips bytes and numbered ids; bigint and numeric come back as numbers, as on SQLite', async () => {
    const opened = await openPostgres<NetworkDb>(await freshDatabase(), networkMigrations);
    const { db } = opened;
    try {
      const bytes = new Uint8Array(256).map((_, i) => i); // every byte value, 0x00 included
      await db.insertInto('net_devices').values(device0('SN-1', bytes)).execute();
      const row = await db
        .selectFrom('net_devices')
        .select(['idevid_der', 'onboardings'])
        .where('serial', '=', 'SN-1')
        .executeTakeFirstOrThrow();
      expect(new Uint8Array(row.idevid_der)).toEqual(bytes);
      expect(row.onboardings).toBe(0);

      const event = {
        at: now(),
        device_serial: 'SN-1',
        step: 2,
        action: 'voucher',
        outcome: 'ok',
        code: null,
        detail: null,
      };
      const ids = [];
      for (let i = 0; i < 3; i++)
        ids.push(
          (
            await db
              .insertInto('net_events')
              .values(event)
              .returning('id')
              .executeTakeFirstOrThrow()
          ).id,
        );
      expect(ids).toEqual([1, 2, 3]);
      const events = await db.selectFrom('net_events').selectAll().orderBy('id').execute();
      expect(events.map((e) => e.id)).toEqual([1, 2, 3]);
      expect(events[0]).toMatchObject({ ...event, id: 1 });

      const counted = await db
        .selectFrom('net_events')
        .select((eb) => [
          eb.fn.countAll().as('n'),
          eb.fn.sum('id').as('total'),
          eb.fn.avg('step').as('mean'),
        ])
        .executeTakeFirstOrThrow();
      expect(counted).toEqual({ n: 3, total: 6, mean: 2 });
      expect(
        (await sql<{ big: unknown }>`select 9007199254740991::int8 as big`.execute(db)).rows[0]!
          .big,
      ).toBe(Number.MAX_SAFE_INTEGER);
      // Past 2^53 a number would be wrong: the query fails rather than round.
      await expect(sql`select 9007199254740993::int8 as big`.execute(db)).rejects.toThrow(
        RangeError,
      );
      // The parsers are the pool's: pg's global ones are untouched.
      expect(pg.types.getTypeParser(20, 'text')('5')).toBe('5');
    } finally {
      await opened.close();
    }
  });

  it('runs prepared queries with $n placeholders, in the database and in its transactions', async () => {
    const opened = await openPostgres<NetworkDb>(await freshDatabase(), networkMigrations);
    const { db } = opened;
    const insert = prepared((d: Kysely<NetworkDb>, p: Params<'serial' | 'der'>) =>
      d
        .insertInto('net_devices')
        .values({
          ...device0('', new Uint8Array()),
          serial: p.serial,
          idevid_der: p.der,
          updated_at: 'then',
        })
        .onConflict((oc) => oc.column('serial').doNothing()),
    );
    const select = prepared((d: Kysely<NetworkDb>, p: Params<'serial'>) =>
      d
        .selectFrom('net_devices')
        .select(['serial', 'state', 'onboardings', 'idevid_der'])
        .where('serial', '=', p.serial)
        .where('state', 'in', ['vouched', 'onboarded']),
    );
    const bump = prepared((d: Kysely<NetworkDb>, p: Params<'serial' | 'n'>) =>
      d
        .updateTable('net_devices')
        .set({ onboardings: p.n })
        .where('serial', '=', p.serial)
        .where('onboardings', '<', p.n),
    );
    try {
      expect(db.getExecutor().adapter.constructor.name).toBe('PostgresAdapter');
      const compiled = db
        .selectFrom('net_devices')
        .select('serial')
        .where('serial', '=', 'x')
        .compile().sql;
      expect(compiled).toContain('$1');

      expect(
        (await insert.run(db, { serial: 'a', der: new Uint8Array([0, 1]) })).numAffectedRows,
      ).toBe(1n);
      expect(
        (await insert.run(db, { serial: 'a', der: new Uint8Array([9]) })).numAffectedRows,
      ).toBe(0n);
      await db.transaction().execute(async (trx) => {
        await insert.run(trx, { serial: 'b', der: new Uint8Array([2]) });
        // `n` is bound twice: in the set and in the where.
        expect((await bump.run(trx, { serial: 'a', n: 5 })).numAffectedRows).toBe(1n);
        expect((await bump.run(trx, { serial: 'a', n: 4 })).numAffectedRows).toBe(0n);
      });
      const a = await select.first(db, { serial: 'a' });
      expect(a).toMatchObject({ serial: 'a', state: 'vouched', onboardings: 5 });
      expect(new Uint8Array(a!.idevid_der)).toEqual(new Uint8Array([0, 1]));
      expect((await select.rows(db, { serial: 'b' })).map((r) => r.serial)).toEqual(['b']);
      expect(await select.first(db, { serial: 'c' })).toBeUndefined();

      // A transaction that fails leaves nothing behind.
      await expect(
        db.transaction().execute(async (trx) => {
          await insert.run(trx, { serial: 'x', der: new Uint8Array([3]) });
          throw new Error('step failed');
        }),
      ).rejects.toThrow('step failed');
      expect(await select.first(db, { serial: 'x' })).toBeUndefined();
      await expect(select.run(db, {} as { serial: string })).rejects.toThrow(/no value for serial/);
    } finally {
      await opened.close();
    }
  });

  it('several processes opening one new database at once: all open, the migrations run once', async () => {
    for (let round = 0; round < 3; round++) {
      const url = await freshDatabase();
      let ups = 0;
      const counted: Record<string, Migration> = Object.fromEntries(
        Object.entries(networkMigrations).map(([name, m]) => [
          name,
          {
            up: async (db: Kysely<any>) => {
              ups++;
              await m.up(db);
            },
          },
        ]),
      );
      // Each open has its own pool, as a separate process would.
      const opens = await Promise.all(
        Array.from({ length: 4 }, () => openPostgres<NetworkDb>(url, counted, { poolSize: 2 })),
      );
      try {
        expect(ups).toBe(Object.keys(networkMigrations).length);
        const ran = await sql<{
          name: string;
        }>`select name from kysely_migration order by name`.execute(opens[0]!.db);
        expect(ran.rows.map((r) => r.name)).toEqual(Object.keys(networkMigrations).sort());
        for (const o of opens)
          expect(await o.db.selectFrom('net_devices').select('serial').execute()).toEqual([]);
      } finally {
        await Promise.all(opens.map((o) => o.close()));
      }
    }
  });

  it('a unique violation surfaces with a code callers can map (as on SQLite)', async () => {
    const stores: Array<OpenedDb<ManufacturerDb>> = [
      await openPostgres<ManufacturerDb>(await freshDatabase(), manufacturerMigrations),
      await openSqlite<ManufacturerDb>(':memory:', manufacturerMigrations),
    ];
    for (const { db, close } of stores) {
      try {
        const nonce = { serial: 'SN-1', nonce: 'n1', seen_at: now() };
        await db.insertInto('masa_nonces').values(nonce).execute();
        const err = await db
          .insertInto('masa_nonces')
          .values(nonce)
          .execute()
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(err).toBeDefined();
        expect(isUniqueViolation(err)).toBe(true);
        expect(isUniqueViolation(new Error('other'))).toBe(false);
        // A missing parent row is another constraint, not "already exists".
        const orphan = await db
          .insertInto('mfg_declarations')
          .values({
            serial: 'nobody',
            sequence: 1,
            jws: 'x',
            hash: 'h',
            owner_id: 'o',
            issued_on: now(),
          })
          .execute()
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(orphan).toBeDefined();
        expect(isUniqueViolation(orphan)).toBe(false);
      } finally {
        await close();
      }
    }
  });

  it('the key-binding migration records the birth keys of devices already stored, on PostgreSQL too', async () => {
    const url = await freshDatabase();
    const first = { '0001_network': networkMigrations['0001_network']! };
    const before = await openPostgres<NetworkDb>(url, first);
    const pki = await manufacturerPki();
    const idevid = await device(pki.idevidCa, 'SN-OLD');
    await before.db
      .insertInto('net_devices')
      .values([device0('SN-OLD', idevid.cert.der), device0('SN-JUNK', new Uint8Array([1, 2, 3]))])
      .execute();
    await before.close();

    const after = await openPostgres<NetworkDb>(url, networkMigrations);
    try {
      const keys = await after.db
        .selectFrom('net_certified_keys')
        .select(['fingerprint', 'device_serial', 'kind'])
        .execute();
      expect(keys).toEqual([
        {
          fingerprint: createHash('sha256').update(idevid.cert.spki).digest('base64url'),
          device_serial: 'SN-OLD',
          kind: 'idevid',
        },
      ]);
    } finally {
      await after.close();
    }
  });
});

describe('the same migrations on SQLite', () => {
  it('still create the schema existing databases have (blob, integer primary key autoincrement)', async () => {
    for (const migrations of [networkMigrations, manufacturerMigrations]) {
      const lite = await openSqlite<any>(':memory:', migrations);
      try {
        const ddl = (
          await sql<{
            sql: string;
          }>`select sql from sqlite_master where type = 'table' and name not like 'kysely_%' and name != 'sqlite_sequence'`.execute(
            lite.db,
          )
        ).rows
          .map((r) => r.sql)
          .join('\n');
        expect(ddl).not.toMatch(/bytea|identity/i);
        expect(ddl).toMatch(/"cert_der" blob not null/);
        expect(ddl).toMatch(/"id" integer primary key autoincrement/);
        const ran = await sql<{
          name: string;
        }>`select name from kysely_migration order by name`.execute(lite.db);
        expect(ran.rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
      } finally {
        await lite.close();
      }
    }
  });
});
