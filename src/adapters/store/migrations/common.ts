import type { Kysely } from 'kysely';

/** A role's sealed key pairs with their certificates (see key-ring.ts). */
export async function createKeyTable(db: Kysely<any>, name: string): Promise<void> {
  await db.schema.createTable(name)
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('sealed_key', 'text', (c) => c.notNull())
    .addColumn('cert_der', 'blob', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}
