import { describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect } from 'kysely';
import Database from 'better-sqlite3';
import { prepared, type Params } from '../../src/adapters/store/prepared.js';

interface Db {
  t: { serial: string; state: string | null; n: number };
}

async function open(): Promise<Kysely<Db>> {
  const db = new Kysely<Db>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  await db.schema
    .createTable('t')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text')
    .addColumn('n', 'integer', (c) => c.notNull())
    .execute();
  return db;
}

const insert = prepared((db: Kysely<Db>, p: Params<'serial' | 'n'>) =>
  db
    .insertInto('t')
    .values({ serial: p.serial, state: 'new', n: p.n })
    .onConflict((oc) => oc.doNothing()),
);
const select = prepared((db: Kysely<Db>, p: Params<'serial'>) =>
  db
    .selectFrom('t')
    .select(['serial', 'state', 'n'])
    .where('serial', '=', p.serial)
    .where('state', 'in', ['new', 'old']),
);
const bump = prepared((db: Kysely<Db>, p: Params<'serial' | 'n'>) =>
  db.updateTable('t').set({ n: p.n }).where('serial', '=', p.serial).where('n', '<', p.n),
);

describe('prepared queries', () => {
  it('binds named values wherever they appear, constants kept, in a database and in its transactions', async () => {
    const db = await open();
    expect((await insert.run(db, { serial: 'a', n: 1 })).numAffectedRows).toBe(1n);
    expect((await insert.run(db, { serial: 'a', n: 9 })).numAffectedRows).toBe(0n);
    await db.transaction().execute(async (trx) => {
      await insert.run(trx, { serial: 'b', n: 2 });
      // `n` appears twice: in the set and in the where.
      expect((await bump.run(trx, { serial: 'a', n: 5 })).numAffectedRows).toBe(1n);
      expect((await bump.run(trx, { serial: 'a', n: 4 })).numAffectedRows).toBe(0n);
    });
    expect(await select.first(db, { serial: 'a' })).toEqual({ serial: 'a', state: 'new', n: 5 });
    expect(await select.rows(db, { serial: 'b' })).toEqual([{ serial: 'b', state: 'new', n: 2 }]);
    expect(await select.first(db, { serial: 'c' })).toBeUndefined();
    await db.destroy();
  });

  it('a transaction that fails leaves nothing behind', async () => {
    const db = await open();
    await expect(
      db.transaction().execute(async (trx) => {
        await insert.run(trx, { serial: 'x', n: 1 });
        throw new Error('step failed');
      }),
    ).rejects.toThrow('step failed');
    expect(await select.first(db, { serial: 'x' })).toBeUndefined();
    await db.destroy();
  });

  it('refuses to run with a value missing, rather than binding null', async () => {
    const db = await open();
    await expect(select.run(db, {} as { serial: string })).rejects.toThrow(/no value for serial/);
    await expect(insert.run(db, { serial: 'a' } as { serial: string; n: number })).rejects.toThrow(
      /no value for n/,
    );
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([]);
    await db.destroy();
  });
});
