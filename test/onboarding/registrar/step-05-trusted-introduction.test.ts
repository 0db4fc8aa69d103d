/** Steps 2 and 5 at the registrar: the voucher request, on an in-memory store and a fake channel. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestVoucher } from '../../../src/onboarding/registrar/step-05-trusted-introduction.js';
import {
  VOUCHER_COSE_MEDIA_TYPE,
  VOUCHER_JWS_MEDIA_TYPE,
} from '../../../src/protocols/voucher/codec.js';
import { utf8 } from '../../../src/core/bytes.js';
import { manufacturerPki } from '../../support/pki.js';
import { errorCode } from '../../support/wire.js';
import { registrarFixture, type Fixture } from './fixture.js';

describe('step 5: trusted introduction (requestvoucher)', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await registrarFixture();
  });
  afterAll(async () => f?.close());

  it('verifies the voucher as the device will, records the device vouched with its nonce, steps 2 and 5, and fetches the MASA audit log in the background', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    const nonce = await f.vouch(d, ch);
    expect(await f.deviceRow(serial)).toMatchObject({
      state: 'vouched',
      nonce,
      onboardings: 0,
      ldevidSerial: null,
    });
    expect(ch.served).toEqual([serial]);
    await Promise.all(f.background);
    const events = await f.events(serial);
    expect(events.map((e) => [e.step, e.action, e.outcome])).toEqual([
      [2, 'onboarding mode: device contacted the registrar', 'ok'],
      [5, 'voucher issued by the MASA and delivered', 'ok'],
      [null, 'masa audit log', 'ok'],
    ]);
    expect(JSON.parse(events[0]!.detail!)).toEqual({
      peer: '192.0.2.7',
      since: expect.any(String),
    });
    // The birth key is bound to the device: no CSR may reuse it.
    const fingerprint = Buffer.from(f.ctx.crypto.sha256(d.cert.spki)).toString('base64url');
    expect(await f.store.run((r) => r.credentials.keyKind(fingerprint))).toBe('idevid');
  });

  it('refuses a channel without a birth certificate, and records the refusal under no device', async () => {
    const before = (await f.anonymousEvents()).length;
    const code = await errorCode(() =>
      f.run(requestVoucher, f.channel(undefined), {
        request: { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8('{}') },
        format: VOUCHER_JWS_MEDIA_TYPE,
      }),
    );
    expect(code).toBe('ERR_IDEVID_MISSING');
    const after = await f.anonymousEvents();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({
      action: 'requestvoucher',
      outcome: 'refused',
      code: 'ERR_IDEVID_MISSING',
      step: null,
    });
  });

  it('refuses a birth certificate of no trusted manufacturer before asking any MASA', async () => {
    const other = await manufacturerPki('Other Maker');
    const d = await f.newDevice(other.idevidCa);
    const asked = f.masa.asked;
    expect(await errorCode(() => f.vouch(d, f.channel(d.cert)))).toBe('ERR_IDEVID_UNTRUSTED');
    expect(f.masa.asked).toBe(asked);
    expect(await f.deviceRow(d.cert.subjectSerialNumber!)).toBeUndefined();
  });

  it('refuses a format it cannot carry before asking the MASA (ERR_VOUCHER_FORMAT)', async () => {
    const d = await f.newDevice();
    const asked = f.masa.asked;
    const code = await errorCode(() =>
      f.run(requestVoucher, f.channel(d.cert), {
        request: { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8('{}') },
        format: VOUCHER_COSE_MEDIA_TYPE,
      }),
    );
    expect(code).toBe('ERR_VOUCHER_FORMAT');
    expect(f.masa.asked).toBe(asked);
    expect(
      (await f.events(d.cert.subjectSerialNumber!)).map((e) => [e.action, e.outcome, e.code]),
    ).toEqual([['requestvoucher', 'refused', 'ERR_VOUCHER_FORMAT']]);
  });

  it('refuses a voucher that pins another domain (ERR_VOUCHER_OTHER_DOMAIN), and records no device', async () => {
    const d = await f.newDevice();
    f.masa.pin = f.maker.root.cert;
    try {
      expect(await errorCode(() => f.vouch(d, f.channel(d.cert)))).toBe('ERR_VOUCHER_OTHER_DOMAIN');
    } finally {
      f.masa.pin = undefined;
    }
    const serial = d.cert.subjectSerialNumber!;
    expect(await f.deviceRow(serial)).toBeUndefined();
    expect((await f.events(serial)).map((e) => [e.step, e.outcome, e.code])).toEqual([
      [null, 'refused', 'ERR_VOUCHER_OTHER_DOMAIN'],
    ]);
  });

  it('a device onboards again from any state: a new voucher, a new nonce', async () => {
    const d = await f.newDevice();
    const first = await f.vouch(d, f.channel(d.cert));
    const second = await f.vouch(d, f.channel(d.cert));
    expect(second).not.toBe(first);
    expect(await f.deviceRow(d.cert.subjectSerialNumber!)).toMatchObject({
      state: 'vouched',
      nonce: second,
    });
  });
});
