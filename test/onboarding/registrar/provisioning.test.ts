/**
 * Step 15 (simpleenroll, wifi), renewal (simplereenroll) and the enrollment status at the
 * registrar: the state machine, the keys it certifies, the per-connection rule, on an
 * in-memory store and a fake channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleEnroll, wifi } from '../../../src/onboarding/registrar/step-15-provisioning.js';
import { simpleReenroll } from '../../../src/onboarding/registrar/renewal.js';
import { enrollStatus } from '../../../src/onboarding/registrar/enrollment-status.js';
import { buildCsr } from '../../../src/protocols/est/csr.js';
import type { PrivateKeyHandle } from '../../../src/core/ports.js';
import { toBase64 } from '../../../src/core/bytes.js';
import { errorCode } from '../../support/wire.js';
import { registrarFixture, type Fixture } from './fixture.js';

describe('step 15, renewal and enrollment status', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await registrarFixture();
  });
  afterAll(async () => f?.close());

  const csr = (key: PrivateKeyHandle, name = 'device') =>
    toBase64(buildCsr(f.ctx.crypto, key, name));

  it('enroll before a voucher: ERR_REGISTRAR_SEQUENCE, and nothing recorded but the refusal', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    expect(await errorCode(() => f.run(simpleEnroll, f.channel(d.cert), csr(f.newKey())))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    expect((await f.events(serial)).map((e) => [e.step, e.action, e.outcome, e.code])).toEqual([
      [null, 'simpleenroll', 'refused', 'ERR_REGISTRAR_SEQUENCE'],
    ]);
    expect(await f.deviceRow(serial)).toBeUndefined();
    expect(await f.certificates(serial)).toEqual([]);
  });

  it("a CSR with the network's own key, or the device's birth key: ERR_CSR_KEY, and no certificate", async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    await f.vouch(d, f.channel(d.cert));
    expect(
      await errorCode(() => f.run(simpleEnroll, f.channel(d.cert), csr(f.registrar.key))),
    ).toBe('ERR_CSR_KEY');
    expect(await errorCode(() => f.run(simpleEnroll, f.channel(d.cert), csr(f.domainCa.key)))).toBe(
      'ERR_CSR_KEY',
    );
    expect(await errorCode(() => f.run(simpleEnroll, f.channel(d.cert), csr(d.key)))).toBe(
      'ERR_CSR_KEY',
    );
    expect(await f.certificates(serial)).toEqual([]);
    expect(await f.deviceRow(serial)).toMatchObject({ state: 'vouched', ldevidSerial: null });
  });

  it('the onboarding: an LDevID and a PSK on one connection, then success on it: onboarded', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.vouch(d, ch);
    const cert = await f.run(simpleEnroll, ch, csr(f.newKey()));
    expect(cert.subjectSerialNumber).toBe(serial);
    const psk = await f.run(wifi, ch, undefined);
    expect(f.ctx.issuedOn.get(ch.connection)).toEqual({ ldevid: cert.serial, psk: psk.id });
    expect(await f.deviceRow(serial)).toMatchObject({
      state: 'provisioned',
      ldevidSerial: cert.serial,
      pskId: psk.id,
    });
    await f.run(enrollStatus, ch, { version: 1, status: true });
    expect(await f.deviceRow(serial)).toMatchObject({ state: 'onboarded', onboardings: 1 });
    const trail = (await f.events(serial))
      .slice(2)
      .filter((e) => e.action !== 'masa audit log')
      .map((e) => [e.step, e.action, e.outcome, JSON.parse(e.detail!)]);
    expect(trail).toEqual([
      // A pledge that does not sign its status is authorized (step 8) before its first credential.
      [
        8,
        'authorization policy: decision',
        'ok',
        {
          decision: 'allow',
          segment: 'default',
          rule: 'every-trusted-device',
          policy: 'test-policy',
          reasons: 'rule every-trusted-device allows into segment default',
        },
      ],
      [15, 'simpleenroll', 'ok', { ldevid: cert.serial }],
      [15, 'wifi', 'ok', { psk: psk.id }],
      [null, 'enrollstatus', 'ok', { status: true, reason: null, via: 'idevid' }],
    ]);
    // Onboarded, the device renews (simplereenroll): enrolling again is out of sequence.
    expect(await errorCode(() => f.run(simpleEnroll, ch, csr(f.newKey())))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
  });

  it('enrollstatus success on a connection that issued nothing: ERR_REGISTRAR_SEQUENCE, and the device stays provisioned', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.vouch(d, ch);
    await f.run(simpleEnroll, ch, csr(f.newKey()));
    expect(
      await errorCode(() => f.run(enrollStatus, f.channel(d.cert), { version: 1, status: true })),
    ).toBe('ERR_REGISTRAR_SEQUENCE');
    expect((await f.deviceRow(serial))!.state).toBe('provisioned');
    expect((await f.events(serial)).at(-1)).toMatchObject({
      action: 'enrollstatus',
      outcome: 'refused',
      code: 'ERR_REGISTRAR_SEQUENCE',
    });
  });

  it('a failure report ends the onboarding: failed, the credentials issued stay; a new voucher starts again', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.vouch(d, ch);
    await f.run(simpleEnroll, ch, csr(f.newKey()));
    await f.run(enrollStatus, ch, { version: 1, status: false, reason: 'no network' });
    expect((await f.deviceRow(serial))!.state).toBe('failed');
    expect((await f.events(serial)).at(-1)).toMatchObject({
      action: 'enrollstatus',
      outcome: 'error',
    });
    expect(await errorCode(() => f.run(simpleEnroll, ch, csr(f.newKey())))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    await f.vouch(d, f.channel(d.cert));
    expect((await f.deviceRow(serial))!.state).toBe('vouched');
  });

  it('renewal with the current LDevID, in whatever state; a superseded LDevID is ERR_CERT_REVOKED; none is ERR_LDEVID_MISSING', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.vouch(d, ch);
    const key = f.newKey();
    const first = await f.run(simpleEnroll, ch, csr(key));
    await f.run(enrollStatus, ch, { version: 1, status: true });
    // Renewal keeping the key, on a connection authenticated by the LDevID.
    const renewed = await f.run(simpleReenroll, f.channel(first), csr(key));
    expect(renewed.subjectSerialNumber).toBe(serial);
    expect(await f.deviceRow(serial)).toMatchObject({
      state: 'onboarded',
      ldevidSerial: renewed.serial,
    });
    expect(await errorCode(() => f.run(simpleReenroll, f.channel(first), csr(f.newKey())))).toBe(
      'ERR_CERT_REVOKED',
    );
    // Refused before a device is known: recorded under none, with the certificate it came with.
    const revoked = (await f.anonymousEvents()).at(-1)!;
    expect([revoked.action, revoked.code, JSON.parse(revoked.detail!).certificate]).toEqual([
      'simplereenroll',
      'ERR_CERT_REVOKED',
      first.serial,
    ]);
    expect(
      await errorCode(() => f.run(simpleReenroll, f.channel(undefined), csr(f.newKey()))),
    ).toBe('ERR_LDEVID_MISSING');
    expect(
      await errorCode(() => f.run(simpleReenroll, f.channel(renewed), csr(f.registrar.key))),
    ).toBe('ERR_CSR_KEY');
    // Success over the new LDevID's connection: recorded, via the LDevID.
    await f.run(enrollStatus, f.channel(renewed), { version: 1, status: true });
    const last = (await f.events(serial)).at(-1)!;
    expect([last.action, last.outcome, JSON.parse(last.detail!).via]).toEqual([
      'enrollstatus',
      'ok',
      'ldevid',
    ]);
    expect(
      (await f.events(serial))
        .filter((e) => e.action === 'simplereenroll')
        .map((e) => [e.step, e.outcome, e.code]),
    ).toEqual([
      [null, 'ok', null],
      [null, 'refused', 'ERR_CSR_KEY'],
    ]);
  });
});
