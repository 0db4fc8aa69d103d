import type { Kysely, Migration } from 'kysely';
import { createKeyTable } from './common.js';

export const networkMigrations: Record<string, Migration> = {
  '0001_network': {
    async up(db: Kysely<any>) {
      await createKeyTable(db, 'net_keys');
      await db.schema.createTable('net_declarations')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('latest_hash', 'text', (c) => c.notNull())
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('installed_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('net_devices')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('idevid_der', 'blob', (c) => c.notNull())
        .addColumn('manufacturer', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text')
        .addColumn('voucher_at', 'text')
        .addColumn('authenticated_at', 'text')
        .addColumn('onboarded_at', 'text')
        .addColumn('ldevid_serial', 'text')
        .addColumn('psk_id', 'text')
        .addColumn('onboardings', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('net_certificates')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('device_serial', 'text', (c) => c.notNull().references('net_devices.serial'))
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('revocation_reason', 'text')
        .execute();
      await db.schema.createIndex('net_certificates_device').on('net_certificates').columns(['device_serial']).execute();
      await db.schema.createTable('net_psks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_serial', 'text', (c) => c.notNull().references('net_devices.serial'))
        .addColumn('sealed_psk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('retired_at', 'text')
        .execute();
      await db.schema.createTable('net_events')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('device_serial', 'text')
        .addColumn('step', 'integer')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('net_events_device').on('net_events').columns(['device_serial', 'id']).execute();
    },
  },
};
