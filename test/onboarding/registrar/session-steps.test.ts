/**
 * Steps 6, 7 and 14 at the registrar, in the device's onboarding session: what each requires
 * of the state machine, what it records, on an in-memory store and a fake channel.
 */
import type { EventRecord } from '../../../src/core/store.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaration } from '../../../src/onboarding/registrar/step-06-declaration.js';
import {
  deviceAuthentication,
  voucherStatus,
} from '../../../src/onboarding/registrar/step-07-device-authentication.js';
import { appBootstrap } from '../../../src/onboarding/registrar/step-14-app-bootstrap.js';
import { signVoucherStatus } from '../../../src/protocols/brski/status.js';
import { errorCode } from '../../support/wire.js';
import { registrarFixture, type Fixture } from './fixture.js';

describe('the session steps: 6 (declaration), 7 (device authentication), 14 (application bootstrap)', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await registrarFixture();
  });
  afterAll(async () => f?.close());

  const actions = async (serial: string) =>
    (await f.events(serial)).map((e) => [e.step, e.action, e.outcome, e.code]);

  it('before a voucher, every session step is ERR_REGISTRAR_SEQUENCE, recorded under the serial the certificate claims', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    expect(await errorCode(() => f.run(declaration, f.channel(d.cert), undefined))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    expect(await errorCode(() => f.run(appBootstrap, f.channel(d.cert), {}))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    expect(
      await errorCode(() => f.run(voucherStatus, f.channel(d.cert), { version: 1, status: true })),
    ).toBe('ERR_REGISTRAR_SEQUENCE');
    expect(await actions(serial)).toEqual([
      [null, 'declaration', 'refused', 'ERR_REGISTRAR_SEQUENCE'],
      [null, 'app-bootstrap', 'refused', 'ERR_REGISTRAR_SEQUENCE'],
      [null, 'voucher_status', 'refused', 'ERR_REGISTRAR_SEQUENCE'],
    ]);
    expect(await f.deviceRow(serial)).toBeUndefined();
  });

  it('step 6: the declaration chain from its source, for the vouched device', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    await f.vouch(d, f.channel(d.cert));
    expect(await f.run(declaration, f.channel(d.cert), undefined)).toEqual(f.declarations.chain);
    expect(f.declarations.fetched.at(-1)).toBe(serial);
    expect((await actions(serial)).at(-1)).toEqual([6, 'declaration', 'ok', null]);
  });

  it('step 7: a status signed with the IDevID over the nonce and this channel authenticates the device', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    const nonce = await f.vouch(d, ch);
    const jose = signVoucherStatus(f.ctx.crypto, d.key, d.cert, {
      ok: true,
      reason: 'accepted',
      nonce,
      channelBinding: new Uint8Array(32).fill(7),
    });
    expect(await f.run(deviceAuthentication, ch, jose)).toMatchObject({
      status: true,
      authenticated: true,
    });
    expect((await f.deviceRow(serial))!.state).toBe('authenticated');
    // Step 7, then step 8: the policy's decision, recorded after the device authenticated.
    const [last, decision] = (await f.events(serial)).slice(-2) as [EventRecord, EventRecord];
    expect([decision.step, decision.action, decision.outcome]).toEqual([
      8,
      'authorization policy: decision',
      'ok',
    ]);
    expect(await f.deviceRow(serial)).toMatchObject({ authorizedAt: expect.any(String) });
    expect([last.step, last.action, last.outcome]).toEqual([7, 'voucher_status', 'ok']);
    expect(JSON.parse(last.detail!)).toEqual({
      status: true,
      reason: 'accepted',
      format: 'jose',
      authenticated: true,
    });
  });

  it('step 7: a signed status bound to another channel is refused; the device stays vouched, and the refusal is all that is recorded', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const nonce = await f.vouch(d, f.channel(d.cert));
    const jose = signVoucherStatus(f.ctx.crypto, d.key, d.cert, {
      ok: true,
      reason: 'accepted',
      nonce,
      channelBinding: new Uint8Array(32).fill(8),
    });
    const before = (await f.events(serial)).length;
    expect(await errorCode(() => f.run(deviceAuthentication, f.channel(d.cert), jose))).toBe(
      'ERR_REGISTRAR_BINDING',
    );
    expect((await f.deviceRow(serial))!.state).toBe('vouched');
    expect((await f.events(serial)).slice(before).map((e) => [e.step, e.outcome, e.code])).toEqual([
      [null, 'refused', 'ERR_REGISTRAR_BINDING'],
    ]);
  });

  it('the RFC 8995 JSON voucher status is telemetry: recorded, it changes no state', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    await f.vouch(d, f.channel(d.cert));
    expect(
      await f.run(voucherStatus, f.channel(d.cert), {
        version: 1,
        status: false,
        reason: 'r'.repeat(300),
      }),
    ).toMatchObject({ status: false, authenticated: false });
    expect((await f.deviceRow(serial))!.state).toBe('vouched');
    const last = (await f.events(serial)).at(-1)!;
    expect([last.step, last.outcome]).toEqual([null, 'error']);
    expect(JSON.parse(last.detail!)).toEqual({
      status: false,
      reason: 'r'.repeat(256),
      format: 'json',
      authenticated: false,
    });
    expect(await errorCode(() => f.run(voucherStatus, f.channel(d.cert), { version: 'one' }))).toBe(
      'ERR_INPUT_SCHEMA',
    );
  });

  it('step 14: the application server and its trust anchor, for a JSON object only', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    await f.vouch(d, f.channel(d.cert));
    expect(await f.run(appBootstrap, f.channel(d.cert), { model: 'm1' })).toEqual({
      applicationUrl: 'https://app.example/',
      trustAnchor: 'PEM',
    });
    expect(
      await errorCode(() => f.run(appBootstrap, f.channel(d.cert), ['not', 'an', 'object'])),
    ).toBe('ERR_INPUT_SCHEMA');
    expect((await actions(serial)).slice(-2)).toEqual([
      [14, 'app-bootstrap', 'ok', null],
      [null, 'app-bootstrap', 'refused', 'ERR_INPUT_SCHEMA'],
    ]);
  });
});
