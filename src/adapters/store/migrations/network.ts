import { createHash } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';
import { parseCertificate } from '../../../protocols/x509/certificate.js';
import { autoId, binaryType, createKeyTable, isPostgres } from './common.js';

export const networkMigrations: Record<string, Migration> = {
  '0001_network': {
    async up(db: Kysely<any>) {
      await createKeyTable(db, 'net_keys');
      await db.schema
        .createTable('net_declarations')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('sequence', 'integer', (c) => c.notNull())
        .addColumn('latest_hash', 'text', (c) => c.notNull())
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('installed_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('net_devices')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('idevid_der', binaryType(db), (c) => c.notNull())
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
      await db.schema
        .createTable('net_certificates')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('device_serial', 'text', (c) => c.notNull().references('net_devices.serial'))
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('revocation_reason', 'text')
        .execute();
      await db.schema
        .createIndex('net_certificates_device')
        .on('net_certificates')
        .columns(['device_serial'])
        .execute();
      await db.schema
        .createTable('net_psks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_serial', 'text', (c) => c.notNull().references('net_devices.serial'))
        .addColumn('sealed_psk', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('retired_at', 'text')
        .execute();
      await db.schema
        .createTable('net_events')
        .addColumn('id', 'integer', autoId(db))
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('device_serial', 'text')
        .addColumn('step', 'integer')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('code', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema
        .createIndex('net_events_device')
        .on('net_events')
        .columns(['device_serial', 'id'])
        .execute();
    },
  },
  /**
   * EST key binding: the SHA-256 (base64url) of every key certified for a device, its birth
   * key (IDevID) and its LDevIDs' keys, each once; and the CRLs issued with their cRLNumber.
   */
  '0002_network_key_binding': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('net_certified_keys')
        .addColumn('fingerprint', 'text', (c) => c.primaryKey())
        .addColumn('device_serial', 'text', (c) => c.notNull().references('net_devices.serial'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('certificate_serial', 'text')
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('net_certified_keys_device')
        .on('net_certified_keys')
        .columns(['device_serial'])
        .execute();
      // Every birth key seen so far is certified for its device: no CSR may reuse it.
      const rows = await db.selectFrom('net_devices').select(['serial', 'idevid_der']).execute();
      for (const r of rows as Array<{ serial: string; idevid_der: Uint8Array }>) {
        let idevid: { spki: Uint8Array; serial: string };
        try {
          idevid = parseCertificate(new Uint8Array(r.idevid_der));
        } catch {
          continue; // not a certificate Airlock can read: its device cannot enroll either
        }
        await db
          .insertInto('net_certified_keys')
          .values({
            fingerprint: createHash('sha256').update(idevid.spki).digest('base64url'),
            device_serial: r.serial,
            kind: 'idevid',
            certificate_serial: idevid.serial,
            recorded_at: new Date().toISOString(),
          })
          .onConflict((oc) => oc.column('fingerprint').doNothing())
          .execute();
      }
      await db.schema
        .createTable('net_crls')
        .addColumn('crl_number', 'integer', (c) => c.primaryKey())
        .addColumn('this_update', 'text', (c) => c.notNull())
        .addColumn('next_update', 'text', (c) => c.notNull())
        .addColumn('revocations', 'text', (c) => c.notNull())
        .addColumn('der', binaryType(db), (c) => c.notNull())
        .execute();
    },
  },
  /** A device's PSKs are found by device (each new PSK retires the one before): not by a scan of every PSK. */
  '0003_network_psk_device_index': {
    async up(db: Kysely<any>) {
      await db.schema
        .createIndex('net_psks_device')
        .on('net_psks')
        .columns(['device_serial'])
        .execute();
    },
  },
  /**
   * Attestation and authorization (steps 3, 4 and 8): the device's latest attestation result
   * (the EAR as received, its status and the claims the policy reads), the verifier session
   * outstanding, the policy's decision with the rule that made it, whether the device is
   * marked for quarantine, and where it answers re-attestation; the policies applied.
   */
  '0004_network_attestation_policy': {
    async up(db: Kysely<any>) {
      for (const column of [
        'attestation_session',
        'attestation_status',
        'attestation_claims',
        'attestation_result',
        'attested_at',
        'decision',
        'segment',
        'policy_rule',
        'policy_id',
        'decided_at',
        'authorized_at',
        'quarantine',
        'quarantined_at',
        'attestation_url',
      ])
        await db.schema.alterTable('net_devices').addColumn(column, 'text').execute();
      await db.schema
        .createTable('net_policies')
        .addColumn('id', 'integer', autoId(db))
        .addColumn('policy_id', 'text', (c) => c.notNull())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('applied_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  /** Device intent (docs/INTENT.md): the signer first seen for each MUD URL. */
  '0005_network_mud_signers': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('net_mud_signers')
        .addColumn('url', 'text', (c) => c.primaryKey())
        .addColumn('signer', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('first_seen', 'text', (c) => c.notNull())
        .execute();
    },
  },
  /**
   * Device intent (docs/INTENT.md): the MUD files accepted, as fetched, until their
   * cache-validity ends; each device's address in its segment, the MUD URL and profile its
   * rules were compiled from, whether they are installed, whether it is quarantined.
   */
  '0006_network_device_intent': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('net_mud_files')
        .addColumn('url', 'text', (c) => c.primaryKey())
        .addColumn('mud', 'text', (c) => c.notNull())
        .addColumn('signature', 'text', (c) => c.notNull())
        .addColumn('fetched_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('net_device_intent')
        .addColumn('serial', 'text', (c) => c.primaryKey())
        .addColumn('segment', 'text', (c) => c.notNull())
        .addColumn('host', 'integer', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('mud_url', 'text')
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('installed', 'text')
        .addColumn('quarantined', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      // One device per address, and per host of a segment: two nodes allocating at once cannot both win.
      await db.schema
        .createIndex('net_device_intent_address')
        .on('net_device_intent')
        .column('address')
        .unique()
        .execute();
      await db.schema
        .createIndex('net_device_intent_segment_host')
        .on('net_device_intent')
        .columns(['segment', 'host'])
        .unique()
        .execute();
    },
  },
  /**
   * 802.1X (docs/RADIUS.md): the VLAN of each segment, and the view FreeRADIUS reads through
   * rlm_sql, the only part of this database it is given: each device that may connect now, the
   * serial number of the one certificate it may connect with, and the VLAN it lands in. A
   * device marked for quarantine lands in the `quarantine` segment's VLAN; a segment with no
   * VLAN, a device not provisioned, decommissioned or whose certificate is revoked: no row.
   */
  '0007_network_radius': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('net_segment_vlans')
        .addColumn('segment', 'text', (c) => c.primaryKey())
        .addColumn('vlan', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createView('radius_devices')
        .as(
          db
            .selectFrom('net_devices as d')
            .innerJoin('net_segment_vlans as v', (j) =>
              j.on(
                'v.segment',
                '=',
                sql<string>`case when d.quarantine is null then d.segment else 'quarantine' end`,
              ),
            )
            .select([
              'd.serial as serial',
              'd.ldevid_serial as certificate_serial',
              'v.vlan as vlan',
            ])
            .where('d.state', 'in', ['provisioned', 'onboarded'])
            .where('d.ldevid_serial', 'is not', null)
            .where(({ not, exists, selectFrom }) =>
              not(
                exists(
                  selectFrom('net_certificates as c')
                    .select('c.serial')
                    .whereRef('c.serial', '=', 'd.ldevid_serial')
                    .where('c.revoked_at', 'is not', null),
                ),
              ),
            ),
        )
        .execute();
    },
  },
  /**
   * What changed that may change who FreeRADIUS admits (access-watch.ts): one row, numbered in
   * order, for each device whose state, segment, quarantine, LDevID or Wi-Fi key changed, whose
   * certificate was revoked, or that came or went; a row with no serial when a segment's VLAN
   * changed (every device may have moved). Written by the database's own triggers, so no write
   * path can forget it. The network's watch reads the rows after the last it saw and asks the
   * view about those devices only, instead of reading the whole view every time.
   */
  '0008_network_access_changes': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('net_access_changes')
        .addColumn('seq', 'integer', autoId(db))
        .addColumn('serial', 'text')
        .execute();
      if (isPostgres(db)) {
        await sql`CREATE FUNCTION net_access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF TG_TABLE_NAME = 'net_segment_vlans' THEN
              INSERT INTO net_access_changes (serial) VALUES (NULL);
            ELSIF TG_TABLE_NAME = 'net_certificates' THEN
              INSERT INTO net_access_changes (serial) VALUES (NEW.device_serial);
            ELSIF TG_OP = 'DELETE' THEN
              INSERT INTO net_access_changes (serial) VALUES (OLD.serial);
            ELSE
              INSERT INTO net_access_changes (serial) VALUES (NEW.serial);
            END IF;
            RETURN NULL;
          END $$`.execute(db);
        await sql`CREATE TRIGGER net_access_devices
          AFTER INSERT OR DELETE OR UPDATE OF state, segment, quarantine, ldevid_serial, psk_id
          ON net_devices FOR EACH ROW EXECUTE FUNCTION net_access_changed()`.execute(db);
        await sql`CREATE TRIGGER net_access_certificates
          AFTER UPDATE OF revoked_at ON net_certificates
          FOR EACH ROW EXECUTE FUNCTION net_access_changed()`.execute(db);
        await sql`CREATE TRIGGER net_access_vlans
          AFTER INSERT OR UPDATE OR DELETE ON net_segment_vlans
          FOR EACH STATEMENT EXECUTE FUNCTION net_access_changed()`.execute(db);
      } else {
        const row = (serial: string) =>
          sql.raw(`INSERT INTO net_access_changes (serial) VALUES (${serial});`);
        for (const [name, when, value] of [
          ['net_access_devices_insert', 'AFTER INSERT ON net_devices', 'NEW.serial'],
          ['net_access_devices_delete', 'AFTER DELETE ON net_devices', 'OLD.serial'],
          [
            'net_access_devices_update',
            'AFTER UPDATE OF state, segment, quarantine, ldevid_serial, psk_id ON net_devices',
            'NEW.serial',
          ],
          [
            'net_access_certificates',
            'AFTER UPDATE OF revoked_at ON net_certificates',
            'NEW.device_serial',
          ],
          ['net_access_vlans_insert', 'AFTER INSERT ON net_segment_vlans', 'NULL'],
          ['net_access_vlans_update', 'AFTER UPDATE ON net_segment_vlans', 'NULL'],
          ['net_access_vlans_delete', 'AFTER DELETE ON net_segment_vlans', 'NULL'],
        ] as const)
          await sql`CREATE TRIGGER ${sql.raw(name)} ${sql.raw(when)} BEGIN ${row(value)} END`.execute(
            db,
          );
      }
    },
  },
  /**
   * Wi-Fi Easy Connect (docs/DPP.md): the enrollees the owner added by their bootstrapping URI.
   * One row per key (its SHA-256, hex, the I-BKH an enrollee sends), one per serial: the
   * Configurator answers these only. The network's own DPP key is in net_keys.
   */
  '0009_network_dpp_enrollees': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('net_dpp_enrollees')
        .addColumn('key_hash', 'text', (c) => c.primaryKey())
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('curve', 'text', (c) => c.notNull())
        .addColumn('spki_der', binaryType(db), (c) => c.notNull())
        .addColumn('info', 'text')
        .addColumn('uri', 'text', (c) => c.notNull())
        .addColumn('added_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('net_dpp_enrollees_serial')
        .on('net_dpp_enrollees')
        .column('serial')
        .unique()
        .execute();
    },
  },
  // What a DPP enrollee is given (docs/DPP.md): sta-psk, sta-sae, sta-dpp or sta-dot1x.
  '0010_network_dpp_akm': {
    async up(db: Kysely<any>) {
      await db.schema
        .alterTable('net_dpp_enrollees')
        .addColumn('akm', 'text', (c) => c.notNull().defaultTo('psk'))
        .execute();
    },
  },
};
