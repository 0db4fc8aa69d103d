import type { Kysely, Migration } from 'kysely';
import { createKeyTable } from './common.js';

export const verifierMigrations: Record<string, Migration> = {
  '0001_verifier': {
    async up(db: Kysely<any>) {
      await createKeyTable(db, 'ver_keys');
      // Challenge-response sessions (Veraison's API): one nonce, one piece of evidence, one result.
      await db.schema
        .createTable('ver_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('evidence_type', 'text')
        .addColumn('evidence', 'text')
        .addColumn('result', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('ver_sessions_expiry')
        .on('ver_sessions')
        .columns(['expires_at'])
        .execute();
      // The latest reference values of each manufacturer (by party id): never an older one.
      await db.schema
        .createTable('ver_reference_values')
        .addColumn('party_id', 'text', (c) => c.primaryKey())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
