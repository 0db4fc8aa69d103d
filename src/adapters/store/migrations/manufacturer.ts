import type { Kysely, Migration } from 'kysely';
import { autoId, binaryType, createKeyTable } from './common.js';

export const manufacturerMigrations: Record<string, Migration> = {
  '0001_manufacturer': {
    async up(db: Kysely<any>) {
      await createKeyTable(db, 'mfg_keys');
      await db.schema
        .createTable('mfg_devices')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('model', 'text', (c) => c.notNull())
        .addColumn('idevid_der', binaryType(db), (c) => c.notNull())
        .addColumn('masa_url', 'text', (c) => c.notNull())
        .addColumn('mud_url', 'text')
        .addColumn('minted_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('mfg_parties')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('ca_der', binaryType(db))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('mfg_declarations')
        .addColumn('serial', 'text', (c) => c.notNull().references('mfg_devices.serial'))
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('jws', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('issued_on', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('mfg_declarations_pk', ['serial', 'sequence'])
        .execute();
      await db.schema
        .createIndex('mfg_declarations_owner')
        .on('mfg_declarations')
        .columns(['owner_id'])
        .execute();
      await db.schema
        .createTable('masa_nonces')
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text', (c) => c.notNull())
        .addColumn('seen_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('masa_nonces_pk', ['serial', 'nonce'])
        .execute();
      await db.schema
        .createTable('masa_audit')
        .addColumn('id', 'integer', autoId(db))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('detail', 'text')
        .execute();
    },
  },
  /** RFC 8995 section 5.8: every voucher issued, with what the audit log reports of it. */
  '0002_masa_vouchers': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('masa_vouchers')
        .addColumn('id', 'integer', autoId(db))
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('domain_id', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('nonce', 'text')
        .addColumn('assertion', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('masa_vouchers_serial')
        .on('masa_vouchers')
        .columns(['serial', 'id'])
        .execute();
    },
  },
  /**
   * Every voucher and audit log request reads a device's latest declaration hash. The row holds
   * the signed declaration (kilobytes, in overflow pages, before the hash): an index that
   * covers (serial, sequence, hash) answers without reading it.
   */
  '0003_mfg_declarations_latest': {
    async up(db: Kysely<any>) {
      await db.schema
        .createIndex('mfg_declarations_latest')
        .on('mfg_declarations')
        .columns(['serial', 'sequence', 'hash'])
        .execute();
    },
  },
  /**
   * Firmware releases (report section 5.1.1 step 3; docs/ATTESTATION.md): each model, whether
   * it has secure boot, and the images released for it; and every signed reference values
   * document, by its sequence number, so that one sequence always serves the same bytes. The
   * primary key on the sequence decides a race between two changes: one of them starts over.
   */
  '0004_firmware': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('mfg_models')
        .addColumn('model', 'text', (c) => c.primaryKey())
        .addColumn('secure_boot', 'boolean', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('mfg_firmware')
        .addColumn('id', 'integer', autoId(db))
        .addColumn('model', 'text', (c) => c.notNull().references('mfg_models.model'))
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('released_at', 'text', (c) => c.notNull())
        .addColumn('withdrawn_at', 'text')
        .execute();
      // A version, and an image, is released once per model. Unique indexes (not constraints):
      // both dialects then list them by these names.
      await db.schema
        .createIndex('mfg_firmware_version')
        .on('mfg_firmware')
        .columns(['model', 'version'])
        .unique()
        .execute();
      await db.schema
        .createIndex('mfg_firmware_digest')
        .on('mfg_firmware')
        .columns(['model', 'digest'])
        .unique()
        .execute();
      await db.schema
        .createTable('mfg_reference_values')
        .addColumn('sequence', 'integer', (c) => c.primaryKey())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  /** Device intent (docs/INTENT.md): the MUD file a manufacturer published for a model, signed. */
  '0005_mfg_mud_files': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('mfg_mud_files')
        .addColumn('model', 'text', (c) => c.primaryKey())
        .addColumn('mud', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('published_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
};
