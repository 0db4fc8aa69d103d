/**
 * What the migrations of every role share: the key table, and the few column types that
 * SQLite and PostgreSQL spell differently. Kysely gives a migration only its `db`; the
 * dialect is read from the adapter its executor uses. On SQLite the helpers produce exactly
 * the DDL the migrations always wrote (`blob`, `integer primary key autoincrement`), so a
 * database created before they existed has the same schema as a new one.
 */
import { PostgresAdapter, type ColumnDefinitionBuilder, type Kysely } from 'kysely';

/** Whether `db` (a database or a migration's transaction) talks to PostgreSQL. */
export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The type of a column of bytes: `bytea` on PostgreSQL, `blob` on SQLite. */
export function binaryType(db: Kysely<any>): 'bytea' | 'blob' {
  return isPostgres(db) ? 'bytea' : 'blob';
}

/**
 * An `integer` primary key numbered by the database:
 * `.addColumn('id', 'integer', autoId(db))`. An identity column on PostgreSQL, an
 * autoincrement rowid on SQLite. Inserts leave the column out; a caller that needs the new id
 * asks for it with `returning`, which both dialects support.
 */
export function autoId(db: Kysely<any>): (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder {
  return isPostgres(db)
    ? (c) => c.primaryKey().generatedByDefaultAsIdentity()
    : (c) => c.primaryKey().autoIncrement();
}

/** A role's sealed key pairs with their certificates (see key-ring.ts). */
export async function createKeyTable(db: Kysely<any>, name: string): Promise<void> {
  await db.schema
    .createTable(name)
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('sealed_key', 'text', (c) => c.notNull())
    .addColumn('cert_der', binaryType(db), (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}
