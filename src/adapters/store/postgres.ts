/**
 * Kysely over PostgreSQL (a `pg` pool), with migrations run at open: the store that several
 * network nodes share (AIRLOCK_DATABASE_URL=postgres://...). The same queries give the same
 * JavaScript values as on SQLite (sqlite.ts):
 *
 * - bytea comes back as a Buffer, as a blob does from better-sqlite3;
 * - int8 (bigint: `count(*)`, `sum` of integers) and numeric (`avg`, `sum` of bigints) come
 *   back as numbers, not strings. An int8 beyond Number.MAX_SAFE_INTEGER fails the query
 *   rather than being rounded;
 * - the parsers are the pool's own (a TypeOverrides), never pg's global ones, so no other user
 *   of `pg` in the process sees them.
 *
 * What still differs and is the caller's to handle: PostgreSQL's booleans stay booleans (the
 * schema has no boolean column), and an insert reports no insertId (ask with `returning`).
 *
 * Migrations: Kysely's Migrator holds a session advisory lock (pg_advisory_lock) around
 * reading what has run and running the rest in one transaction, so when several processes open
 * the same database at once, one migrates and the others then find nothing left to do.
 */
import { Kysely, Migrator, PostgresDialect, type Migration } from 'kysely';
import pg from 'pg';
import type { OpenedDb } from './sqlite.js';

export interface PostgresOptions {
  /** Connections in the pool (pg's default: 10). */
  poolSize?: number;
  /** A schema of the role's own (created if absent): its tables and its record of migrations live there. */
  schema?: string;
}

const INT8 = 20;
const NUMERIC = 1700;

export async function openPostgres<T>(
  url: string,
  migrations: Record<string, Migration>,
  opts: PostgresOptions = {},
): Promise<OpenedDb<T>> {
  if (opts.schema !== undefined) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema))
      throw new TypeError(`not a schema name: ${opts.schema}`);
    await createSchema(url, opts.schema);
  }
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    types: sqliteLikeTypes(),
    // Bounds, so that one device's queue (a clone hammering one row lock) cannot hold a node's
    // connections for ever: a connection is had within 10 s, a row lock within 5 s, a statement
    // ends within 30 s; past them the request fails (500) and its unit of work rolls back.
    connectionTimeoutMillis: 10_000,
    options: [
      '-c lock_timeout=5000',
      '-c statement_timeout=30000',
      ...(opts.schema !== undefined ? [`-c search_path=${opts.schema}`] : []),
    ].join(' '),
  });
  // An idle connection that the server ends (a restart, a killed backend) is reported here;
  // the pool has already dropped it and the next query opens another. Unheard, it would end
  // the process.
  pool.on('error', () => undefined);
  const db = new Kysely<T>({ dialect: new PostgresDialect({ pool }) });
  // The record of migrations in the role's own schema: Kysely looks for it by schema, and would otherwise find another role's.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    ...(opts.schema !== undefined ? { migrationTableSchema: opts.schema } : {}),
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  return { db, file: withoutPassword(url), close: () => db.destroy() };
}

/** Creates `schema` unless it exists; two processes doing so at once both succeed. */
async function createSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(`create schema if not exists ${schema}`);
  } catch (e) {
    // Another process created it between the check and the insert (unique_violation).
    if ((e as { code?: unknown }).code !== '23505') throw e;
  } finally {
    await client.end();
  }
}

/** pg's parsers, but bigint and numeric as numbers (what better-sqlite3 gives for the same query). */
function sqliteLikeTypes(): pg.TypeOverrides {
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8, (s: string) => {
    const n = Number(s);
    if (!Number.isSafeInteger(n))
      throw new RangeError(`bigint ${s} is beyond a safe JavaScript integer`);
    return n;
  });
  types.setTypeParser(NUMERIC, (s: string) => Number(s));
  return types;
}

/** The URL with its password (in the authority or as a `password` parameter) taken out: fit for logs. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.searchParams.delete('password');
    return u.toString();
  } catch {
    return '(a PostgreSQL URL that does not parse)';
  }
}
