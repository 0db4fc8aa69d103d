/**
 * Steps 2 to 4 at the registrar, on the pure step modules with a fake verification service:
 * evidence bound to the device's channel is appraised in a session for the channel's nonce,
 * once per connection; a challenge opens a session and records the device `attesting`; the result is read for
 * this device only; a session is used once; the policy decides; a refused device cannot skip
 * to the voucher; a verifier that fails leaves the device where it was.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { registrarFixture } from './fixture.js';

type RegistrarFixture = Awaited<ReturnType<typeof registrarFixture>>;
import { errorCode } from '../../support/errors.js';
import { applyPolicyTo } from '../../support/policies.js';
import {
  attestationChallenge,
  attestationEvidence,
} from '../../../src/onboarding/registrar/step-03-attestation.js';
import { attestationNonce } from '../../../src/protocols/airlock/messages.js';
import { toBase64Url } from '../../../src/core/bytes.js';
import type {
  Channel,
  VerifierPort,
  VerifierSession,
} from '../../../src/onboarding/registrar/ports.js';
import type { EarClaims, EarStatus } from '../../../src/protocols/ear/claims.js';
import { AirlockError } from '../../../src/core/errors.js';
import { signEat } from '../../../src/protocols/eat/token.js';
import { crypto } from '../../support/pki.js';

const MEDIA = 'application/eat+jwt; eat_profile="tag:airlock.example,2026:eat/device/1"';

/** What the fake verifier answers next, and what it was asked. */
interface FakeVerifier extends VerifierPort {
  next: (session: VerifierSession) => EarClaims;
  fail?: AirlockError;
  opened: number;
  /** The nonce asked for at each session opened (undefined: the verifier's choice). */
  asked: Array<string | undefined>;
  appraised: number;
}

function ear(
  session: VerifierSession,
  status: EarStatus,
  annotated?: Record<string, unknown>,
): EarClaims {
  return {
    eat_profile: 'tag:github.com,2023:veraison/ear',
    iat: 1,
    'ear.verifier-id': { developer: 'test', build: 'test' },
    eat_nonce: session.nonce,
    submods: {
      device: {
        'ear.status': status,
        ...(annotated ? { 'ear.veraison.annotated-evidence': annotated } : {}),
      },
    },
  };
}

describe('steps 2 to 4 at the registrar', () => {
  let f: RegistrarFixture;
  let verifier: FakeVerifier;
  beforeEach(async () => {
    f = await registrarFixture();
    let n = 0;
    verifier = {
      opened: 0,
      asked: [],
      appraised: 0,
      next: (s) => ear(s, 'affirming'),
      async openSession(nonce?: string) {
        this.opened++;
        this.asked.push(nonce);
        return {
          url: `https://verifier.example/session/${++n}`,
          nonce: nonce ?? `nonce-${n}-aaaaaaaaaaaaaaaa`,
          expiry: '2030-01-01T00:00:00Z',
          accept: [MEDIA],
        };
      },
      async appraise(session) {
        this.appraised++;
        if (this.fail) throw this.fail;
        return { claims: this.next(session), jwt: `ear-for-${session.url}` };
      },
    };
    f.ctx.verifier = verifier;
  });

  /** A token naming `serial` (its x5c leaf): the registrar only reads it, the verifier judges it. */
  const tokenOf = (d: Awaited<ReturnType<RegistrarFixture['newDevice']>>) =>
    signEat(crypto, d.key, [d.cert], { eat_nonce: 'x' });

  /** The device's evidence, a token naming `d`, submitted on `ch` (step 3). */
  const submit = (ch: Channel, d: Awaited<ReturnType<RegistrarFixture['newDevice']>>) =>
    f.run(attestationEvidence, ch, { mediaType: MEDIA, evidence: tokenOf(d) });

  it('a challenge opens a verifier session and records the device attesting, step 2', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    const c = await f.run(attestationChallenge, ch, undefined);
    expect(c).toEqual({
      nonce: 'nonce-1-aaaaaaaaaaaaaaaa',
      expiry: '2030-01-01T00:00:00Z',
      accept: [MEDIA],
    });
    expect(await f.deviceRow(serial)).toMatchObject({ state: 'attesting', nonce: null });
    expect((await f.events(serial)).map((e) => [e.step, e.outcome])).toEqual([[2, 'ok']]);
  });

  it('an affirming result admits the device: attested, steps 3 and 4, the EAR and the decision stored', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.run(attestationChallenge, ch, undefined);
    const party = f.ctx.manufacturers.partyOf(f.trust);
    verifier.next = (s) => ear(s, 'affirming', { 'serial-number': serial, manufacturer: party.id });
    const out = await submit(ch, d);
    expect(out).toMatchObject({ admitted: true, status: 'affirming' });
    expect(await f.deviceRow(serial)).toMatchObject({
      state: 'attested',
      attestationStatus: 'affirming',
      attestationSession: null,
    });
    const trail = (await f.events(serial)).map((e) => [e.step, e.outcome]);
    expect(trail).toEqual([
      [2, 'ok'],
      [3, 'ok'],
      [4, 'ok'],
    ]);
    // The session is used once: the same evidence again is out of sequence, and not forwarded.
    const before = verifier.appraised;
    expect(await errorCode(() => submit(ch, d))).toBe('ERR_REGISTRAR_SEQUENCE');
    expect(verifier.appraised).toBe(before);
  });

  it('a result annotated as about another device, or another manufacturer, is contraindicated whatever it says', async () => {
    const party = f.ctx.manufacturers.partyOf(f.trust);
    for (const annotated of [
      { 'serial-number': 'SOMEONE-ELSE', manufacturer: party.id },
      { 'serial-number': 'to be replaced', manufacturer: 'another-maker' },
    ]) {
      const d = await f.newDevice();
      const serial = d.cert.subjectSerialNumber!;
      const ch = f.channel(d.cert);
      await f.run(attestationChallenge, ch, undefined);
      verifier.next = (s) =>
        ear(s, 'affirming', {
          ...annotated,
          'serial-number':
            annotated['serial-number'] === 'to be replaced' ? serial : annotated['serial-number'],
        });
      expect(await errorCode(() => submit(ch, d))).toBe('ERR_ATTESTATION_REFUSED');
      expect(await f.deviceRow(serial)).toMatchObject({
        state: 'refused',
        attestationStatus: 'contraindicated',
      });
      expect(await f.certificates(serial)).toEqual([]);
    }
  });

  it("to a verifier that says whom its results are about, such evidence goes, and the result's annotation refuses it", async () => {
    const annotating: FakeVerifier = Object.assign(verifier, { annotates: true });
    const d = await f.newDevice();
    const other = await f.newDevice();
    const party = f.ctx.manufacturers.partyOf(f.trust);
    // What an annotating verifier says of a token signed by `other`: that it is about `other`.
    annotating.next = (s) =>
      ear(s, 'affirming', {
        'serial-number': other.cert.subjectSerialNumber!,
        manufacturer: party.id,
      });
    expect(await errorCode(() => submit(f.channel(d.cert), other))).toBe('ERR_ATTESTATION_REFUSED');
    expect(annotating.appraised).toBe(1);
    expect(await f.deviceRow(d.cert.subjectSerialNumber!)).toMatchObject({
      state: 'refused',
      attestationStatus: 'contraindicated',
    });
  });

  it('evidence that names another device is not forwarded; the device is refused', async () => {
    const d = await f.newDevice();
    const other = await f.newDevice();
    const ch = f.channel(d.cert);
    await f.run(attestationChallenge, ch, undefined);
    expect(await errorCode(() => submit(ch, other))).toBe('ERR_ATTESTATION_REFUSED');
    expect(verifier.appraised).toBe(0);
    expect((await f.deviceRow(d.cert.subjectSerialNumber!))!.state).toBe('refused');
  });

  it('a refused device cannot skip to the voucher; it may attest again', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.run(attestationChallenge, ch, undefined);
    verifier.next = (s) => ear(s, 'contraindicated');
    expect(await errorCode(() => submit(ch, d))).toBe('ERR_ATTESTATION_REFUSED');
    expect(await errorCode(() => f.vouch(d, ch))).toBe('ERR_REGISTRAR_SEQUENCE');
    expect(f.masa.asked).toBe(0);
    // A new challenge, good evidence: attested, and then the voucher.
    await f.run(attestationChallenge, ch, undefined);
    verifier.next = (s) => ear(s, 'affirming');
    await submit(ch, d);
    await f.vouch(d, ch);
    expect((await f.deviceRow(serial))!.state).toBe('vouched');
  });

  it('a result the policy does not accept is ERR_POLICY_DENIED; a verifier that fails leaves the device attesting', async () => {
    await applyPolicyTo(
      f.store,
      'version: 1\nrules:\n  - name: only-affirmed\n    require: { attestation: [affirming] }\n',
      'strict',
    );
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    await f.run(attestationChallenge, ch, undefined);
    verifier.next = (s) => ear(s, 'warning');
    expect(await errorCode(() => submit(ch, d))).toBe('ERR_POLICY_DENIED');
    expect(await f.deviceRow(serial)).toMatchObject({
      state: 'refused',
      attestationStatus: 'warning',
    });

    const e = await f.newDevice();
    const ch2 = f.channel(e.cert);
    await f.run(attestationChallenge, ch2, undefined);
    verifier.fail = new AirlockError('ERR_VERIFIER_UNREACHABLE');
    expect(await errorCode(() => submit(ch2, e))).toBe('ERR_VERIFIER_UNREACHABLE');
    expect((await f.deviceRow(e.cert.subjectSerialNumber!))!.state).toBe('attesting');
    expect((await f.events(e.cert.subjectSerialNumber!)).at(-1)).toMatchObject({
      outcome: 'refused',
      code: 'ERR_VERIFIER_UNREACHABLE',
    });
  });

  it("evidence with no challenge is bound to the channel: a session for the channel's nonce, steps 2 to 4 recorded at once", async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const exported = new Uint8Array(32).fill(0xa5);
    const ch = f.channel(d.cert, exported);
    const out = await submit(ch, d);
    expect(out).toMatchObject({ admitted: true, status: 'affirming' });
    // The nonce is the channel's exported keying material, base64url: nothing else could be asked.
    expect(verifier.asked).toEqual([attestationNonce(ch)]);
    expect(attestationNonce(ch)).toBe(toBase64Url(exported));
    expect(await f.deviceRow(serial)).toMatchObject({
      state: 'attested',
      attestationStatus: 'affirming',
      attestationSession: null,
    });
    const trail = await f.events(serial);
    expect(trail.map((e) => [e.step, e.outcome])).toEqual([
      [2, 'ok'],
      [3, 'ok'],
      [4, 'ok'],
    ]);
    expect(JSON.parse(trail[0]!.detail!)).toMatchObject({ attestation: 'channel-bound' });
    await f.vouch(d, ch);
    expect((await f.deviceRow(serial))!.state).toBe('vouched');
  });

  it('channel-bound evidence is taken once per connection; another connection attests afresh', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const ch = f.channel(d.cert);
    verifier.next = (s) => ear(s, 'contraindicated');
    expect(await errorCode(() => submit(ch, d))).toBe('ERR_ATTESTATION_REFUSED');
    // A second try on the same connection (new evidence for the same nonce) is not forwarded.
    verifier.next = (s) => ear(s, 'affirming');
    expect(await errorCode(() => submit(ch, d))).toBe('ERR_REGISTRAR_SEQUENCE');
    expect([verifier.opened, verifier.appraised]).toEqual([1, 1]);
    expect((await f.deviceRow(serial))!.state).toBe('refused');
    expect(await errorCode(() => f.vouch(d, ch))).toBe('ERR_REGISTRAR_SEQUENCE');
    // A new connection has a nonce of its own: good evidence for it admits the device.
    const ch2 = f.channel(d.cert, new Uint8Array(32).fill(9));
    await submit(ch2, d);
    expect(verifier.asked.at(-1)).toBe(attestationNonce(ch2));
    expect((await f.deviceRow(serial))!.state).toBe('attested');
  });

  it('after channel-bound evidence, the connection takes no challenge; admitted on one connection, the device gets no voucher on another', async () => {
    const d = await f.newDevice();
    const serial = d.cert.subjectSerialNumber!;
    const a = f.channel(d.cert, new Uint8Array(32).fill(1));
    await submit(a, d);
    expect(await errorCode(() => f.run(attestationChallenge, a, undefined))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    // A copy of the birth credentials on connection B rides on A's admission: refused.
    const b = f.channel(d.cert, new Uint8Array(32).fill(2));
    expect(await errorCode(() => f.vouch(d, b))).toBe('ERR_REGISTRAR_SEQUENCE');
    expect(f.masa.asked).toBe(0);
    // Attesting on B admits it there.
    await submit(b, d);
    await f.vouch(d, b);
    expect((await f.deviceRow(serial))!.state).toBe('vouched');
  });

  it('a result for another nonce than the session asked for is ERR_EAR_UNTRUSTED, whatever the verifier says', async () => {
    const d = await f.newDevice();
    verifier.next = (s) => ({ ...ear(s, 'affirming'), eat_nonce: toBase64Url(new Uint8Array(32)) });
    expect(await errorCode(() => submit(f.channel(d.cert), d))).toBe('ERR_EAR_UNTRUSTED');
    expect(await f.deviceRow(d.cert.subjectSerialNumber!)).toBeUndefined();
  });

  it('a verifier that fails on channel-bound evidence leaves no record of the device', async () => {
    const d = await f.newDevice();
    verifier.fail = new AirlockError('ERR_VERIFIER_UNREACHABLE');
    expect(await errorCode(() => submit(f.channel(d.cert), d))).toBe('ERR_VERIFIER_UNREACHABLE');
    expect(await f.deviceRow(d.cert.subjectSerialNumber!)).toBeUndefined();
  });

  describe('evidence with the voucher request (steps 2 to 5 at once)', () => {
    const evidenceOf = (d: Awaited<ReturnType<RegistrarFixture['newDevice']>>) => ({
      mediaType: MEDIA,
      evidence: tokenOf(d),
    });
    /** The steps of the onboarding, without the MASA's audit log fetched in the background. */
    const trail = (events: Array<{ step?: number | null; action: string; outcome: string }>) =>
      events.filter((e) => e.action !== 'masa audit log').map((e) => [e.step, e.outcome]);
    const annotatedFor = (serial: string) => (s: VerifierSession) =>
      ear(s, 'affirming', {
        'serial-number': serial,
        manufacturer: f.ctx.manufacturers.partyOf(f.trust).id,
      });

    it("is appraised for the channel's nonce before the MASA is asked: one request, steps 2 to 5 in order, the device's record written once", async () => {
      const d = await f.newDevice();
      const serial = d.cert.subjectSerialNumber!;
      const ch = f.channel(d.cert);
      verifier.next = annotatedFor(serial);
      await f.vouch(d, ch, evidenceOf(d));
      expect(verifier.asked).toEqual([attestationNonce(ch)]);
      expect(f.masa.asked).toBe(1);
      expect(await f.deviceRow(serial)).toMatchObject({
        state: 'vouched',
        attestationStatus: 'affirming',
        attestationSession: null,
      });
      expect(trail(await f.events(serial))).toEqual([
        [2, 'ok'],
        [3, 'ok'],
        [4, 'ok'],
        [5, 'ok'],
      ]);
      // Once per connection, whichever way it comes again: nothing more is forwarded.
      expect(await errorCode(() => f.vouch(d, ch, evidenceOf(d)))).toBe('ERR_REGISTRAR_SEQUENCE');
      expect(await errorCode(() => submit(ch, d))).toBe('ERR_REGISTRAR_SEQUENCE');
      expect(verifier.appraised).toBe(1);
      expect(f.masa.asked).toBe(1);
    });

    it('a result that does not admit the device refuses the voucher request: recorded refused, the MASA never asked', async () => {
      await applyPolicyTo(
        f.store,
        'version: 1\nrules:\n  - name: only-affirmed\n    require: { attestation: [affirming] }\n',
        'strict',
      );
      for (const [status, code] of [
        ['contraindicated', 'ERR_ATTESTATION_REFUSED'],
        ['warning', 'ERR_POLICY_DENIED'],
      ] as const) {
        const d = await f.newDevice();
        const serial = d.cert.subjectSerialNumber!;
        verifier.next = (s) => ear(s, status);
        expect(await errorCode(() => f.vouch(d, f.channel(d.cert), evidenceOf(d))), status).toBe(
          code,
        );
        expect(f.masa.asked, status).toBe(0);
        expect(await f.deviceRow(serial), status).toMatchObject({
          state: 'refused',
          attestationStatus: status,
        });
        expect(
          (await f.events(serial)).map((e) => [e.step ?? null, e.action, e.outcome, e.code]),
          status,
        ).toEqual([
          [2, 'onboarding mode: device contacted the registrar', 'ok', null],
          [3, 'attestation token received and forwarded to the verifier', 'ok', null],
          [4, 'attestation result', 'refused', code],
          [null, 'requestvoucher', 'refused', code],
        ]);
        // Refused, it cannot drop its evidence and ask again without: it must attest again.
        expect(await errorCode(() => f.vouch(d, f.channel(d.cert))), status).toBe(
          'ERR_REGISTRAR_SEQUENCE',
        );
        expect(f.masa.asked, status).toBe(0);
      }
    });

    it('a MASA that fails after the device was admitted: the attestation stands, and the voucher is asked again on that connection alone', async () => {
      const d = await f.newDevice();
      const serial = d.cert.subjectSerialNumber!;
      const ch = f.channel(d.cert);
      verifier.next = annotatedFor(serial);
      f.masa.fail = new AirlockError('ERR_MASA_UNREACHABLE');
      expect(await errorCode(() => f.vouch(d, ch, evidenceOf(d)))).toBe('ERR_MASA_UNREACHABLE');
      expect(await f.deviceRow(serial)).toMatchObject({
        state: 'attested',
        attestationStatus: 'affirming',
      });
      expect((await f.events(serial)).map((e) => [e.step ?? null, e.outcome])).toEqual([
        [2, 'ok'],
        [3, 'ok'],
        [4, 'ok'],
        [null, 'refused'],
      ]);
      f.masa.fail = undefined;
      // Another connection (a copy of the birth credentials) cannot ride on the result.
      expect(await errorCode(() => f.vouch(d, f.channel(d.cert)))).toBe('ERR_REGISTRAR_SEQUENCE');
      await f.vouch(d, ch);
      expect(await f.deviceRow(serial)).toMatchObject({
        state: 'vouched',
        attestationStatus: 'affirming',
      });
      expect(verifier.appraised).toBe(1);
    });

    it('a network with no verification service ignores the evidence: the device is judged as one without', async () => {
      f.ctx.verifier = undefined;
      const d = await f.newDevice();
      const serial = d.cert.subjectSerialNumber!;
      await f.vouch(d, f.channel(d.cert), evidenceOf(d));
      expect(await f.deviceRow(serial)).toMatchObject({
        state: 'vouched',
        attestationStatus: null,
      });
      expect(trail(await f.events(serial))).toEqual([
        [2, 'ok'],
        [5, 'ok'],
      ]);
    });
  });

  it('a network with no verification service answers 404 (ERR_NOT_FOUND), and records no device', async () => {
    f.ctx.verifier = undefined;
    const d = await f.newDevice();
    expect(await errorCode(() => f.run(attestationChallenge, f.channel(d.cert), undefined))).toBe(
      'ERR_NOT_FOUND',
    );
    expect(await f.deviceRow(d.cert.subjectSerialNumber!)).toBeUndefined();
  });
});
