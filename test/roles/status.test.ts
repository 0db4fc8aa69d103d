/**
 * Voucher status (RFC 8995 section 5.7) and enrollment status (section 5.9.4) as telemetry:
 * recorded in the audit trail, never a gate for EST. Airlock's signed, channel-bound voucher
 * status stays an optional extension that is verified when it comes. Refusals before a device
 * is known are in the audit trail too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { generateP256Key, privateKeyPem } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr } from '../../src/protocols/est/csr.js';
import { decodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import {
  CHANNEL_BINDING_LABEL,
  CHANNEL_BINDING_LENGTH,
  signVoucherStatus,
} from '../../src/protocols/brski/status.js';
import { toBase64, toPem } from '../../src/core/bytes.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import {
  connectAs,
  expectProblem,
  identityOf,
  pledgeVoucherRequest,
  postVoucherRequest,
  type DeviceIdentity,
} from '../support/wire.js';
import { device as mintForeign, manufacturerPki } from '../support/pki.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';

describe('status telemetry and the audit trail', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    // The devices here are raw protocol clients that present no attestation evidence.
    sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
  });
  afterAll(async () => sys?.close());

  const c = () => sys.ctx.crypto;
  const json = (o: unknown) => ({ body: JSON.stringify(o), contentType: 'application/json' });
  const enroll = (conn: PeerConnection, serial: string) =>
    conn.request('POST', '/.well-known/est/simpleenroll', {
      body: toBase64(buildCsr(c(), generateP256Key(), serial)),
      contentType: 'application/pkcs10',
    });

  async function vouched(): Promise<{
    id: DeviceIdentity;
    conn: PeerConnection;
    serial: string;
    nonce: string;
  }> {
    const { agent, serial } = await sys.newDevice();
    const id = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, id);
    const { pvr, nonce } = pledgeVoucherRequest(c(), id, conn);
    expect((await postVoucherRequest(conn, pvr)).status).toBe(200);
    return { id, conn, serial, nonce };
  }
  const events = async (serial: string, action: string) =>
    (await sys.network.inventory.events(serial)).filter((e) => e.action === action);

  it('records an RFC 8995 JSON voucher status, success or failure, and gates nothing on it', async () => {
    const { conn, serial } = await vouched();
    expect(
      (
        await conn.request(
          'POST',
          '/.well-known/brski/voucher_status',
          json({ version: 1, status: false, reason: 'just testing', 'reason-context': { a: 1 } }),
        )
      ).status,
    ).toBe(200);
    expect(
      (
        await conn.request(
          'POST',
          '/.well-known/brski/voucher_status',
          json({ version: 1, status: true, reason: 'ok' }),
        )
      ).status,
    ).toBe(200);
    const recorded = await events(serial, 'voucher_status');
    expect(
      recorded.map((e) => [e.outcome, JSON.parse(e.detail!).status, JSON.parse(e.detail!).format]),
    ).toEqual([
      ['error', false, 'json'],
      ['ok', true, 'json'],
    ]);
    expect((await sys.network.inventory.device(serial)).state).toBe('vouched');
    // A malformed status is refused (and recorded); it changes nothing either.
    expectProblem(
      await conn.request(
        'POST',
        '/.well-known/brski/voucher_status',
        json({ version: 'one', status: 'yes' }),
      ),
      'ERR_INPUT_SCHEMA',
      400,
    );
    expect((await events(serial, 'voucher_status')).at(-1)).toMatchObject({
      outcome: 'refused',
      code: 'ERR_INPUT_SCHEMA',
    });
    expect((await enroll(conn, serial)).status).toBe(200);
    await conn.close();
  });

  it('refuses and records a signed status bound to another channel; the device may still enroll', async () => {
    const { id, conn, serial, nonce } = await vouched();
    const elsewhere = await connectAs(sys.registrarUrl, id);
    const wrong = signVoucherStatus(c(), id.key, id.idevid, {
      ok: true,
      reason: 'x',
      nonce,
      channelBinding: elsewhere.exportKeyingMaterial(CHANNEL_BINDING_LENGTH, CHANNEL_BINDING_LABEL),
    });
    await elsewhere.close();
    expectProblem(
      await conn.request('POST', '/.well-known/brski/voucher_status', {
        body: wrong,
        contentType: 'application/jose',
      }),
      'ERR_REGISTRAR_BINDING',
      403,
    );
    expect((await events(serial, 'voucher_status')).at(-1)).toMatchObject({
      outcome: 'refused',
      code: 'ERR_REGISTRAR_BINDING',
    });
    expect((await sys.network.inventory.device(serial)).state).toBe('vouched');
    // The right one authenticates the device on this channel (step 7, Airlock's extension).
    const right = signVoucherStatus(c(), id.key, id.idevid, {
      ok: true,
      reason: 'x',
      nonce,
      channelBinding: conn.exportKeyingMaterial(CHANNEL_BINDING_LENGTH, CHANNEL_BINDING_LABEL),
    });
    expect(
      (
        await conn.request('POST', '/.well-known/brski/voucher_status', {
          body: right,
          contentType: 'application/jose',
        })
      ).status,
    ).toBe(200);
    expect((await sys.network.inventory.device(serial)).state).toBe('authenticated');
    expect((await events(serial, 'voucher_status')).at(-1)).toMatchObject({
      outcome: 'ok',
      step: 7,
    });
    expect((await enroll(conn, serial)).status).toBe(200);
    await conn.close();
  });

  it('accepts enrollment status on a new connection authenticated with the new LDevID', async () => {
    const { agent, serial } = await sys.newDevice();
    const id = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, id);
    const { pvr } = pledgeVoucherRequest(c(), id, conn);
    expect((await postVoucherRequest(conn, pvr)).status).toBe(200);
    const key = generateP256Key();
    const res = await conn.request('POST', '/.well-known/est/simpleenroll', {
      body: toBase64(buildCsr(c(), key, serial)),
      contentType: 'application/pkcs10',
    });
    await conn.close();
    const ldevid = decodeCertsOnly(res.body)[0]!;
    const withLdevid = await PeerConnection.open(sys.registrarUrl, {
      cert: toPem('CERTIFICATE', ldevid),
      key: privateKeyPem(key),
    });
    // Success is only believed of a provisioned device: not repeated into a second onboarding.
    expect(
      (
        await withLdevid.request(
          'POST',
          '/.well-known/brski/enrollstatus',
          json({ version: 1, status: true, reason: 'installed' }),
        )
      ).status,
    ).toBe(200);
    const d = await sys.network.inventory.device(serial);
    expect([d.state, d.onboardings]).toEqual(['onboarded', 1]);
    expect(
      (
        await withLdevid.request(
          'POST',
          '/.well-known/brski/enrollstatus',
          json({ version: 1, status: true }),
        )
      ).status,
    ).toBe(200);
    expect((await sys.network.inventory.device(serial)).onboardings).toBe(1);
    expect((await events(serial, 'enrollstatus')).map((e) => JSON.parse(e.detail!).via)).toEqual([
      'ldevid',
      'ldevid',
    ]);

    // A failure report afterwards is recorded; it does not erase what was issued.
    expect(
      (
        await withLdevid.request(
          'POST',
          '/.well-known/brski/enrollstatus',
          json({ version: 1, status: false, reason: 'EAP-TLS failed' }),
        )
      ).status,
    ).toBe(200);
    await withLdevid.close();
    const after = await sys.network.inventory.device(serial);
    expect([after.state, after.ldevid_serial]).toEqual(['onboarded', d.ldevid_serial]);
    expect((await sys.network.inventory.certificates(serial)).map((r) => r.revoked_at)).toEqual([
      null,
    ]);
    expect((await events(serial, 'enrollstatus')).at(-1)).toMatchObject({ outcome: 'error' });
  });

  it('records a failure report in any state (no ERR_REGISTRAR_SEQUENCE), but refuses a success report before credentials', async () => {
    const { conn, serial } = await vouched();
    expectProblem(
      await conn.request(
        'POST',
        '/.well-known/brski/enrollstatus',
        json({ version: 1, status: true }),
      ),
      'ERR_REGISTRAR_SEQUENCE',
      409,
    );
    expect(
      (
        await conn.request(
          'POST',
          '/.well-known/brski/enrollstatus',
          json({ version: 1, status: false, reason: 'gave up' }),
        )
      ).status,
    ).toBe(200);
    expect((await sys.network.inventory.device(serial)).state).toBe('failed');
    // Failed: reported again, still recorded; EST is closed until a new voucher.
    expect(
      (
        await conn.request(
          'POST',
          '/.well-known/brski/enrollstatus',
          json({ version: 1, status: false }),
        )
      ).status,
    ).toBe(200);
    expectProblem(await enroll(conn, serial), 'ERR_REGISTRAR_SEQUENCE', 409);
    expect((await events(serial, 'enrollstatus')).map((e) => [e.outcome, e.code])).toEqual([
      ['refused', 'ERR_REGISTRAR_SEQUENCE'],
      ['error', null],
      ['error', null],
    ]);
    await conn.close();

    // Provisioned, then a failure: 'failed', and the LDevID and PSK issued are still there.
    const p = await vouched();
    expect((await enroll(p.conn, p.serial)).status).toBe(200);
    expect((await p.conn.request('POST', '/.well-known/airlock/wifi')).status).toBe(200);
    const before = await sys.network.inventory.device(p.serial);
    expect(
      (
        await p.conn.request(
          'POST',
          '/.well-known/brski/enrollstatus',
          json({ version: 1, status: false }),
        )
      ).status,
    ).toBe(200);
    const after = await sys.network.inventory.device(p.serial);
    expect([after.state, after.ldevid_serial, after.psk_id]).toEqual([
      'failed',
      before.ldevid_serial,
      before.psk_id,
    ]);
    expect((await sys.network.inventory.certificates(p.serial)).map((r) => r.revoked_at)).toEqual([
      null,
    ]);
    await p.conn.close();
  });

  it('records refusals of an untrusted birth certificate with no serial, naming the peer and the certificate', async () => {
    const foreign = await manufacturerPki('Rogue Maker');
    const cert = await mintForeign(foreign.idevidCa, 'ROGUE-1');
    const conn = await PeerConnection.open(sys.registrarUrl, {
      cert: toPem('CERTIFICATE', cert.cert.der) + toPem('CERTIFICATE', foreign.idevidCa.cert.der),
      key: privateKeyPem(cert.key),
    });
    const before = await sys.network.db
      .selectFrom('net_events')
      .select('id')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    expectProblem(
      await conn.request('POST', '/.well-known/brski/requestvoucher', {
        body: 'x.y.z',
        contentType: 'application/voucher-jws+json',
      }),
      'ERR_IDEVID_UNTRUSTED',
      403,
    );
    expectProblem(await enroll(conn, 'ROGUE-1'), 'ERR_REGISTRAR_SEQUENCE', 409);
    await conn.close();
    const rows = await sys.network.db
      .selectFrom('net_events')
      .selectAll()
      .where('id', '>', before?.id ?? 0)
      .orderBy('id')
      .execute();
    const voucher = rows.find((r) => r.action === 'requestvoucher')!;
    expect(voucher).toMatchObject({
      device_serial: null,
      outcome: 'refused',
      code: 'ERR_IDEVID_UNTRUSTED',
    });
    const detail = JSON.parse(voucher.detail!) as Record<string, string>;
    expect(detail.peer).toBe('127.0.0.1');
    expect(detail.subject).toContain('ROGUE-1');
    expect(detail.issuer).toContain('Rogue Maker IDevID CA');
    expect(detail.certificate).toBe(cert.cert.serial);
    expect(rows.find((r) => r.action === 'simpleenroll')).toMatchObject({
      outcome: 'refused',
      code: 'ERR_REGISTRAR_SEQUENCE',
    });
    expect(
      await sys.network.db
        .selectFrom('net_devices')
        .selectAll()
        .where('serial', '=', 'ROGUE-1')
        .execute(),
    ).toEqual([]);
  });
});
