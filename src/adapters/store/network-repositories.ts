/**
 * The network's repositories (core/store.ts) over Kysely: one implementation for SQLite and
 * PostgreSQL. The statements every onboarding runs are compiled once per dialect
 * (prepared.ts); the rest are built as they are needed.
 */
import {
  CompiledQuery,
  sql as kyselySql,
  type Insertable,
  type Kysely,
  type Selectable,
} from 'kysely';
import { AirlockError } from '../../core/errors.js';
import { DPP_AKMS } from '../../core/store.js';
import type {
  CertifiedKeyKind,
  RadiusDevice,
  DeviceChange,
  EventInput,
  NetworkCredentials,
  NetworkDeclarationStore,
  NetworkDevices,
  NetworkDpp,
  DppAkm,
  DppEnrolleeRecord,
  NetworkEvents,
  NetworkRepositories,
  NetworkStore,
  NetworkPolicies,
  MudSignerPins,
  NetworkIntent,
  DeviceIntentRecord,
  KeyRecords,
  CrlRecord,
} from '../../core/store.js';
import type { NetworkDb } from './schema.js';
import { prepared, type Params } from './prepared.js';
import { KyselyUnitOfWork, type Dialect } from './unit-of-work.js';
import { kyselyKeyRecords } from './key-records.js';

type Db = Kysely<NetworkDb>;

/** What the registrar's steps read of a device. */
const DEVICE_COLUMNS = [
  'serial',
  'idevid_der',
  'state',
  'nonce',
  'onboardings',
  'ldevid_serial',
  'psk_id',
  'attestation_session',
  'attestation_status',
  'attestation_claims',
  'authorized_at',
] as const;

const sql = {
  birthCertificateOf: prepared((db: Db, p: Params<'serial'>) =>
    db.selectFrom('net_devices').select('idevid_der').where('serial', '=', p.serial),
  ),
  /** A voucher issued: the device's record, new or renewed; never another device's (same serial, other birth certificate). */
  vouched: prepared((db: Db, p: Params<VouchedParams>) => vouchedUpsert(db, p, {})),
  /** A voucher issued with the attestation result that admitted the device (steps 2 to 5 at once). */
  vouchedAttested: prepared((db: Db, p: Params<VouchedParams | 'status' | 'claims' | 'result'>) =>
    vouchedUpsert(db, p, {
      attestation_session: null,
      attestation_status: p.status,
      attestation_claims: p.claims,
      attestation_result: p.result,
      attested_at: p.at,
    }),
  ),
  attesting: prepared(
    (db: Db, p: Params<'serial' | 'idevid' | 'manufacturer' | 'session' | 'at'>) =>
      upsertDevice(db, p, {
        idevid_der: p.idevid,
        manufacturer: p.manufacturer,
        state: 'attesting' as const,
        attestation_session: p.session,
        updated_at: p.at,
      }),
  ),
  /** A device's attestation result and the decision on it (steps 3 and 4). */
  attested: prepared(
    (
      db: Db,
      p: Params<
        | 'serial'
        | 'state'
        | 'status'
        | 'claims'
        | 'result'
        | 'at'
        | 'decision'
        | 'segment'
        | 'rule'
        | 'policy'
      >,
    ) =>
      db
        .updateTable('net_devices')
        .set({
          state: p.state,
          attestation_session: null,
          attestation_status: p.status,
          attestation_claims: p.claims,
          attestation_result: p.result,
          attested_at: p.at,
          decision: p.decision,
          segment: p.segment,
          policy_rule: p.rule,
          policy_id: p.policy,
          decided_at: p.at,
          updated_at: p.at,
        })
        .where('serial', '=', p.serial),
  ),
  device: prepared((db: Db, p: Params<'serial'>) =>
    db.selectFrom('net_devices').select(DEVICE_COLUMNS).where('serial', '=', p.serial),
  ),
  deviceLocked: prepared((db: Db, p: Params<'serial'>) =>
    db.selectFrom('net_devices').select(DEVICE_COLUMNS).where('serial', '=', p.serial).forUpdate(),
  ),
  authenticated: prepared((db: Db, p: Params<'serial' | 'at'>) =>
    db
      .updateTable('net_devices')
      .set({ state: 'authenticated', authenticated_at: p.at, updated_at: p.at })
      .where('serial', '=', p.serial),
  ),
  ldevid: prepared((db: Db, p: Params<'serial' | 'state' | 'ldevid' | 'at'>) =>
    db
      .updateTable('net_devices')
      .set({ state: p.state, ldevid_serial: p.ldevid, updated_at: p.at })
      .where('serial', '=', p.serial),
  ),
  psk: prepared((db: Db, p: Params<'serial' | 'psk' | 'at'>) =>
    db
      .updateTable('net_devices')
      .set({ psk_id: p.psk, updated_at: p.at })
      .where('serial', '=', p.serial),
  ),
  onboarded: prepared((db: Db, p: Params<'serial' | 'onboardings' | 'at'>) =>
    db
      .updateTable('net_devices')
      .set({
        state: 'onboarded',
        onboarded_at: p.at,
        onboardings: p.onboardings,
        nonce: null,
        updated_at: p.at,
      })
      .where('serial', '=', p.serial),
  ),
  failed: prepared((db: Db, p: Params<'serial' | 'at'>) =>
    db
      .updateTable('net_devices')
      .set({ state: 'failed', updated_at: p.at })
      .where('serial', '=', p.serial),
  ),
  decommissioned: prepared((db: Db, p: Params<'serial' | 'at'>) =>
    db
      .updateTable('net_devices')
      .set({ state: 'decommissioned', updated_at: p.at })
      .where('serial', '=', p.serial),
  ),

  /** Binds a key to a device; a key bound before (to any device, in any role) is not bound again. */
  bindKey: prepared((db: Db, p: Params<'fingerprint' | 'serial' | 'kind' | 'certificate' | 'at'>) =>
    db
      .insertInto('net_certified_keys')
      .values({
        fingerprint: p.fingerprint,
        device_serial: p.serial,
        kind: p.kind,
        certificate_serial: p.certificate,
        recorded_at: p.at,
      })
      .onConflict((oc) => oc.column('fingerprint').doNothing()),
  ),
  rebindKey: prepared(
    (db: Db, p: Params<'fingerprint' | 'serial' | 'previous' | 'certificate' | 'at'>) =>
      db
        .updateTable('net_certified_keys')
        .set({ certificate_serial: p.certificate, recorded_at: p.at })
        .where('fingerprint', '=', p.fingerprint)
        .where('device_serial', '=', p.serial)
        .where('kind', '=', 'ldevid')
        .where('certificate_serial', '=', p.previous),
  ),
  keyKind: prepared((db: Db, p: Params<'fingerprint'>) =>
    db.selectFrom('net_certified_keys').select('kind').where('fingerprint', '=', p.fingerprint),
  ),
  supersede: prepared((db: Db, p: Params<'serial' | 'at' | 'reason'>) =>
    db
      .updateTable('net_certificates')
      .set({ revoked_at: p.at, revocation_reason: p.reason })
      .where('device_serial', '=', p.serial)
      .where('revoked_at', 'is', null),
  ),
  certificate: prepared(
    (db: Db, p: Params<'serial' | 'device' | 'notBefore' | 'notAfter' | 'at'>) =>
      db.insertInto('net_certificates').values({
        serial: p.serial,
        device_serial: p.device,
        not_before: p.notBefore,
        not_after: p.notAfter,
        issued_at: p.at,
        revoked_at: null,
        revocation_reason: null,
      }),
  ),
  certificateState: prepared((db: Db, p: Params<'serial'>) =>
    db
      .selectFrom('net_certificates')
      .select(['device_serial', 'revoked_at'])
      .where('serial', '=', p.serial),
  ),
  retirePsks: prepared((db: Db, p: Params<'serial' | 'at'>) =>
    db
      .updateTable('net_psks')
      .set({ retired_at: p.at })
      .where('device_serial', '=', p.serial)
      .where('retired_at', 'is', null),
  ),
  addPsk: prepared((db: Db, p: Params<'id' | 'serial' | 'sealed' | 'at'>) =>
    db.insertInto('net_psks').values({
      id: p.id,
      device_serial: p.serial,
      sealed_psk: p.sealed,
      created_at: p.at,
      retired_at: null,
    }),
  ),
  latestCrl: prepared((db: Db) =>
    db.selectFrom('net_crls').selectAll().orderBy('crl_number', 'desc').limit(1),
  ),
  revoked: prepared((db: Db) =>
    db
      .selectFrom('net_certificates')
      .select(['serial', 'revoked_at', 'revocation_reason'])
      .where('revoked_at', 'is not', null)
      .orderBy('serial'),
  ),
  policy: prepared((db: Db) =>
    db.selectFrom('net_policies').select(['policy_id', 'policy']).orderBy('id', 'desc').limit(1),
  ),
  declaration: prepared((db: Db, p: Params<'serial'>) =>
    db.selectFrom('net_declarations').select(['sequence', 'chain']).where('serial', '=', p.serial),
  ),
};

type VouchedParams =
  | 'serial'
  | 'idevid'
  | 'manufacturer'
  | 'nonce'
  | 'at'
  | 'decision'
  | 'segment'
  | 'rule'
  | 'policy';

/** The attestation columns a voucher request that carried evidence sets (placeholders, or null). */
type AttestationColumns = Partial<
  Record<
    | 'attestation_session'
    | 'attestation_status'
    | 'attestation_claims'
    | 'attestation_result'
    | 'attested_at',
    null
  >
>;

/** The device's record 'vouched', new or onboarding again (only under the same birth certificate). */
function vouchedUpsert(db: Db, p: Params<VouchedParams>, more: AttestationColumns) {
  return upsertDevice(db, p, {
    idevid_der: p.idevid,
    manufacturer: p.manufacturer,
    state: 'vouched' as const,
    nonce: p.nonce,
    voucher_at: p.at,
    authenticated_at: null,
    updated_at: p.at,
    decision: p.decision,
    segment: p.segment,
    policy_rule: p.rule,
    policy_id: p.policy,
    decided_at: p.at,
    authorized_at: null,
    ...more,
  });
}

/** What a new device's record holds besides `values`. */
const NEW_DEVICE = {
  nonce: null,
  voucher_at: null,
  authenticated_at: null,
  onboarded_at: null,
  ldevid_serial: null,
  psk_id: null,
  onboardings: 0,
} as const;

/**
 * The device's record with `values`: inserted, or updated when the serial is known under the
 * same birth certificate; another birth certificate's record is left alone (no row affected).
 */
function upsertDevice(
  db: Db,
  p: Params<'serial' | 'idevid'>,
  values: Omit<Insertable<NetworkDb['net_devices']>, 'serial' | 'onboardings'>,
) {
  return db
    .insertInto('net_devices')
    .values({ serial: p.serial, ...NEW_DEVICE, ...values })
    .onConflict((oc) =>
      oc.column('serial').doUpdateSet(values).where('net_devices.idevid_der', '=', p.idevid),
    );
}

/** A device onboarded without a birth certificate (Wi-Fi Easy Connect): an empty one. */
const NO_BIRTH_CERTIFICATE = new Uint8Array(0);

/** What the inventory shows of a device: everything but its birth certificate. */
const RECORD_COLUMNS = [
  'serial',
  'manufacturer',
  'state',
  'nonce',
  'voucher_at',
  'authenticated_at',
  'onboarded_at',
  'ldevid_serial',
  'psk_id',
  'onboardings',
  'updated_at',
  'attestation_status',
  'attested_at',
  'decision',
  'segment',
  'policy_rule',
  'policy_id',
  'decided_at',
  'quarantine',
  'quarantined_at',
] as const;

function devices(db: Db, dialect: Dialect): NetworkDevices {
  return {
    async birthCertificateOf(serial) {
      const row = await sql.birthCertificateOf.first(db, { serial });
      return row ? new Uint8Array(row.idevid_der) : undefined;
    },
    async vouched(d, at) {
      const p = {
        serial: d.serial,
        idevid: d.idevidDer,
        manufacturer: d.manufacturer,
        nonce: d.nonce,
        at: at.toISOString(),
        decision: d.decision.decision,
        segment: d.decision.segment,
        rule: d.decision.rule,
        policy: d.decision.policyId,
      };
      const a = d.attestation;
      const r = a
        ? await sql.vouchedAttested.run(db, {
            ...p,
            status: a.status,
            claims: a.claims,
            result: a.result,
          })
        : await sql.vouched.run(db, p);
      return r.numAffectedRows === 1n;
    },
    async attesting(d, at) {
      const r = await sql.attesting.run(db, {
        serial: d.serial,
        idevid: d.idevidDer,
        manufacturer: d.manufacturer,
        session: d.session,
        at: at.toISOString(),
      });
      return r.numAffectedRows === 1n;
    },
    async attested(serial, a, at) {
      await sql.attested.run(db, {
        serial,
        state: a.state,
        status: a.attestation.status,
        claims: a.attestation.claims,
        result: a.attestation.result,
        at: at.toISOString(),
        decision: a.decision.decision,
        segment: a.decision.segment,
        rule: a.decision.rule,
        policy: a.decision.policyId,
      });
    },
    async forgetAttestation(serial, at) {
      await db
        .updateTable('net_devices')
        .set({ attestation_status: null, attestation_claims: null, updated_at: at.toISOString() })
        .where('serial', '=', serial)
        .execute();
    },
    async reattested(serial, a, at) {
      const when = at.toISOString();
      await db
        .updateTable('net_devices')
        .set({
          attestation_status: a.status,
          attestation_claims: a.claims,
          attestation_result: a.result,
          attested_at: when,
          updated_at: when,
        })
        .where('serial', '=', serial)
        .execute();
    },
    async decided(serial, d, at, authorized) {
      const when = at.toISOString();
      await db
        .updateTable('net_devices')
        .set({
          decision: d.decision,
          segment: d.segment,
          policy_rule: d.rule,
          policy_id: d.policyId,
          decided_at: when,
          ...(authorized ? { authorized_at: when } : {}),
          updated_at: when,
        })
        .where('serial', '=', serial)
        .execute();
    },
    async quarantine(serial, reason, at) {
      const when = at.toISOString();
      await db
        .updateTable('net_devices')
        .set({ quarantine: reason, quarantined_at: reason ? when : null, updated_at: when })
        .where('serial', '=', serial)
        .execute();
    },
    async attestationUrl(serial, url, at) {
      await db
        .updateTable('net_devices')
        .set({ attestation_url: url, updated_at: at.toISOString() })
        .where('serial', '=', serial)
        .execute();
    },
    async attestationResult(serial) {
      const row = await db
        .selectFrom('net_devices')
        .select('attestation_result')
        .where('serial', '=', serial)
        .executeTakeFirst();
      return row?.attestation_result ?? undefined;
    },
    async forPolicy() {
      const rows = await db
        .selectFrom('net_devices')
        .select([
          'serial',
          'idevid_der',
          'state',
          'attestation_status',
          'attestation_claims',
          'decision',
          'segment',
          'policy_rule',
        ])
        .orderBy('serial')
        .execute();
      return rows.map((r) => ({
        serial: r.serial,
        idevidDer: new Uint8Array(r.idevid_der),
        state: r.state,
        attestationStatus: r.attestation_status,
        attestationClaims: r.attestation_claims,
        decision: r.decision,
        segment: r.segment,
        rule: r.policy_rule,
      }));
    },
    async reattestable() {
      const rows = await db
        .selectFrom('net_devices')
        .select(['serial', 'attestation_url', 'ldevid_serial'])
        .where('state', '=', 'onboarded')
        .where('attestation_url', 'is not', null)
        .orderBy('serial')
        .execute();
      return rows.map((r) => ({
        serial: r.serial,
        url: r.attestation_url!,
        ldevidSerial: r.ldevid_serial,
      }));
    },
    async get(serial, opts) {
      // SQLite has no row locks: its transaction holds the whole database.
      const row = await (
        opts?.lock && dialect === 'postgres' ? sql.deviceLocked : sql.device
      ).first(db, { serial });
      if (!row) return undefined;
      return {
        serial: row.serial,
        idevidDer: new Uint8Array(row.idevid_der),
        state: row.state,
        nonce: row.nonce,
        onboardings: row.onboardings,
        ldevidSerial: row.ldevid_serial,
        pskId: row.psk_id,
        attestationSession: row.attestation_session,
        attestationStatus: row.attestation_status,
        attestationClaims: row.attestation_claims,
        authorizedAt: row.authorized_at,
      };
    },
    async dppConfigured(serial, at) {
      const when = at.toISOString();
      const values = {
        idevid_der: NO_BIRTH_CERTIFICATE,
        manufacturer: null,
        state: 'provisioned' as const,
        nonce: null,
        voucher_at: null,
        authenticated_at: null,
        updated_at: when,
      };
      const r = await db
        .insertInto('net_devices')
        .values({ serial, ...NEW_DEVICE, ...values })
        .onConflict((oc) =>
          oc
            .column('serial')
            .doUpdateSet(values)
            .where('net_devices.idevid_der', '=', NO_BIRTH_CERTIFICATE),
        )
        .executeTakeFirst();
      return r.numInsertedOrUpdatedRows === 1n;
    },
    async update(serial, change: DeviceChange, at) {
      const when = at.toISOString();
      if ('ldevidSerial' in change)
        await sql.ldevid.run(db, {
          serial,
          state: change.state,
          ldevid: change.ldevidSerial,
          at: when,
        });
      else if ('pskId' in change) await sql.psk.run(db, { serial, psk: change.pskId, at: when });
      else if (change.state === 'onboarded')
        await sql.onboarded.run(db, { serial, onboardings: change.onboardings, at: when });
      else if (change.state === 'authenticated')
        await sql.authenticated.run(db, { serial, at: when });
      else if (change.state === 'decommissioned')
        await sql.decommissioned.run(db, { serial, at: when });
      else await sql.failed.run(db, { serial, at: when });
    },
    record(serial) {
      return db
        .selectFrom('net_devices')
        .select(RECORD_COLUMNS)
        .where('serial', '=', serial)
        .executeTakeFirst();
    },
    list() {
      return db.selectFrom('net_devices').select(RECORD_COLUMNS).orderBy('serial').execute();
    },
  };
}

function credentials(db: Db): NetworkCredentials {
  return {
    async bindKey(k, at) {
      const r = await sql.bindKey.run(db, {
        fingerprint: k.fingerprint,
        serial: k.device,
        kind: k.kind,
        certificate: k.certificate,
        at: at.toISOString(),
      });
      return r.numAffectedRows === 1n;
    },
    async rebindKey(k, at) {
      const r = await sql.rebindKey.run(db, {
        fingerprint: k.fingerprint,
        serial: k.device,
        previous: k.previous,
        certificate: k.certificate,
        at: at.toISOString(),
      });
      return r.numAffectedRows === 1n;
    },
    async keyKind(fingerprint) {
      return (await sql.keyKind.first(db, { fingerprint }))?.kind as CertifiedKeyKind | undefined;
    },
    async supersede(device, at, reason = 'superseded') {
      await sql.supersede.run(db, { serial: device, at: at.toISOString(), reason });
    },
    async retirePsks(device, at) {
      await sql.retirePsks.run(db, { serial: device, at: at.toISOString() });
    },
    async addCertificate(c, at) {
      await sql.certificate.run(db, {
        serial: c.serial,
        device: c.device,
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
        at: at.toISOString(),
      });
    },
    async certificate(serial) {
      const row = await sql.certificateState.first(db, { serial });
      return row && { device: row.device_serial, revokedAt: row.revoked_at };
    },
    certificatesOf(device) {
      return db
        .selectFrom('net_certificates')
        .selectAll()
        .where('device_serial', '=', device)
        .orderBy('issued_at')
        .execute();
    },
    async revoked() {
      const rows = await sql.revoked.rows(db, {});
      return rows.map((r) => ({
        serial: r.serial,
        revokedAt: r.revoked_at!,
        reason: r.revocation_reason,
      }));
    },
    async replacePsk(p, at) {
      const when = at.toISOString();
      await sql.retirePsks.run(db, { serial: p.device, at: when });
      await sql.addPsk.run(db, { id: p.id, serial: p.device, sealed: p.sealed, at: when });
    },
    async latestCrl() {
      const row = await sql.latestCrl.first(db, {});
      return (
        row && {
          crlNumber: Number(row.crl_number),
          thisUpdate: row.this_update,
          nextUpdate: row.next_update,
          revocations: row.revocations,
          der: new Uint8Array(row.der),
        }
      );
    },
    async addCrl(c: CrlRecord) {
      const r = await db
        .insertInto('net_crls')
        .values({
          crl_number: c.crlNumber,
          this_update: c.thisUpdate,
          next_update: c.nextUpdate,
          revocations: c.revocations,
          der: c.der,
        })
        .onConflict((oc) => oc.column('crl_number').doNothing())
        .executeTakeFirst();
      return r.numInsertedOrUpdatedRows === 1n;
    },
  };
}

/** The insert of `n` events, compiled once per dialect and `n`: every request records one or two (docs/BENCHMARKS.md). */
const eventInserts = new Map<string, string>();

function events(db: Db, dialect: Dialect): NetworkEvents {
  return {
    async record(list: readonly EventInput[], at) {
      if (list.length === 0) return;
      const key = `${dialect}:${list.length}`;
      let text = eventInserts.get(key);
      if (!text) {
        const blank = {
          at: '',
          device_serial: null,
          step: null,
          action: '',
          outcome: '',
          code: null,
          detail: null,
        };
        text = db
          .insertInto('net_events')
          .values(list.map(() => blank))
          .compile().sql;
        eventInserts.set(key, text);
      }
      // The parameters in the order of `blank`'s columns, row after row.
      const when = at.toISOString();
      const parameters = list.flatMap((x) => [
        when,
        x.serial,
        x.step ?? null,
        x.action,
        x.outcome,
        x.code ?? null,
        x.detail ? JSON.stringify(x.detail) : null,
      ]);
      await db.executeQuery(CompiledQuery.raw(text, parameters));
    },
    of(serial) {
      return db
        .selectFrom('net_events')
        .selectAll()
        .where('device_serial', '=', serial)
        .orderBy('id')
        .execute();
    },
  };
}

function dppAkm(v: string): DppAkm {
  if (!(DPP_AKMS as readonly string[]).includes(v))
    throw new AirlockError('ERR_INTERNAL', 'a DPP enrollee row names an unknown credential');
  return v as DppAkm;
}

function dppEnrollee(r: Selectable<NetworkDb['net_dpp_enrollees']>): DppEnrolleeRecord {
  return {
    keyHash: r.key_hash,
    serial: r.serial,
    curve: r.curve,
    spkiDer: new Uint8Array(r.spki_der),
    info: r.info,
    uri: r.uri,
    akm: dppAkm(r.akm),
    addedAt: r.added_at,
  };
}

function dpp(db: Db): NetworkDpp {
  return {
    async add(e, at) {
      const r = await db
        .insertInto('net_dpp_enrollees')
        .values({
          key_hash: e.keyHash,
          serial: e.serial,
          curve: e.curve,
          spki_der: e.spkiDer,
          info: e.info,
          uri: e.uri,
          akm: e.akm,
          added_at: at.toISOString(),
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return r.numInsertedOrUpdatedRows === 1n;
    },
    async get(keyHash) {
      const row = await db
        .selectFrom('net_dpp_enrollees')
        .selectAll()
        .where('key_hash', '=', keyHash)
        .executeTakeFirst();
      return row && dppEnrollee(row);
    },
    async bySerial(serial) {
      const row = await db
        .selectFrom('net_dpp_enrollees')
        .selectAll()
        .where('serial', '=', serial)
        .executeTakeFirst();
      return row && dppEnrollee(row);
    },
    async list() {
      const rows = await db
        .selectFrom('net_dpp_enrollees')
        .selectAll()
        .orderBy('added_at')
        .orderBy('serial')
        .execute();
      return rows.map(dppEnrollee);
    },
  };
}

function declarations(db: Db): NetworkDeclarationStore {
  return {
    async get(serial) {
      const row = await sql.declaration.first(db, { serial });
      return row && { sequence: row.sequence, chain: JSON.parse(row.chain) as string[] };
    },
    async put(d, at) {
      const values = {
        serial: d.serial,
        sequence: d.sequence,
        latest_hash: d.latestHash,
        chain: JSON.stringify(d.chain),
        source: d.source,
        installed_at: at.toISOString(),
      };
      await db
        .insertInto('net_declarations')
        .values(values)
        .onConflict((oc) => oc.column('serial').doUpdateSet(values))
        .execute();
    },
  };
}

function policies(db: Db): NetworkPolicies {
  return {
    async current() {
      const row = await sql.policy.first(db, {});
      return row && { policyId: row.policy_id, policy: row.policy };
    },
    async add(p, at) {
      await db
        .insertInto('net_policies')
        .values({
          policy_id: p.policyId,
          source: p.source,
          policy: p.policy,
          applied_at: at.toISOString(),
        })
        .execute();
    },
  };
}

function mudSigners(db: Db): MudSignerPins {
  return {
    async pinned(url) {
      const row = await db
        .selectFrom('net_mud_signers')
        .select(['signer', 'subject'])
        .where('url', '=', url)
        .executeTakeFirst();
      return row && { signer: row.signer, subject: row.subject };
    },
    async pin(url, s, at) {
      const r = await db
        .insertInto('net_mud_signers')
        .values({ url, signer: s.signer, subject: s.subject, first_seen: at.toISOString() })
        .onConflict((oc) => oc.column('url').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
    },
  };
}

function intent(db: Db): NetworkIntent {
  const toRecord = (r: Selectable<NetworkDb['net_device_intent']>): DeviceIntentRecord => ({
    serial: r.serial,
    segment: r.segment,
    host: Number(r.host),
    address: r.address,
    mudUrl: r.mud_url,
    profile: r.profile,
    installed: r.installed,
    quarantined: r.quarantined,
    updatedAt: r.updated_at,
  });
  return {
    async mudFile(url) {
      const r = await db
        .selectFrom('net_mud_files')
        .selectAll()
        .where('url', '=', url)
        .executeTakeFirst();
      return (
        r && {
          url: r.url,
          mud: r.mud,
          signature: r.signature,
          fetchedAt: r.fetched_at,
          expiresAt: r.expires_at,
        }
      );
    },
    async saveMudFile(f) {
      const values = {
        mud: f.mud,
        signature: f.signature,
        fetched_at: f.fetchedAt,
        expires_at: f.expiresAt,
      };
      await db
        .insertInto('net_mud_files')
        .values({ url: f.url, ...values })
        .onConflict((oc) => oc.column('url').doUpdateSet(values))
        .execute();
    },
    async device(serial) {
      const r = await db
        .selectFrom('net_device_intent')
        .selectAll()
        .where('serial', '=', serial)
        .executeTakeFirst();
      return r && toRecord(r);
    },
    async byAddress(address) {
      const r = await db
        .selectFrom('net_device_intent')
        .selectAll()
        .where('address', '=', address)
        .executeTakeFirst();
      return r && toRecord(r);
    },
    async all() {
      return (await db.selectFrom('net_device_intent').selectAll().orderBy('serial').execute()).map(
        toRecord,
      );
    },
    async hosts(segment) {
      const rows = await db
        .selectFrom('net_device_intent')
        .select('host')
        .where('segment', '=', segment)
        .orderBy('host')
        .execute();
      return rows.map((r) => Number(r.host));
    },
    async put(d) {
      const values = {
        segment: d.segment,
        host: d.host,
        address: d.address,
        mud_url: d.mudUrl,
        profile: d.profile,
        installed: d.installed,
        quarantined: d.quarantined,
        updated_at: d.updatedAt,
      };
      await db
        .insertInto('net_device_intent')
        .values({ serial: d.serial, ...values })
        .onConflict((oc) => oc.column('serial').doUpdateSet(values))
        .execute();
    },
    async setInstalled(serial, at) {
      await db
        .updateTable('net_device_intent')
        .set({ installed: at?.toISOString() ?? null })
        .where('serial', '=', serial)
        .execute();
    },
    async setQuarantined(serial, reason, at) {
      await db
        .updateTable('net_device_intent')
        .set({ quarantined: reason, updated_at: at.toISOString() })
        .where('serial', '=', serial)
        .execute();
    },
    async remove(serial) {
      await db.deleteFrom('net_device_intent').where('serial', '=', serial).execute();
    },
  };
}

function radius(db: Db): NetworkRepositories['radius'] {
  const lastAccessChange = async () => {
    const newest = await db
      .selectFrom('net_access_changes')
      .select((e) => e.fn.max('seq').as('seq'))
      .executeTakeFirst();
    return newest?.seq == null ? 0 : Number(newest.seq);
  };
  return {
    async setVlans(vlans) {
      await db.deleteFrom('net_segment_vlans').execute();
      const rows = Object.entries(vlans).map(([segment, vlan]) => ({ segment, vlan }));
      if (rows.length > 0) await db.insertInto('net_segment_vlans').values(rows).execute();
    },
    async wifiKeys() {
      const rows = await db
        .selectFrom('net_devices as d')
        .innerJoin('net_psks as p', 'p.id', 'd.psk_id')
        .leftJoin('net_segment_vlans as v', (j) =>
          j.on(
            'v.segment',
            '=',
            kyselySql<string>`case when d.quarantine is null then d.segment else 'quarantine' end`,
          ),
        )
        .select(['d.serial', 'p.id as psk_id', 'p.sealed_psk', 'v.vlan', 'd.quarantine'])
        .where('d.state', 'in', ['provisioned', 'onboarded'])
        .where('p.retired_at', 'is', null)
        .orderBy('d.serial')
        .execute();
      return rows
        .filter((r) => r.quarantine === null || r.vlan !== null)
        .map((r) => ({
          serial: r.serial,
          pskId: r.psk_id,
          sealed: r.sealed_psk,
          vlan: r.vlan === null ? null : Number(r.vlan),
        }));
    },
    async devices() {
      const rows = await db.selectFrom('radius_devices').selectAll().orderBy('serial').execute();
      return rows.map(radiusDevice);
    },
    async devicesNamed(serials) {
      const out: RadiusDevice[] = [];
      for (let i = 0; i < serials.length; i += 500) {
        const rows = await db
          .selectFrom('radius_devices')
          .selectAll()
          .where('serial', 'in', serials.slice(i, i + 500))
          .execute();
        out.push(...rows.map(radiusDevice));
      }
      return out;
    },
    async accessChanges(after, lookback) {
      const rows = await db
        .selectFrom('net_access_changes')
        .select(['seq', 'serial'])
        .where('seq', '>', after - lookback)
        .orderBy('seq')
        .execute();
      const oldest = await db
        .selectFrom('net_access_changes')
        .select((e) => e.fn.min('seq').as('seq'))
        .executeTakeFirst();
      const first = oldest?.seq == null ? undefined : Number(oldest.seq);
      const serials = new Set<string>();
      let everything = after > 0 && first !== undefined && first > after + 1;
      let last = after;
      for (const r of rows) {
        last = Math.max(last, Number(r.seq));
        // Read again behind `after`, a device is looked at once more; a VLAN changed was already acted on.
        if (r.serial === null) everything ||= Number(r.seq) > after;
        else serials.add(r.serial);
      }
      return { last, serials: [...serials], everything };
    },
    lastAccessChange,
    async pruneAccessChanges(keep) {
      const newest = await lastAccessChange();
      if (newest > keep)
        await db
          .deleteFrom('net_access_changes')
          .where('seq', '<=', newest - keep)
          .execute();
    },
  };
}

export function networkRepositories(db: Db, dialect: Dialect): NetworkRepositories {
  return {
    dpp: dpp(db),
    policies: policies(db),
    mudSigners: mudSigners(db),
    intent: intent(db),
    radius: radius(db),
    devices: devices(db, dialect),
    credentials: credentials(db),
    events: events(db, dialect),
    declarations: declarations(db),
    keys: kyselyKeyRecords(db, 'net_keys') as KeyRecords,
  };
}

export function networkStore(db: Db): NetworkStore & { dialect: Dialect } {
  return new KyselyUnitOfWork(db, networkRepositories);
}

function radiusDevice(r: {
  serial: string;
  certificate_serial: string;
  vlan: number;
}): RadiusDevice {
  return { serial: r.serial, certificateSerial: r.certificate_serial, vlan: Number(r.vlan) };
}
