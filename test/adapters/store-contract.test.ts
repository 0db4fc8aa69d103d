/**
 * The storage port's contract (src/core/store.ts), one suite run on both implementations:
 * SQLite (embedded) and a real PostgreSQL server (test/support/postgres-server.ts). What a
 * repository promises (a voucher never takes another birth certificate's serial, a key is
 * bound once, a nonce is used once, a CRL number is taken once, a verifier session takes
 * evidence once, a failed unit of work leaves nothing) holds on both, and on PostgreSQL a
 * device's row lock queues a second unit of work behind the first.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { networkMigrations } from '../../src/adapters/store/migrations/network.js';
import { manufacturerMigrations } from '../../src/adapters/store/migrations/manufacturer.js';
import { verifierMigrations } from '../../src/adapters/store/migrations/verifier.js';
import { verifierStore } from '../../src/adapters/store/verifier-repositories.js';
import { openRoleDatabase } from '../../src/adapters/store/open.js';
import { openSqlite, type OpenedDb } from '../../src/adapters/store/sqlite.js';
import { networkStore } from '../../src/adapters/store/network-repositories.js';
import { manufacturerStore } from '../../src/adapters/store/manufacturer-repositories.js';
import { isUniqueViolation } from '../../src/adapters/store/unique-violation.js';
import type { ManufacturerDb, NetworkDb, VerifierDb } from '../../src/adapters/store/schema.js';
import type {
  ManufacturerStore,
  NetworkStore,
  VerifierSessionRecord,
  VerifierStore,
} from '../../src/core/store.js';
import { createDatabase, startPostgres, type PostgresServer } from '../support/postgres-server.js';

const started = await startPostgres();
const server: PostgresServer | undefined = 'skipped' in started ? undefined : started;
if ('skipped' in started) console.log(`skipped: ${started.skipped}`);

const opened: Array<OpenedDb<unknown>> = [];
afterAll(async () => {
  for (const o of opened) await o.close();
  await server?.stop();
});

let databases = 0;
type Backend = 'sqlite' | 'postgres';

async function open<T>(
  backend: Backend,
  migrations: typeof networkMigrations,
  role: 'network' | 'manufacturer' | 'verifier',
): Promise<OpenedDb<T>> {
  const o =
    backend === 'sqlite'
      ? await openSqlite<T>(':memory:', migrations)
      : await openRoleDatabase<T>(
          await createDatabase(server!.url, `contract_${++databases}`),
          migrations,
          role,
        );
  opened.push(o as OpenedDb<unknown>);
  return o;
}

async function network(backend: Backend): Promise<NetworkStore> {
  return networkStore((await open<NetworkDb>(backend, networkMigrations, 'network')).db);
}

async function manufacturer(backend: Backend): Promise<ManufacturerStore> {
  return manufacturerStore(
    (await open<ManufacturerDb>(backend, manufacturerMigrations, 'manufacturer')).db,
  );
}

async function verifier(backend: Backend): Promise<VerifierStore> {
  return verifierStore((await open<VerifierDb>(backend, verifierMigrations, 'verifier')).db);
}

const T = new Date('2026-06-01T00:00:00Z');
const later = (s: number) => new Date(T.getTime() + s * 1000);
const ALLOW = { decision: 'allow', segment: 'default', rule: 'r1', policyId: 'p1' } as const;
const der = (n: number) => new Uint8Array([0x30, 0x03, 0x02, 0x01, n]);

const backends: Backend[] = ['sqlite', 'postgres'];

describe.each(backends)('the store contract on %s', (backend) => {
  const skip = backend === 'postgres' && !server;

  describe.skipIf(skip)('network', () => {
    it('records a voucher for a new device, again for the same birth certificate, never for another', async () => {
      const s = await network(backend);
      expect(
        await s.run((r) =>
          r.devices.vouched(
            { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n1', decision: ALLOW },
            T,
          ),
        ),
      ).toBe(true);
      expect(await s.run((r) => r.devices.birthCertificateOf('D1'))).toEqual(der(1));
      expect(
        await s.run((r) =>
          r.devices.vouched(
            { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n2', decision: ALLOW },
            later(1),
          ),
        ),
      ).toBe(true);
      expect(
        await s.run((r) =>
          r.devices.vouched(
            { serial: 'D1', idevidDer: der(2), manufacturer: 'M', nonce: 'n3', decision: ALLOW },
            later(2),
          ),
        ),
      ).toBe(false);
      const d = await s.run((r) => r.devices.get('D1'));
      expect(d).toEqual({
        serial: 'D1',
        idevidDer: der(1),
        state: 'vouched',
        nonce: 'n2',
        onboardings: 0,
        ldevidSerial: null,
        pskId: null,
        attestationSession: null,
        attestationStatus: null,
        attestationClaims: null,
        authorizedAt: null,
      });
      expect(await s.run((r) => r.devices.get('nobody'))).toBeUndefined();
      expect(await s.run((r) => r.devices.birthCertificateOf('nobody'))).toBeUndefined();
    });

    it('moves a device through its states and lists it without its birth certificate', async () => {
      const s = await network(backend);
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n1', decision: ALLOW },
          T,
        ),
      );
      await s.transaction(async (r) => {
        await r.devices.update('D1', { state: 'authenticated' }, later(1));
        await r.devices.update('D1', { state: 'provisioned', ldevidSerial: 'aa' }, later(2));
        await r.devices.update('D1', { pskId: 'psk-1' }, later(3));
      });
      expect(await s.run((r) => r.devices.get('D1'))).toMatchObject({
        state: 'provisioned',
        ldevidSerial: 'aa',
        pskId: 'psk-1',
        nonce: 'n1',
      });
      await s.run((r) => r.devices.update('D1', { state: 'onboarded', onboardings: 1 }, later(4)));
      const rec = await s.run((r) => r.devices.record('D1'));
      expect(rec).toMatchObject({
        serial: 'D1',
        state: 'onboarded',
        nonce: null,
        onboardings: 1,
        authenticated_at: later(1).toISOString(),
        onboarded_at: later(4).toISOString(),
        updated_at: later(4).toISOString(),
      });
      expect(rec).not.toHaveProperty('idevid_der');
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'D0', idevidDer: der(0), manufacturer: 'M', nonce: 'x', decision: ALLOW },
          T,
        ),
      );
      expect((await s.run((r) => r.devices.list())).map((d) => d.serial)).toEqual(['D0', 'D1']);
      await s.run((r) => r.devices.update('D0', { state: 'failed' }, later(5)));
      expect((await s.run((r) => r.devices.get('D0')))?.state).toBe('failed');
    });

    it('records an attestation before any voucher, its result and decision, then a voucher that keeps or forgets it', async () => {
      const s = await network(backend);
      const session = JSON.stringify({ url: 'https://v/s/1', nonce: 'n', expiry: 'e', accept: [] });
      expect(
        await s.run((r) =>
          r.devices.attesting({ serial: 'A1', idevidDer: der(1), manufacturer: 'M', session }, T),
        ),
      ).toBe(true);
      // Another birth certificate under the same serial is refused, and changes nothing.
      expect(
        await s.run((r) =>
          r.devices.attesting(
            { serial: 'A1', idevidDer: der(2), manufacturer: 'M', session: 'x' },
            later(1),
          ),
        ),
      ).toBe(false);
      expect(await s.run((r) => r.devices.get('A1'))).toMatchObject({
        state: 'attesting',
        attestationSession: session,
        nonce: null,
        authorizedAt: null,
      });
      const claims = JSON.stringify({ status: 'affirming', swversion: '1.0.0' });
      await s.run((r) =>
        r.devices.attested(
          'A1',
          {
            state: 'attested',
            attestation: { status: 'affirming', claims, result: 'ear.jwt' },
            decision: { decision: 'allow', segment: 'lab', rule: 'r', policyId: 'p' },
          },
          later(2),
        ),
      );
      expect(await s.run((r) => r.devices.get('A1'))).toMatchObject({
        state: 'attested',
        attestationSession: null,
        attestationStatus: 'affirming',
        attestationClaims: claims,
      });
      expect(await s.run((r) => r.devices.attestationResult('A1'))).toBe('ear.jwt');
      expect(await s.run((r) => r.devices.record('A1'))).toMatchObject({
        attestation_status: 'affirming',
        decision: 'allow',
        segment: 'lab',
        policy_rule: 'r',
        policy_id: 'p',
      });
      // A voucher: the decision of that moment; step 8 not yet recorded in this onboarding.
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'A1', idevidDer: der(1), manufacturer: 'M', nonce: 'n1', decision: ALLOW },
          later(3),
        ),
      );
      expect(await s.run((r) => r.devices.get('A1'))).toMatchObject({
        state: 'vouched',
        attestationStatus: 'affirming',
        authorizedAt: null,
      });
      await s.run((r) => r.devices.decided('A1', ALLOW, later(4), true));
      expect((await s.run((r) => r.devices.get('A1')))!.authorizedAt).toBe(later(4).toISOString());
      // An onboarding without attestation forgets the earlier result (the EAR stays on record).
      await s.run((r) => r.devices.forgetAttestation('A1', later(5)));
      expect(await s.run((r) => r.devices.get('A1'))).toMatchObject({
        attestationStatus: null,
        attestationClaims: null,
      });
      expect(await s.run((r) => r.devices.attestationResult('A1'))).toBe('ear.jwt');
    });

    it('keeps the policies applied, the latest in force; marks and clears quarantine; lists devices for the policy and for re-attestation', async () => {
      const s = await network(backend);
      expect(await s.run((r) => r.policies.current())).toBeUndefined();
      await s.run((r) => r.policies.add({ policyId: 'p1', source: 'a', policy: '{"v":1}' }, T));
      await s.run((r) =>
        r.policies.add({ policyId: 'p2', source: 'b', policy: '{"v":2}' }, later(1)),
      );
      expect(await s.run((r) => r.policies.current())).toEqual({
        policyId: 'p2',
        policy: '{"v":2}',
      });
      for (const n of [1, 2])
        await s.run((r) =>
          r.devices.vouched(
            { serial: `Q${n}`, idevidDer: der(n), manufacturer: 'M', nonce: 'x', decision: ALLOW },
            T,
          ),
        );
      await s.run((r) => r.devices.quarantine('Q1', 'policy p2: rule default', later(2)));
      expect(await s.run((r) => r.devices.record('Q1'))).toMatchObject({
        quarantine: 'policy p2: rule default',
        quarantined_at: later(2).toISOString(),
      });
      await s.run((r) => r.devices.quarantine('Q1', null, later(3)));
      expect(await s.run((r) => r.devices.record('Q1'))).toMatchObject({
        quarantine: null,
        quarantined_at: null,
      });
      expect(
        (await s.run((r) => r.devices.forPolicy())).map((d) => [d.serial, d.decision]),
      ).toEqual([
        ['Q1', 'allow'],
        ['Q2', 'allow'],
      ]);
      // Only onboarded devices that said where they answer are asked again.
      await s.run((r) => r.devices.attestationUrl('Q1', 'https://q1.example', later(4)));
      await s.run((r) => r.devices.attestationUrl('Q2', 'https://q2.example', later(4)));
      await s.run((r) => r.devices.update('Q2', { state: 'onboarded', onboardings: 1 }, later(5)));
      expect(await s.run((r) => r.devices.reattestable())).toEqual([
        { serial: 'Q2', url: 'https://q2.example', ldevidSerial: null },
      ]);
    });

    it('binds a key once, to one device; moves a binding on renewal; supersedes and revokes', async () => {
      const s = await network(backend);
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'D2', idevidDer: der(2), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      const c = (r: Parameters<Parameters<NetworkStore['run']>[0]>[0]) => r.credentials;
      expect(
        await s.run((r) =>
          c(r).bindKey(
            { fingerprint: 'birth', device: 'D1', kind: 'idevid', certificate: 'i1' },
            T,
          ),
        ),
      ).toBe(true);
      expect(
        await s.run((r) =>
          c(r).bindKey({ fingerprint: 'k1', device: 'D1', kind: 'ldevid', certificate: 'c1' }, T),
        ),
      ).toBe(true);
      expect(
        await s.run((r) =>
          c(r).bindKey({ fingerprint: 'k1', device: 'D2', kind: 'ldevid', certificate: 'c9' }, T),
        ),
      ).toBe(false);
      expect(await s.run((r) => c(r).keyKind('birth'))).toBe('idevid');
      expect(await s.run((r) => c(r).keyKind('k1'))).toBe('ldevid');
      expect(await s.run((r) => c(r).keyKind('none'))).toBeUndefined();
      await s.run((r) =>
        c(r).addCertificate({ serial: 'c1', device: 'D1', notBefore: T, notAfter: later(100) }, T),
      );
      expect(await s.run((r) => c(r).certificate('c1'))).toEqual({ device: 'D1', revokedAt: null });
      // Renewal with the same key: the binding moves only from the certificate it names.
      expect(
        await s.run((r) =>
          c(r).rebindKey(
            { fingerprint: 'k1', device: 'D1', previous: 'other', certificate: 'c2' },
            later(1),
          ),
        ),
      ).toBe(false);
      expect(
        await s.run((r) =>
          c(r).rebindKey(
            { fingerprint: 'k1', device: 'D2', previous: 'c1', certificate: 'c2' },
            later(1),
          ),
        ),
      ).toBe(false);
      expect(
        await s.run((r) =>
          c(r).rebindKey(
            { fingerprint: 'k1', device: 'D1', previous: 'c1', certificate: 'c2' },
            later(1),
          ),
        ),
      ).toBe(true);
      await s.transaction(async (r) => {
        await c(r).supersede('D1', later(1));
        await c(r).addCertificate(
          { serial: 'c2', device: 'D1', notBefore: T, notAfter: later(100) },
          later(1),
        );
      });
      expect(await s.run((r) => c(r).certificate('c1'))).toEqual({
        device: 'D1',
        revokedAt: later(1).toISOString(),
      });
      expect(await s.run((r) => c(r).certificate('c2'))).toEqual({ device: 'D1', revokedAt: null });
      expect(await s.run((r) => c(r).revoked())).toEqual([
        { serial: 'c1', revokedAt: later(1).toISOString(), reason: 'superseded' },
      ]);
      expect((await s.run((r) => c(r).certificatesOf('D1'))).map((x) => x.serial)).toEqual([
        'c1',
        'c2',
      ]);
    });

    it('keeps one live PSK per device, sealed as given', async () => {
      const s = await network(backend);
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      await s.run((r) =>
        r.credentials.replacePsk({ id: 'p1', device: 'D1', sealed: 'sealed-1' }, T),
      );
      await s.run((r) =>
        r.credentials.replacePsk({ id: 'p2', device: 'D1', sealed: 'sealed-2' }, later(1)),
      );
      const { db } = opened.at(-1)! as OpenedDb<NetworkDb>;
      const rows = await db
        .selectFrom('net_psks')
        .select(['id', 'sealed_psk', 'retired_at'])
        .orderBy('id')
        .execute();
      expect(rows).toEqual([
        { id: 'p1', sealed_psk: 'sealed-1', retired_at: later(1).toISOString() },
        { id: 'p2', sealed_psk: 'sealed-2', retired_at: null },
      ]);
    });

    it("admits in FreeRADIUS's view each provisioned device's current certificate with its segment's VLAN; quarantine, decommissioning and revocation change it; lists live Wi-Fi keys", async () => {
      const s = await network(backend);
      for (const n of [1, 2, 3])
        await s.run((r) =>
          r.devices.vouched(
            { serial: `R${n}`, idevidDer: der(n), manufacturer: 'M', nonce: 'n', decision: ALLOW },
            T,
          ),
        );
      await s.transaction(async (r) => {
        for (const n of [1, 2, 3]) {
          await r.devices.update(`R${n}`, { state: 'provisioned', ldevidSerial: `c${n}` }, T);
          await r.credentials.addCertificate(
            { serial: `c${n}`, device: `R${n}`, notBefore: T, notAfter: later(1000) },
            T,
          );
          await r.credentials.replacePsk({ id: `p${n}`, device: `R${n}`, sealed: `s${n}` }, T);
          await r.devices.update(`R${n}`, { pskId: `p${n}` }, T);
        }
      });
      const admitted = () => s.run((r) => r.radius.devices());
      const keys = async () =>
        (await s.run((r) => r.radius.wifiKeys())).map((k) => [k.serial, k.pskId, k.sealed, k.vlan]);
      // No segment has a VLAN yet: nobody is admitted; the keys are there, with no VLAN.
      expect(await admitted()).toEqual([]);
      expect(await keys()).toEqual([
        ['R1', 'p1', 's1', null],
        ['R2', 'p2', 's2', null],
        ['R3', 'p3', 's3', null],
      ]);
      await s.run((r) => r.radius.setVlans({ default: 101, quarantine: 999 }));
      expect(await admitted()).toEqual([
        { serial: 'R1', certificateSerial: 'c1', vlan: 101 },
        { serial: 'R2', certificateSerial: 'c2', vlan: 101 },
        { serial: 'R3', certificateSerial: 'c3', vlan: 101 },
      ]);
      await s.run((r) => r.devices.quarantine('R1', 'test', later(1)));
      await s.run((r) => r.devices.update('R2', { state: 'decommissioned' }, later(1)));
      await s.run((r) => r.credentials.retirePsks('R2', later(1)));
      await s.run((r) => r.credentials.supersede('R3', later(1), 'cessationOfOperation'));
      expect(await admitted()).toEqual([{ serial: 'R1', certificateSerial: 'c1', vlan: 999 }]);
      expect(await keys()).toEqual([
        ['R1', 'p1', 's1', 999],
        ['R3', 'p3', 's3', 101],
      ]);
      // Without a quarantine VLAN a quarantined device has no key in the file (fail closed).
      await s.run((r) => r.radius.setVlans({ default: 101 }));
      expect(await keys()).toEqual([['R3', 'p3', 's3', 101]]);
      const revoked = await s.run((r) => r.credentials.certificatesOf('R3'));
      expect(revoked.map((c) => c.revocation_reason)).toEqual(['cessationOfOperation']);
    });

    it('records in order, by its own triggers, every change that may change who FreeRADIUS admits', async () => {
      const s = await network(backend);
      const changes = (after: number, lookback = 0) =>
        s.run((r) => r.radius.accessChanges(after, lookback));
      expect(await s.run((r) => r.radius.lastAccessChange())).toBe(0);
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'A1', idevidDer: der(1), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'A2', idevidDer: der(2), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      const start = await s.run((r) => r.radius.lastAccessChange());
      expect(start).toBeGreaterThan(0);
      expect(await changes(0)).toMatchObject({ serials: ['A1', 'A2'], everything: false });
      // Nothing since: nothing to read.
      expect(await changes(start)).toEqual({ last: start, serials: [], everything: false });

      // A device's state and certificate, a revocation, a quarantine: each names its device.
      await s.transaction(async (r) => {
        await r.devices.update('A1', { state: 'provisioned', ldevidSerial: 'c1' }, T);
        await r.credentials.addCertificate(
          { serial: 'c1', device: 'A1', notBefore: T, notAfter: later(1000) },
          T,
        );
      });
      const afterUpdate = await changes(start);
      expect(afterUpdate).toMatchObject({ serials: ['A1'], everything: false });
      expect(afterUpdate.last).toBeGreaterThan(start);
      await s.run((r) => r.credentials.supersede('A1', later(1), 'cessationOfOperation'));
      expect(await changes(afterUpdate.last)).toMatchObject({ serials: ['A1'] });
      const mark = await s.run((r) => r.radius.lastAccessChange());
      await s.run((r) => r.devices.quarantine('A2', 'test', later(1)));
      expect(await changes(mark)).toMatchObject({ serials: ['A2'], everything: false });
      // Read again behind the last seen (a commit may land behind a later number): harmless.
      expect((await changes(mark, 1000)).serials).toEqual(['A1', 'A2']);

      // A segment's VLAN: every device may have moved.
      const beforeVlans = await s.run((r) => r.radius.lastAccessChange());
      await s.run((r) => r.radius.setVlans({ default: 101 }));
      expect(await changes(beforeVlans)).toMatchObject({ everything: true });
      // Read again behind the last seen, a VLAN change already acted on is not one again.
      const seenVlans = (await changes(beforeVlans)).last;
      expect(await changes(seenVlans, 1000)).toMatchObject({ everything: false });

      // Pruned past what a watch saw: it must read everything.
      const last = await s.run((r) => r.radius.lastAccessChange());
      await s.transaction((r) => r.radius.pruneAccessChanges(1));
      expect(await s.run((r) => r.radius.lastAccessChange())).toBe(last);
      expect(await changes(start)).toMatchObject({ everything: true });
      expect(await changes(last)).toEqual({ last, serials: [], everything: false });
    });

    it('adds a DPP enrollee once per key and per serial; a DPP device is provisioned without a birth certificate, never over a zero-touch one', async () => {
      const s = await network(backend);
      const e1 = {
        keyHash: 'aa'.repeat(32),
        serial: 'SN-1',
        curve: 'P-256',
        spkiDer: der(7),
        info: 'SN=SN-1',
        uri: 'DPP:I:SN=SN-1;K:x;;',
        akm: 'dot1x' as const,
      };
      expect(await s.run((r) => r.dpp.add(e1, T))).toBe(true);
      // The same key again, or another key that gives the same serial: refused, nothing stored.
      expect(await s.run((r) => r.dpp.add({ ...e1, serial: 'SN-2' }, later(1)))).toBe(false);
      expect(await s.run((r) => r.dpp.add({ ...e1, keyHash: 'bb'.repeat(32) }, later(1)))).toBe(
        false,
      );
      const e2 = { ...e1, keyHash: 'cc'.repeat(32), serial: 'dpp-cccccccccccccccc', info: null };
      expect(await s.run((r) => r.dpp.add(e2, later(2)))).toBe(true);
      expect(await s.run((r) => r.dpp.get('aa'.repeat(32)))).toEqual({
        ...e1,
        addedAt: T.toISOString(),
      });
      expect((await s.run((r) => r.dpp.bySerial('dpp-cccccccccccccccc')))?.keyHash).toBe(
        'cc'.repeat(32),
      );
      expect(await s.run((r) => r.dpp.get('bb'.repeat(32)))).toBeUndefined();
      expect((await s.run((r) => r.dpp.list())).map((e) => e.serial)).toEqual([
        'SN-1',
        'dpp-cccccccccccccccc',
      ]);

      // Configured: provisioned, no birth certificate; its PSK is a live Wi-Fi key.
      expect(await s.run((r) => r.devices.dppConfigured('SN-1', later(3)))).toBe(true);
      await s.run((r) => r.credentials.replacePsk({ id: 'p1', device: 'SN-1', sealed: 's1' }, T));
      await s.run((r) => r.devices.update('SN-1', { pskId: 'p1' }, later(3)));
      const d = await s.run((r) => r.devices.get('SN-1'));
      expect(d).toMatchObject({ state: 'provisioned', pskId: 'p1', onboardings: 0 });
      expect(d?.idevidDer).toEqual(new Uint8Array(0));
      expect(await s.run((r) => r.radius.wifiKeys())).toEqual([
        { serial: 'SN-1', pskId: 'p1', sealed: 's1', vlan: null },
      ]);
      await s.run((r) => r.devices.update('SN-1', { state: 'onboarded', onboardings: 1 }, T));
      // Configured again (a new exchange): provisioned again.
      expect(await s.run((r) => r.devices.dppConfigured('SN-1', later(4)))).toBe(true);
      expect((await s.run((r) => r.devices.get('SN-1')))?.state).toBe('provisioned');
      // A zero-touch device's serial is never taken over.
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'Z1', idevidDer: der(1), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      expect(await s.run((r) => r.devices.dppConfigured('Z1', later(5)))).toBe(false);
      expect(await s.run((r) => r.devices.get('Z1'))).toMatchObject({
        state: 'vouched',
        idevidDer: der(1),
      });
    });

    it('takes each CRL number once: a second CRL of the same number is refused, not stored', async () => {
      const s = await network(backend);
      expect(await s.run((r) => r.credentials.latestCrl())).toBeUndefined();
      const crl = (n: number, tag: string) => ({
        crlNumber: n,
        thisUpdate: T.toISOString(),
        nextUpdate: later(60).toISOString(),
        revocations: tag,
        der: new Uint8Array([n, 1, 2]),
      });
      expect(await s.run((r) => r.credentials.addCrl(crl(1, 'a')))).toBe(true);
      expect(await s.run((r) => r.credentials.addCrl(crl(1, 'b')))).toBe(false);
      expect(await s.run((r) => r.credentials.addCrl(crl(2, 'c')))).toBe(true);
      expect(await s.run((r) => r.credentials.latestCrl())).toEqual(crl(2, 'c'));
    });

    it('records events in order, one or several at once, and finds them by device', async () => {
      const s = await network(backend);
      await s.run((r) =>
        r.events.record(
          [
            {
              serial: 'D1',
              step: 2,
              action: 'a',
              outcome: 'ok',
              detail: { peer: 'x', n: 1, ok: true, none: null },
            },
            { serial: null, action: 'b', outcome: 'refused', code: 'ERR_X' },
          ],
          T,
        ),
      );
      await s.run((r) =>
        r.events.record([{ serial: 'D1', action: 'c', outcome: 'warning' }], later(1)),
      );
      await s.run((r) => r.events.record([], later(2)));
      const events = await s.run((r) => r.events.of('D1'));
      expect(events.map((e) => [e.action, e.step, e.outcome, e.code])).toEqual([
        ['a', 2, 'ok', null],
        ['c', null, 'warning', null],
      ]);
      expect(JSON.parse(events[0]!.detail!)).toEqual({ peer: 'x', n: 1, ok: true, none: null });
      expect(events[0]!.id).toBeLessThan(events[1]!.id);
    });

    it("installs declarations, replacing a device's chain", async () => {
      const s = await network(backend);
      expect(await s.run((r) => r.declarations.get('D1'))).toBeUndefined();
      await s.run((r) =>
        r.declarations.put(
          { serial: 'D1', sequence: 1, latestHash: 'h1', chain: ['a', 'b'], source: 'import' },
          T,
        ),
      );
      await s.run((r) =>
        r.declarations.put(
          {
            serial: 'D1',
            sequence: 2,
            latestHash: 'h2',
            chain: ['a', 'b', 'c'],
            source: 'realtime',
          },
          T,
        ),
      );
      expect(await s.run((r) => r.declarations.get('D1'))).toEqual({
        sequence: 2,
        chain: ['a', 'b', 'c'],
      });
    });

    it('keeps named keys once: a second key of the same name is a unique violation', async () => {
      const s = await network(backend);
      await s.run((r) => r.keys.put('domain-ca', { sealedKey: 'sealed', certDer: der(7) }, T));
      expect(await s.run((r) => r.keys.get('domain-ca'))).toEqual({
        sealedKey: 'sealed',
        certDer: der(7),
      });
      expect(await s.run((r) => r.keys.get('other'))).toBeUndefined();
      const err = await s
        .run((r) => r.keys.put('domain-ca', { sealedKey: 'other', certDer: der(8) }, T))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isUniqueViolation(err)).toBe(true);
    });

    it("keeps MUD files and each device's intent: one device per address and per host of a segment", async () => {
      const s = await network(backend);
      const file = {
        url: 'https://maker.example/t1.json',
        mud: '{}',
        signature: 'c2ln',
        fetchedAt: T.toISOString(),
        expiresAt: later(3600).toISOString(),
      };
      await s.run((r) => r.intent.saveMudFile(file));
      await s.run((r) => r.intent.saveMudFile({ ...file, mud: '{"v":2}' }));
      expect(await s.run((r) => r.intent.mudFile(file.url))).toEqual({ ...file, mud: '{"v":2}' });
      expect(await s.run((r) => r.intent.mudFile('https://other.example/'))).toBeUndefined();
      const d = {
        serial: 'A1',
        segment: 'iot',
        host: 2,
        address: '10.1.0.2',
        mudUrl: file.url,
        profile: 'abcd0123',
        installed: null,
        quarantined: null,
        updatedAt: T.toISOString(),
      };
      await s.run((r) => r.intent.put(d));
      await s.run((r) =>
        r.intent.put({ ...d, serial: 'B2', host: 3, address: '10.1.0.3', mudUrl: null }),
      );
      expect(await s.run((r) => r.intent.hosts('iot'))).toEqual([2, 3]);
      expect(await s.run((r) => r.intent.hosts('other'))).toEqual([]);
      for (const taken of [
        { ...d, serial: 'C3', host: 9 }, // the address
        { ...d, serial: 'C3', address: '10.1.0.9' }, // the host of the segment
      ]) {
        const err = await s
          .run((r) => r.intent.put(taken))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(isUniqueViolation(err)).toBe(true);
      }
      await s.run((r) => r.intent.setInstalled('A1', later(1)));
      await s.run((r) => r.intent.setQuarantined('A1', 'suspicious', later(2)));
      expect(await s.run((r) => r.intent.device('A1'))).toEqual({
        ...d,
        installed: later(1).toISOString(),
        quarantined: 'suspicious',
        updatedAt: later(2).toISOString(),
      });
      // The same device again: its record replaced, not doubled.
      await s.run((r) => r.intent.put({ ...d, profile: 'ffff0000' }));
      expect((await s.run((r) => r.intent.all())).map((x) => [x.serial, x.profile])).toEqual([
        ['A1', 'ffff0000'],
        ['B2', 'abcd0123'],
      ]);
      await s.run((r) => r.intent.remove('A1'));
      expect(await s.run((r) => r.intent.device('A1'))).toBeUndefined();
      expect(await s.run((r) => r.intent.hosts('iot'))).toEqual([3]);
    });

    it('leaves nothing of a unit of work that fails', async () => {
      const s = await network(backend);
      await expect(
        s.transaction(async (r) => {
          await r.devices.vouched(
            { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n', decision: ALLOW },
            T,
          );
          await r.events.record([{ serial: 'D1', action: 'a', outcome: 'ok' }], T);
          throw new Error('the step failed');
        }),
      ).rejects.toThrow('the step failed');
      expect(await s.run((r) => r.devices.get('D1'))).toBeUndefined();
      expect(await s.run((r) => r.events.of('D1'))).toEqual([]);
    });

    it('queues a second unit of work that locks a device behind the first', async () => {
      const s = await network(backend);
      await s.run((r) =>
        r.devices.vouched(
          { serial: 'D1', idevidDer: der(1), manufacturer: 'M', nonce: 'n', decision: ALLOW },
          T,
        ),
      );
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const firstLocked = new Promise<void>((resolve) => (locked = resolve));
      const first = s.transaction(async (r) => {
        await r.devices.get('D1', { lock: true });
        locked();
        await held;
        order.push('first writes');
        await r.devices.update('D1', { state: 'provisioned', ldevidSerial: 'c1' }, later(1));
      });
      await firstLocked;
      const second = s.transaction(async (r) => {
        const d = await r.devices.get('D1', { lock: true });
        order.push(`second reads ${d?.ldevidSerial}`);
      });
      // Give the second every chance to overtake the first: it may not.
      await new Promise((resolve) => setTimeout(resolve, 50));
      release();
      await Promise.all([first, second]);
      expect(order).toEqual(['first writes', 'second reads c1']);
    });
  });

  describe.skipIf(skip)('manufacturer', () => {
    it('mints a device once, and keeps its declarations in sequence', async () => {
      const s = await manufacturer(backend);
      expect(await s.run((r) => r.devices.exists('D1'))).toBe(false);
      await s.transaction(async (r) => {
        await r.devices.add(
          { serial: 'D1', model: 'm', idevidDer: der(1), masaUrl: 'https://masa', mudUrl: null },
          T,
        );
        await r.declarations.append({
          serial: 'D1',
          sequence: 0,
          jws: 'j0',
          hash: 'h0',
          ownerId: 'mfg',
          issuedOn: T.toISOString(),
        });
      });
      expect(await s.run((r) => r.devices.exists('D1'))).toBe(true);
      await s.transaction(async (r) => {
        await r.devices.lock('D1');
        await r.declarations.append({
          serial: 'D1',
          sequence: 1,
          jws: 'j1',
          hash: 'h1',
          ownerId: 'owner',
          issuedOn: T.toISOString(),
        });
      });
      expect(await s.run((r) => r.declarations.latest('D1'))).toEqual({ hash: 'h1', sequence: 1 });
      expect(await s.run((r) => r.declarations.jws('D1', 0))).toBe('j0');
      expect(await s.run((r) => r.declarations.jws('D1', 5))).toBeUndefined();
      expect(await s.run((r) => r.declarations.chain('D1'))).toEqual(['j0', 'j1']);
      expect(await s.run((r) => r.declarations.chain('nobody'))).toEqual([]);
      expect(await s.run((r) => r.declarations.serials())).toEqual(['D1']);
      const dup = await s
        .run((r) =>
          r.declarations.append({
            serial: 'D1',
            sequence: 1,
            jws: 'x',
            hash: 'x',
            ownerId: 'x',
            issuedOn: T.toISOString(),
          }),
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isUniqueViolation(dup)).toBe(true);
    });

    it('uses a nonce once per device, and lists vouchers newest first, as many as asked', async () => {
      const s = await manufacturer(backend);
      expect(await s.run((r) => r.masa.useNonce('D1', 'n1', T))).toBe(true);
      expect(await s.run((r) => r.masa.useNonce('D1', 'n1', later(1)))).toBe(false);
      expect(await s.run((r) => r.masa.useNonce('D2', 'n1', T))).toBe(true);
      for (let i = 0; i < 3; i++)
        await s.run((r) =>
          r.masa.addVoucher(
            {
              serial: 'D1',
              domainId: `dom${i}`,
              ownerId: 'o',
              nonce: i === 1 ? null : `n${i}`,
              assertion: 'logged',
            },
            later(i),
          ),
        );
      const log = await s.run((r) => r.masa.vouchersOf('D1', 2));
      expect(log).toEqual([
        { issuedAt: later(2).toISOString(), domainId: 'dom2', nonce: 'n2', assertion: 'logged' },
        { issuedAt: later(1).toISOString(), domainId: 'dom1', nonce: null, assertion: 'logged' },
      ]);
      await s.run((r) =>
        r.masa.audit(
          {
            action: 'requestvoucher',
            actor: 'peer',
            subject: 'D1',
            outcome: 'ok',
            code: null,
            detail: { owner: 'o', n: 1 },
          },
          T,
        ),
      );
      const { db } = opened.at(-1)! as OpenedDb<ManufacturerDb>;
      const rows = await db
        .selectFrom('masa_audit')
        .select(['action', 'subject', 'detail'])
        .execute();
      expect(rows).toEqual([
        { action: 'requestvoucher', subject: 'D1', detail: JSON.stringify({ owner: 'o', n: 1 }) },
      ]);
    });
  });
  describe.skipIf(skip)('verifier', () => {
    it('takes a waiting session once; stores a session answered at once, once per id', async () => {
      const s = await verifier(backend);
      const expires = later(120);
      await s.run((r) => r.sessions.add({ id: 'w1', nonce: 'n-w1', expiresAt: expires }, T));
      const taken = await s.transaction(async (r) => {
        const t = await r.sessions.take('w1', later(1));
        await r.sessions.finish('w1', {
          state: 'complete',
          evidenceType: 'e',
          evidence: 'ev',
          result: 'ear',
        });
        return t;
      });
      expect(taken).toMatchObject({ id: 'w1', nonce: 'n-w1', state: 'waiting' });
      expect(await s.run((r) => r.sessions.take('w1', later(2)))).toBeUndefined();

      const done: VerifierSessionRecord = {
        id: 'd1',
        nonce: 'n-d1',
        expiresAt: expires.toISOString(),
        state: 'complete',
        evidenceType: 'e',
        evidence: 'ev',
        result: 'ear',
      };
      expect(await s.run((r) => r.sessions.addDone(done, T))).toBe(true);
      // The same id again (a reserved session answered twice): refused, the first kept.
      expect(
        await s.run((r) => r.sessions.addDone({ ...done, result: 'another ear' }, later(1))),
      ).toBe(false);
      expect(await s.run((r) => r.sessions.get('d1', later(1)))).toEqual(done);
      // Answered already: it takes no evidence.
      expect(await s.run((r) => r.sessions.take('d1', later(1)))).toBeUndefined();
      // Expired sessions are purged with the others.
      expect(await s.run((r) => r.sessions.purge(later(121)))).toBe(2);
    });
  });
});
