/**
 * The manufacturer as reference value provider (report section 5.1.1 step 3): firmware
 * releases and withdrawals, each committing a new signed reference values document whose
 * sequence grows; the document verifies against the manufacturer's trust bundle, a sequence
 * always serves the same bytes, and the manufacturer serves it over HTTPS. The service runs
 * on SQLite and on a real PostgreSQL server.
 */
import * as nodeCrypto from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { PeerConnection, type HttpResponse } from '../../src/adapters/http/connection.js';
import { silentLogger } from '../../src/adapters/log/logger.js';
import { toBase64, toPem } from '../../src/core/bytes.js';
import type { Clock } from '../../src/core/ports.js';
import {
  REFERENCE_VALUES_MEDIA_TYPE,
  verifyReferenceValues,
  type VerifiedReferenceValues,
} from '../../src/protocols/endorsement/reference-values.js';
import { decodeCompact } from '../../src/protocols/jws/compact.js';
import { verifyChain } from '../../src/protocols/x509/chain.js';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { compareVersions } from '../../src/roles/manufacturer/firmware.js';
import { decodeTrustFile, encodeTrustFile } from '../../src/roles/shared/trust.js';
import { errorCode, expectProblem } from '../support/errors.js';
import { createDatabase, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { randomKek, tempDir } from '../support/wire.js';

const crypto = new NodeCrypto();

/** A clock the test moves: release and withdrawal times are then known exactly. */
class TestClock implements Clock {
  t = new Date('2027-03-01T12:00:00.000Z');
  now(): Date {
    return new Date(this.t);
  }
  tick(seconds: number): Date {
    this.t = new Date(this.t.getTime() + seconds * 1000);
    return this.now();
  }
}

const sha256 = (b: Uint8Array) => nodeCrypto.createHash('sha256').update(b).digest('base64url');
const image = (text: string) => new TextEncoder().encode(text);

const started = await startPostgres();
const server: PostgresServer | undefined = 'skipped' in started ? undefined : started;
if ('skipped' in started) console.log(`skipped: ${started.skipped}`);
afterAll(async () => {
  await server?.stop();
});

let databases = 0;
type Backend = 'sqlite' | 'postgres';

async function openManufacturer(
  backend: Backend,
  clock: Clock,
  where?: { dir: string; kek: Uint8Array; databaseUrl?: string },
): Promise<{ m: Manufacturer; dir: string; kek: Uint8Array; databaseUrl?: string }> {
  const dir = where?.dir ?? tempDir('airlock-firmware-');
  const kek = where?.kek ?? randomKek();
  const databaseUrl =
    where?.databaseUrl ??
    (backend === 'postgres'
      ? await createDatabase(server!.url, `firmware_${++databases}`)
      : undefined);
  const m = await Manufacturer.open({
    ctx: { crypto, clock, logger: silentLogger },
    databaseFile: path.join(dir, 'manufacturer.db'),
    ...(databaseUrl ? { databaseUrl } : {}),
    kek,
    config: { name: 'Firmware Test Devices' },
  });
  return { m, dir, kek, ...(databaseUrl ? { databaseUrl } : {}) };
}

/** The document, verified as a verifier would: signer under the endorsements CA, AK CA under the root. */
function verified(m: Manufacturer, text: string, at: Date): VerifiedReferenceValues {
  const trust = decodeTrustFile(
    crypto,
    JSON.parse(JSON.stringify(encodeTrustFile(m.trustBundle()))),
    at,
  );
  return verifyReferenceValues(crypto, text, {
    anchors: [trust.endorsementsCa!],
    root: trust.root,
    at,
  });
}

const backends: Backend[] = ['sqlite', 'postgres'];

describe.each(backends)('firmware releases on %s', (backend) => {
  const skip = backend === 'postgres' && !server;
  let clock: TestClock;
  let m: Manufacturer;
  let opened: { dir: string; kek: Uint8Array; databaseUrl?: string };

  beforeAll(async () => {
    if (skip) return;
    clock = new TestClock();
    ({ m, ...opened } = await openManufacturer(backend, clock));
  });
  afterAll(async () => {
    await m?.close();
  });

  it.skipIf(skip)('has no reference values before the first release', async () => {
    expect(await errorCode(() => m.firmware.referenceValues())).toBe('ERR_NOT_FOUND');
    expect(await m.firmware.list()).toEqual([]);
  });

  it.skipIf(skip)(
    'releases, lists and signs: defaults, digests of images, sequence 1, 2, ...',
    async () => {
      const t1 = clock.tick(1);
      const a = await m.firmware.release({
        model: 'cam-c1',
        version: '1.0',
        imageBytes: image('c1 image 1.0'),
      });
      expect(a).toMatchObject({
        model: 'cam-c1',
        name: 'cam-c1-firmware',
        version: '1.0',
        digest: sha256(image('c1 image 1.0')),
        status: 'released',
        releasedAt: t1.toISOString(),
        withdrawnAt: null,
        secureBoot: true,
        sequence: 1,
        changed: true,
      });
      const digest = sha256(image('plug image'));
      const b = await m.firmware.release({
        model: 'plug-p1',
        version: '2.1.0.7',
        name: 'Plug OS',
        digest,
        secureBoot: false,
      });
      expect(b).toMatchObject({ name: 'Plug OS', digest, secureBoot: false, sequence: 2 });
      const c = await m.firmware.release({
        model: 'cam-c1',
        version: '1.1',
        imageBytes: image('c1 image 1.1'),
      });
      expect(c.sequence).toBe(3);
      expect(
        (await m.firmware.list()).map((f) => [f.model, f.version, f.status, f.secureBoot]),
      ).toEqual([
        ['cam-c1', '1.0', 'released', true],
        ['cam-c1', '1.1', 'released', true],
        ['plug-p1', '2.1.0.7', 'released', false],
      ]);

      const doc = verified(m, await m.firmware.referenceValues(), clock.now());
      expect(doc.body.sequence).toBe(3);
      expect(doc.body.manufacturer).toEqual(m.party);
      expect(doc.body['attestation-cas']).toEqual([toBase64(m.pki.attestationCa.cert.der)]);
      expect(doc.body.models['plug-p1']).toEqual({
        'secure-boot': false,
        firmware: [
          {
            name: 'Plug OS',
            version: '2.1.0.7',
            digest,
            status: 'released',
            'released-on': b.releasedAt,
          },
        ],
      });
      expect(doc.body.models['cam-c1']!['secure-boot']).toBe(true);
      expect(doc.body.models['cam-c1']!.firmware.map((f) => [f.version, f.digest])).toEqual([
        ['1.0', sha256(image('c1 image 1.0'))],
        ['1.1', sha256(image('c1 image 1.1'))],
      ]);
      // The signer is the endorsements signer, under the endorsements CA: not any other key.
      const header = decodeCompact(doc.text).header;
      expect(header.x5c).toEqual([
        toBase64(m.pki.endorsements.cert.der),
        toBase64(m.pki.endorsementsCa.cert.der),
      ]);
    },
  );

  it.skipIf(skip)(
    'refuses a version released before, withdrawn or not, and the same image again: nothing changes',
    async () => {
      const before = await m.firmware.referenceValues();
      const listed = await m.firmware.list();
      expect(
        await errorCode(() =>
          m.firmware.release({ model: 'cam-c1', version: '1.0', imageBytes: image('other') }),
        ),
      ).toBe('ERR_FIRMWARE_EXISTS');
      expect(
        await errorCode(() =>
          m.firmware.release({
            model: 'cam-c1',
            version: '9.9',
            imageBytes: image('c1 image 1.1'),
          }),
        ),
      ).toBe('ERR_FIRMWARE_EXISTS');
      await m.firmware.withdraw({ model: 'cam-c1', version: '1.0' });
      const afterWithdrawal = await m.firmware.referenceValues();
      expect(
        await errorCode(() =>
          m.firmware.release({
            model: 'cam-c1',
            version: '1.0',
            imageBytes: image('c1 image 1.0'),
          }),
        ),
      ).toBe('ERR_FIRMWARE_EXISTS');
      expect(await m.firmware.referenceValues()).toBe(afterWithdrawal);
      expect(afterWithdrawal).not.toBe(before);
      expect((await m.firmware.list()).length).toBe(listed.length);
      // Another model may ship the same image.
      const other = await m.firmware.release({
        model: 'cam-c2',
        version: '1.0',
        imageBytes: image('c1 image 1.1'),
      });
      expect(other.sequence).toBe(verified(m, afterWithdrawal, clock.now()).body.sequence + 1);
    },
  );

  it.skipIf(skip)('refuses bad input with ERR_INPUT_SCHEMA, and changes nothing', async () => {
    const before = await m.firmware.referenceValues();
    const digest = sha256(image('never released'));
    const bad: Array<Record<string, unknown>> = [
      { model: 'cam-c1', version: '1.2.3.4.5', digest },
      { model: 'cam-c1', version: 'v1', digest },
      { model: 'cam-c1', version: '', digest },
      { model: 'cam-c1', version: '1..2', digest },
      { model: 'cam-c1', version: '1.02', digest },
      { model: 'cam-c1', version: ' 1', digest },
      { model: 'cam-c1', version: '1234567890', digest },
      { model: 'cam-c1', version: 1, digest },
      { model: 'cam c1', version: '1', digest },
      { model: '', version: '1', digest },
      { model: 'cam-c1', version: '7', digest: digest.slice(1) },
      { model: 'cam-c1', version: '7', digest: toBase64(nodeCrypto.randomBytes(32)) + 'x' },
      // 43 base64url characters whose last one carries bits beyond the 32 bytes.
      { model: 'cam-c1', version: '7', digest: `${digest.slice(0, 42)}B` },
      { model: 'cam-c1', version: '7' },
      { model: 'cam-c1', version: '7', digest, imageBytes: image('x') },
      { model: 'cam-c1', version: '7', digest, name: '' },
      { model: 'cam-c1', version: '7', digest, name: 'a\u202eb' },
      { model: 'cam-c1', version: '7', digest, name: 'x'.repeat(129) },
      { model: 'cam-c1', version: '7', digest, secureBoot: 'no' },
      // The model has secure boot; a release cannot take it away.
      { model: 'cam-c1', version: '7', digest, secureBoot: false },
      // And a model without it cannot gain it.
      { model: 'plug-p1', version: '7', digest, secureBoot: true },
    ];
    for (const input of bad)
      expect(await errorCode(() => m.firmware.release(input as never)), JSON.stringify(input)).toBe(
        'ERR_INPUT_SCHEMA',
      );
    expect(await errorCode(() => m.firmware.withdraw({ model: 'cam-c1', version: '1.x' }))).toBe(
      'ERR_INPUT_SCHEMA',
    );
    expect(await m.firmware.referenceValues()).toBe(before);
    // Left out, secure boot is what the model's first release said.
    const r = await m.firmware.release({ model: 'plug-p1', version: '7', digest });
    expect(r.secureBoot).toBe(false);
    expect(
      verified(m, await m.firmware.referenceValues(), clock.now()).body.models['plug-p1'],
    ).toMatchObject({ 'secure-boot': false });
  });

  it.skipIf(skip)(
    'withdraws: status and time in the document, a new sequence; withdrawing again changes nothing',
    async () => {
      const at = clock.tick(60);
      const seq = verified(m, await m.firmware.referenceValues(), at).body.sequence;
      const w = await m.firmware.withdraw({ model: 'cam-c1', version: '1.1' });
      expect(w).toMatchObject({
        model: 'cam-c1',
        version: '1.1',
        status: 'withdrawn',
        withdrawnAt: at.toISOString(),
        sequence: seq + 1,
        changed: true,
      });
      const text = await m.firmware.referenceValues();
      const doc = verified(m, text, at);
      expect(doc.body.sequence).toBe(seq + 1);
      expect(doc.body.models['cam-c1']!.firmware).toEqual([
        expect.objectContaining({
          version: '1.0',
          status: 'withdrawn',
          digest: sha256(image('c1 image 1.0')),
        }),
        expect.objectContaining({
          version: '1.1',
          status: 'withdrawn',
          digest: sha256(image('c1 image 1.1')),
          'withdrawn-on': at.toISOString(),
        }),
      ]);
      clock.tick(60);
      const again = await m.firmware.withdraw({ model: 'cam-c1', version: '1.1' });
      expect(again).toMatchObject({
        status: 'withdrawn',
        withdrawnAt: at.toISOString(),
        sequence: seq + 1,
        changed: false,
      });
      expect(await m.firmware.referenceValues()).toBe(text);
    },
  );

  it.skipIf(skip)('withdrawing what was never released is ERR_FIRMWARE_UNKNOWN', async () => {
    const before = await m.firmware.referenceValues();
    expect(await errorCode(() => m.firmware.withdraw({ model: 'cam-c1', version: '3' }))).toBe(
      'ERR_FIRMWARE_UNKNOWN',
    );
    expect(await errorCode(() => m.firmware.withdraw({ model: 'nothing', version: '1' }))).toBe(
      'ERR_FIRMWARE_UNKNOWN',
    );
    expect(await m.firmware.referenceValues()).toBe(before);
  });

  it.skipIf(skip)(
    'tells listeners each committed change, not a refused one nor a no-op; a failing listener does not undo it',
    async () => {
      const heard: string[] = [];
      const stop = m.firmware.onChange((d) => {
        heard.push(d);
      });
      const stopFailing = m.firmware.onChange(() => {
        throw new Error('verifier down');
      });
      const r = await m.firmware.release({
        model: 'cam-c1',
        version: '2.0',
        imageBytes: image('c1 image 2.0'),
      });
      expect(heard).toEqual([await m.firmware.referenceValues()]);
      expect(verified(m, heard[0]!, clock.now()).body.sequence).toBe(r.sequence);
      await m.firmware.withdraw({ model: 'cam-c1', version: '1.1' }); // no-op
      await errorCode(() =>
        m.firmware.release({ model: 'cam-c1', version: '2.0', imageBytes: image('y') }),
      );
      expect(heard.length).toBe(1);
      stop();
      stopFailing();
      await m.firmware.withdraw({ model: 'cam-c1', version: '2.0' });
      expect(heard.length).toBe(1);
    },
  );

  it.skipIf(skip)(
    'gives concurrent changes distinct sequences; the last document holds them all',
    async () => {
      const seq = verified(m, await m.firmware.referenceValues(), clock.now()).body.sequence;
      const results = await Promise.all(
        [0, 1, 2, 3, 4].map((i) =>
          m.firmware.release({
            model: `race-${i % 2}`,
            version: `1.${i}`,
            imageBytes: image(`r${i}`),
          }),
        ),
      );
      expect(results.map((r) => r.sequence).sort((a, b) => a - b)).toEqual([
        seq + 1,
        seq + 2,
        seq + 3,
        seq + 4,
        seq + 5,
      ]);
      const doc = verified(m, await m.firmware.referenceValues(), clock.now()).body;
      expect(doc.sequence).toBe(seq + 5);
      expect(doc.models['race-0']!.firmware.map((f) => f.version).sort()).toEqual([
        '1.0',
        '1.2',
        '1.4',
      ]);
      expect(doc.models['race-1']!.firmware.map((f) => f.version).sort()).toEqual(['1.1', '1.3']);
    },
  );

  it.skipIf(skip)(
    'serves the same bytes for a sequence after a restart (the document is stored, not signed again)',
    async () => {
      const text = await m.firmware.referenceValues();
      await m.close();
      ({ m } = await openManufacturer(backend, clock, opened));
      expect(await m.firmware.referenceValues()).toBe(text);
      // ES256 signatures are randomised: signing the same body again would give other bytes.
      const seq = verified(m, text, clock.now()).body.sequence;
      const next = await m.firmware.release({
        model: 'cam-c1',
        version: '3.0',
        imageBytes: image('c1 3.0'),
      });
      expect(next.sequence).toBe(seq + 1);
    },
  );
});

describe('the reference values route and the PKI', () => {
  let m: Manufacturer;
  let url: string;
  let dir: string;
  let kek: Uint8Array;
  const clock = new TestClock();
  clock.t = new Date();

  beforeAll(async () => {
    ({ m, dir, kek } = await openManufacturer('sqlite', clock));
    url = await m.serve(0);
  });
  afterAll(async () => {
    await m?.close();
  });

  async function get(): Promise<HttpResponse> {
    const conn = await PeerConnection.open(url, {
      ca: toPem('CERTIFICATE', m.pki.root.cert.der),
    });
    try {
      return await conn.request('GET', '/.well-known/airlock/reference-values');
    } finally {
      await conn.close();
    }
  }

  it('answers 404 ERR_NOT_FOUND before the first release', async () => {
    expectProblem(await get(), 'ERR_NOT_FOUND', 404);
  });

  it('serves the current document over HTTPS to a client with no certificate', async () => {
    await m.firmware.release({ model: 'hub-h1', version: '4.2', imageBytes: image('hub') });
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.contentType).toBe(REFERENCE_VALUES_MEDIA_TYPE);
    expect(res.body).toBe(await m.firmware.referenceValues());
    const doc = verified(m, res.body, clock.now());
    expect(doc.body.models['hub-h1']!.firmware[0]!.digest).toBe(sha256(image('hub')));
  });

  it('has attestation and endorsements CAs under the root, and puts them in the trust file', () => {
    const at = clock.now();
    for (const ca of [m.pki.attestationCa.cert, m.pki.endorsementsCa.cert]) {
      expect(ca.isCa).toBe(true);
      expect(ca.pathLength).toBe(0);
      verifyChain(crypto, { leaf: ca, anchors: [m.pki.root.cert], at });
    }
    expect(m.pki.endorsements.cert.isCa).toBe(false);
    verifyChain(crypto, {
      leaf: m.pki.endorsements.cert,
      anchors: [m.pki.endorsementsCa.cert],
      at,
    });
    // Purposes stay apart: the endorsements signer is not certified by the attestation CA.
    expect(() =>
      verifyChain(crypto, {
        leaf: m.pki.endorsements.cert,
        anchors: [m.pki.attestationCa.cert],
        at,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));
    const file = encodeTrustFile(m.trustBundle());
    expect(file.attestationCa).toBe(toBase64(m.pki.attestationCa.cert.der));
    expect(file.endorsementsCa).toBe(toBase64(m.pki.endorsementsCa.cert.der));
  });

  it('gives a database made before attestation its new keys when opened, and keeps them', async () => {
    await m.close();
    const other = await Manufacturer.open({
      ctx: { crypto, clock, logger: silentLogger },
      databaseFile: path.join(dir, 'old.db'),
      kek,
    });
    const root = other.pki.root.cert.der;
    await other.db
      .deleteFrom('mfg_keys')
      .where('name', 'in', ['attestation-ca', 'endorsements-ca', 'endorsements'])
      .execute();
    await other.close();
    const reopened = await Manufacturer.open({
      ctx: { crypto, clock, logger: silentLogger },
      databaseFile: path.join(dir, 'old.db'),
      kek,
      create: false,
    });
    try {
      expect(reopened.pki.root.cert.der).toEqual(root);
      verifyChain(crypto, {
        leaf: reopened.pki.attestationCa.cert,
        anchors: [reopened.pki.root.cert],
        at: clock.now(),
      });
      const names = (await reopened.db.selectFrom('mfg_keys').select('name').execute()).map(
        (r) => r.name,
      );
      expect(names).toEqual(
        expect.arrayContaining(['attestation-ca', 'endorsements-ca', 'endorsements']),
      );
    } finally {
      await reopened.close();
    }
    ({ m } = await openManufacturer('sqlite', clock, { dir, kek }));
  });
});

describe('compareVersions', () => {
  it('compares dotted numbers part by part, missing parts as zero', () => {
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('2', '10')).toBeLessThan(0);
    expect(compareVersions('1.0', '1')).toBe(0);
    expect(compareVersions('1.0.0.1', '1')).toBeGreaterThan(0);
  });
});
