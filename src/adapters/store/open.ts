/**
 * A role's database from where it lives: a file path (SQLite, embedded: the default) or a
 * `postgres://` URL (PostgreSQL, shared by several nodes). On PostgreSQL each role keeps its
 * tables, and its record of migrations, in a schema of its own (`airlock_network`,
 * `airlock_manufacturer`), so that one database can hold both roles of `airlock up`.
 */
import type { Migration } from 'kysely';
import { openSqlite, type OpenedDb } from './sqlite.js';
import { openPostgres } from './postgres.js';

export function isDatabaseUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

export async function openRoleDatabase<T>(
  location: string,
  migrations: Record<string, Migration>,
  role: 'network' | 'manufacturer' | 'verifier',
): Promise<OpenedDb<T>> {
  return isDatabaseUrl(location)
    ? openPostgres<T>(location, migrations, { schema: `airlock_${role}` })
    : openSqlite<T>(location, migrations);
}
