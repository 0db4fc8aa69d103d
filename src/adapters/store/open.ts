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

/** The PostgreSQL schema that holds a role's tables (and the network's view radius_devices). */
export function roleSchema(role: 'network' | 'manufacturer' | 'verifier'): string {
  return `airlock_${role}`;
}

export async function openRoleDatabase<T>(
  location: string,
  migrations: Record<string, Migration>,
  role: 'network' | 'manufacturer' | 'verifier',
): Promise<OpenedDb<T>> {
  return isDatabaseUrl(location)
    ? openPostgres<T>(location, migrations, { schema: roleSchema(role) })
    : openSqlite<T>(location, migrations);
}
