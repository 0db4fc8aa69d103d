/**
 * EST binds keys to devices (RFC 7030 sections 4.2.1 and 4.2.2): attacks performed against the
 * running roles. A request key already certified for another device, any device's birth key,
 * or a superseded key of the same device is refused with ERR_CSR_KEY at simpleenroll and at
 * simplereenroll, and nothing is issued. EST needs no voucher status (RFC 8995 section 5.7 is
 * telemetry): a device whose voucher was issued may enroll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr } from '../../src/protocols/est/csr.js';
import { decodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { parseCertificate, parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { fromBase64, toBase64, toPem } from '../../src/core/bytes.js';
import type { PrivateKeyHandle } from '../../src/core/ports.js';
import { importPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import {
  connectAs,
  expectProblem,
  identityOf,
  pledgeVoucherRequest,
  postVoucherRequest,
  type DeviceIdentity,
} from '../support/wire.js';
import { testCsr, testKey } from '../support/csr.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';

describe('EST key binding', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    // Most devices here are raw protocol clients that present no attestation evidence.
    sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
  });
  afterAll(async () => sys?.close());

  const c = () => sys.ctx.crypto;

  /** A device with a voucher and nothing else: no voucher status, no EST yet. */
  async function vouched(): Promise<{ id: DeviceIdentity; conn: PeerConnection; serial: string }> {
    const { agent, serial } = await sys.newDevice();
    const id = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, id);
    const { pvr } = pledgeVoucherRequest(c(), id, conn);
    expect((await postVoucherRequest(conn, pvr)).status).toBe(200);
    expect((await sys.network.inventory.device(serial)).state).toBe('vouched');
    return { id, conn, serial };
  }

  /** A device onboarded by its own agent, with its LDevID key. */
  async function onboarded() {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const creds = (await agent.onboardingCredentials())!;
    return {
      agent,
      serial,
      creds,
      key: importPkcs8(fromBase64(creds.ldevidKey)!),
      idevidKey: identityOf(await agent.birth()).key,
    };
  }

  const csrFor = (key: PrivateKeyHandle, cn: string) => toBase64(buildCsr(c(), key, cn));
  const certRows = async () =>
    sys.network.db.selectFrom('net_certificates').selectAll().orderBy('serial').execute();

  async function ldevidConn(creds: { ldevid: string; ldevidKey: string }) {
    return PeerConnection.open(sys.registrarUrl, {
      cert: toPem('CERTIFICATE', fromBase64(creds.ldevid)!),
      key: toPem('PRIVATE KEY', fromBase64(creds.ldevidKey)!),
    });
  }

  it('enrolls a device with only a voucher (no voucher status), and records its birth key', async () => {
    const { id, conn, serial } = await vouched();
    const res = await conn.request('POST', '/.well-known/est/simpleenroll', {
      body: csrFor(generateP256Key(), serial),
      contentType: 'application/pkcs10',
    });
    await conn.close();
    expect(res.status, res.body).toBe(200);
    expect((await sys.network.inventory.device(serial)).state).toBe('provisioned');
    const keys = await sys.network.db
      .selectFrom('net_certified_keys')
      .selectAll()
      .where('device_serial', '=', serial)
      .execute();
    expect(keys.map((k) => k.kind).sort()).toEqual(['idevid', 'ldevid']);
    expect(keys.find((k) => k.kind === 'idevid')!.fingerprint).toBe(
      sys.network.credentials.fingerprint(id.idevid.spki),
    );
  });

  it("refuses at simpleenroll another device's LDevID key, its own and another device's birth key; nothing issued", async () => {
    const victim = await onboarded();
    const other = await vouched(); // a birth key seen only in a voucher request: never enrolled
    const { id, conn, serial } = await vouched();
    const before = await certRows();
    for (const key of [victim.key, victim.idevidKey, other.id.key, id.key]) {
      expectProblem(
        await conn.request('POST', '/.well-known/est/simpleenroll', {
          body: csrFor(key, serial),
          contentType: 'application/pkcs10',
        }),
        'ERR_CSR_KEY',
        400,
      );
    }
    expect(await certRows()).toEqual(before);
    expect((await sys.network.inventory.device(serial)).state).toBe('vouched');
    const refused = (await sys.network.inventory.events(serial)).filter(
      (e) => e.action === 'simpleenroll',
    );
    expect(refused.map((e) => [e.outcome, e.code])).toEqual(
      Array(4).fill(['refused', 'ERR_CSR_KEY']),
    );
    // The same device with a fresh key: the refusals did not damage it.
    expect(
      (
        await conn.request('POST', '/.well-known/est/simpleenroll', {
          body: csrFor(generateP256Key(), serial),
          contentType: 'application/pkcs10',
        })
      ).status,
    ).toBe(200);
    await conn.close();
    await other.conn.close();
  });

  it("refuses at simplereenroll another device's keys and the device's own superseded or birth key; nothing issued", async () => {
    const victim = await onboarded();
    const me = await onboarded();
    const superseded = me.key;
    await me.agent.renew(sys.registrarUrl);
    const current = (await me.agent.onboardingCredentials())!;
    const before = await certRows();
    const conn = await ldevidConn(current);
    for (const key of [victim.key, victim.idevidKey, superseded, me.idevidKey]) {
      expectProblem(
        await conn.request('POST', '/.well-known/est/simplereenroll', {
          body: csrFor(key, me.serial),
          contentType: 'application/pkcs10',
        }),
        'ERR_CSR_KEY',
        400,
      );
    }
    expect(await certRows()).toEqual(before);
    expect((await sys.network.inventory.device(me.serial)).ldevid_serial).toBe(
      parseCertificateBase64(current.ldevid).serial,
    );
    await conn.close();
  });

  it('refuses a superseded key at simpleenroll when the device onboards again', async () => {
    const me = await onboarded();
    const old = me.key;
    const id = identityOf(await me.agent.birth());
    const conn = await connectAs(sys.registrarUrl, id);
    const { pvr } = pledgeVoucherRequest(c(), id, conn);
    expect((await postVoucherRequest(conn, pvr)).status).toBe(200);
    const before = await certRows();
    expectProblem(
      await conn.request('POST', '/.well-known/est/simpleenroll', {
        body: csrFor(old, me.serial),
        contentType: 'application/pkcs10',
      }),
      'ERR_CSR_KEY',
      400,
    );
    expect(await certRows()).toEqual(before);
    await conn.close();
  });

  it("keeps the identity of the LDevID that authenticated a renewal, whatever the request's subject; renews the same key", async () => {
    const victim = await onboarded();
    const me = await onboarded();
    const conn = await ldevidConn(me.creds);
    const res = await conn.request('POST', '/.well-known/est/simplereenroll', {
      body: csrFor(generateP256Key(), victim.serial),
      contentType: 'application/pkcs10',
    });
    expect(res.status, res.body).toBe(200);
    const renewed = parseCertificate(decodeCertsOnly(res.body)[0]!);
    expect(renewed.subjectSerialNumber).toBe(me.serial);
    expect(renewed.subject).not.toContain(victim.serial);
    expect(
      (await sys.network.inventory.certificates(victim.serial)).every(
        (r) => r.serial !== renewed.serial,
      ),
    ).toBe(true);
    await conn.close();

    // RFC 7030 renewal without rekeying: the current LDevID's own key is accepted.
    const sameKey = await PeerConnection.open(sys.registrarUrl, {
      cert: toPem('CERTIFICATE', fromBase64(me.creds.ldevid)!),
      key: toPem('PRIVATE KEY', fromBase64(me.creds.ldevidKey)!),
    });
    expectProblem(
      await sameKey.request('POST', '/.well-known/est/simplereenroll', {
        body: csrFor(me.key, me.serial),
        contentType: 'application/pkcs10',
      }),
      'ERR_CERT_REVOKED',
      403,
    );
    await sameKey.close();
  });

  it('renews with the current key (no rekey) and then refuses that key as superseded once a new key replaces it', async () => {
    const me = await onboarded();
    let conn = await ldevidConn(me.creds);
    const res = await conn.request('POST', '/.well-known/est/simplereenroll', {
      body: csrFor(me.key, me.serial),
      contentType: 'application/pkcs10',
    });
    await conn.close();
    expect(res.status, res.body).toBe(200);
    const renewed = parseCertificate(decodeCertsOnly(res.body)[0]!);
    const creds2 = { ldevid: toBase64(renewed.der), ldevidKey: me.creds.ldevidKey };
    conn = await ldevidConn(creds2);
    const fresh = generateP256Key();
    expect(
      (
        await conn.request('POST', '/.well-known/est/simplereenroll', {
          body: csrFor(fresh, me.serial),
          contentType: 'application/pkcs10',
        })
      ).status,
    ).toBe(200);
    await conn.close();
    const latest = await sys.network.inventory.device(me.serial);
    const certs = await sys.network.inventory.certificates(me.serial);
    expect(certs.filter((r) => r.revoked_at === null).map((r) => r.serial)).toEqual([
      latest.ldevid_serial,
    ]);
  });

  it("certifies P-384 and RSA-2048 keys with the domain CA's P-256 key, and refuses RSA-1024, Ed25519, P-521 with nothing issued", async () => {
    const { conn, serial } = await vouched();
    const before = await certRows();
    for (const spec of ['RSA-1024', 'Ed25519', 'P-521'] as const) {
      expectProblem(
        await conn.request('POST', '/.well-known/est/simpleenroll', {
          body: toBase64(testCsr(testKey(spec), serial)),
          contentType: 'application/pkcs10',
        }),
        'ERR_CSR_KEY',
        400,
      );
    }
    expect(await certRows()).toEqual(before);
    for (const spec of ['P-384', 'RSA-2048'] as const) {
      const key = testKey(spec);
      const res = await conn.request('POST', '/.well-known/est/simpleenroll', {
        body: toBase64(testCsr(key, serial)),
        contentType: 'application/pkcs10',
      });
      expect(res.status, res.body).toBe(200);
      const cert = parseCertificate(decodeCertsOnly(res.body)[0]!);
      expect(Buffer.from(cert.spki)).toEqual(Buffer.from(key.spki));
      expect(cert.signatureAlgorithm).toBe('1.2.840.10045.4.3.2');
      expect(
        sys.ctx.crypto.verifyCertificateSignature(cert.der, sys.network.pki.domainCa.cert.spki),
      ).toBe(true);
    }
    await conn.close();
  });
});
