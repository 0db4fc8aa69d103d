/**
 * Kysely over better-sqlite3 (WAL, synchronous=NORMAL), with migrations run at open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type Migration } from 'kysely';

export interface OpenedDb<T> {
  db: Kysely<T>;
  file: string;
  close(): Promise<void>;
}

export async function openSqlite<T>(
  file: string,
  migrations: Record<string, Migration>,
): Promise<OpenedDb<T>> {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new Database(file);
  if (file !== ':memory:') fs.chmodSync(file, 0o600);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<T>({
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
  });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return { db, file, close: () => db.destroy() };
}

/**
 * Kysely prepares every query anew; preparing cost as much as running on the onboarding path.
 * The same few SQL texts recur, so their statements are kept (better-sqlite3 statements are
 * reusable; Kysely only runs them with all() and run()).
 */
function withStatementCache(sqlite: Database.Database): SqliteDialectDatabase {
  const cache = new Map<string, Database.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let st = cache.get(sql);
      if (!st) {
        if (cache.size >= 512) cache.clear();
        st = sqlite.prepare(sql);
        cache.set(sql, st);
      }
      return st;
    },
  } as unknown as SqliteDialectDatabase;
}

type SqliteDialectDatabase = ConstructorParameters<typeof SqliteDialect>[0]['database'] & object;
