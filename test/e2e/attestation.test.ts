/**
 * Attestation in the onboarding path (NIST IR 8350 steps 1, 3, 4), against running roles: a
 * device whose firmware is genuine onboards; every way of lying about it is refused at step 4,
 * before the device learns anything about the network, with nothing issued and the reason in
 * its audit trail. Each attack is made by hand on a real TLS channel with the device's own
 * birth credentials, as a device with tampered firmware would.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode, expectProblem } from '../support/errors.js';
import {
  connectAs,
  identityOf,
  pledgeVoucherRequest,
  postVoucherRequest,
} from '../support/wire.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import { tlsPledgeConnector } from '../../src/adapters/http/tls-pledge-channel.js';
import { softwareKeyStore } from '../../src/adapters/crypto/software-key-store.js';
import { NodeCrypto, generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { openBirthCredentials, type PledgeIdentity } from '../../src/onboarding/pledge/identity.js';
import { generateEvidence } from '../../src/onboarding/pledge/step-01-attestation.js';
import type { PledgeChannel } from '../../src/core/ports.js';
import { systemClock } from '../../src/core/ports.js';
import { signEat } from '../../src/protocols/eat/token.js';
import { decodeEat } from '../../src/protocols/eat/token.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { attestationKeyProfile, caProfile } from '../../src/protocols/x509/profiles.js';
import type { DeviceAgent } from '../../src/roles/device/agent.js';
import type { EventRecord } from '../../src/core/store.js';
import { toBase64Url } from '../../src/core/bytes.js';
import {
  ATTESTATION_NONCE_BYTES,
  ATTESTATION_NONCE_LABEL,
  ATTESTATION_STATUS_FIELD,
  EVIDENCE_FIELD,
  EVIDENCE_TYPE_FIELD,
} from '../../src/protocols/airlock/messages.js';
import { evidenceFields } from '../../src/onboarding/pledge/step-03-attestation.js';
import { trustedIntroduction } from '../../src/onboarding/pledge/step-05-trusted-introduction.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../src/protocols/voucher/schema.js';
import { deviceTokenMediaType as MEDIA_TYPE } from '../../src/protocols/eat/claims.js';
import { decodeCompact, payloadJson } from '../../src/protocols/jws/compact.js';

const crypto = new NodeCrypto();
const ctx = { crypto, clock: systemClock, keys: softwareKeyStore };

describe('attestation in the onboarding path (steps 1, 3, 4)', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  /** What the network issued to a device: certificates, and the LDevID and PSK on its record. */
  const issued = async (serial: string) => ({
    certificates: (await sys.network.inventory.certificates(serial)).length,
    psks: (
      await sys.network.db
        .selectFrom('net_psks')
        .select('id')
        .where('device_serial', '=', serial)
        .execute()
    ).length,
  });

  const step4 = async (serial: string): Promise<EventRecord> => {
    const e = (await sys.network.inventory.events(serial)).filter((x) => x.step === 4).at(-1);
    expect(e).toBeDefined();
    return e!;
  };

  /** A copy of `image` with one byte changed. */
  const tampered = (image: string, at = 4000): string => {
    const bytes = fs.readFileSync(image);
    bytes[at] = bytes[at]! ^ 0x01;
    const copy = `${image}.tampered-${Math.random().toString(36).slice(2)}`;
    fs.writeFileSync(copy, bytes);
    return copy;
  };

  /** The device's own TLS channel to the registrar, for attacks made by hand. */
  const channelOf = async (
    agent: DeviceAgent,
  ): Promise<{ ch: PledgeChannel; id: PledgeIdentity }> => {
    const id = await openBirthCredentials(ctx, await agent.birth());
    const ch = await tlsPledgeConnector(softwareKeyStore)(sys.registrarUrl, {
      credentials: { chain: id.idevidChain, key: id.idevidKey },
    });
    return { ch, id };
  };

  const challenge = async (ch: PledgeChannel) =>
    JSON.parse((await ch.call('POST', '/.well-known/airlock/attestation/challenge')).body) as {
      nonce: string;
      accept: string[];
    };

  const submit = (ch: PledgeChannel, token: string, mediaType: string) =>
    ch.call('POST', '/.well-known/airlock/attestation', { body: token, contentType: mediaType });

  it('a device running released firmware onboards, affirmed, in the segment its policy gives', async () => {
    const { agent, serial } = await sys.newDevice();
    const report = await agent.onboard(sys.registrarUrl);
    expect(report.steps.map((s) => s.step).slice(0, 3)).toEqual([1, 2, 3]);
    expect(await sys.network.inventory.device(serial)).toMatchObject({
      state: 'onboarded',
      attestation_status: 'affirming',
      decision: 'allow',
      segment: 'default',
    });
    // The EAR the verifier signed is kept with the device, about this device.
    const ear = await sys.network.inventory.attestation(serial);
    const claims = payloadJson(decodeCompact(ear!)) as { submods: Record<string, unknown> };
    expect(Object.keys(claims.submods)).toEqual([serial]);
  });

  it('the same device with one byte of its firmware image changed is refused at step 4: no credentials, the reason in its audit trail', async () => {
    const { agent, serial, firmware } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const before = await issued(serial);
    const held = await agent.onboardingCredentials();
    const bad = tampered(firmware.image);
    const evil = agentWith(agent, bad, firmware);
    expect(await errorCode(() => evil.onboard(sys.registrarUrl))).toBe('ERR_ATTESTATION_REFUSED');
    expect(await issued(serial)).toEqual(before);
    expect(await agent.onboardingCredentials()).toEqual(held);
    const e = await step4(serial);
    expect(e).toMatchObject({ outcome: 'refused', code: 'ERR_ATTESTATION_REFUSED' });
    const detail = JSON.parse(e.detail!) as Record<string, string>;
    expect(detail.status).toBe('contraindicated');
    expect(detail.reasons).toMatch(/digest/);
    expect((await sys.network.inventory.device(serial)).state).toBe('refused');
    // Refused, it cannot skip attestation and ask for a voucher: it must attest again.
    // A well-formed, signed voucher request on its own connection is out of sequence.
    const id = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, id);
    try {
      const res = await postVoucherRequest(conn, pledgeVoucherRequest(crypto, id, conn).pvr);
      expectProblem(res, 'ERR_REGISTRAR_SEQUENCE', 409);
    } finally {
      await conn.close();
    }
    expect((await sys.network.inventory.device(serial)).state).toBe('refused');
    expect(await issued(serial)).toEqual(before);
    // With its genuine firmware back, it onboards again.
    await agent.onboard(sys.registrarUrl);
    expect((await sys.network.inventory.device(serial)).state).toBe('onboarded');
  });

  it('a new device whose image was tampered with before its first onboarding gets nothing at all', async () => {
    const { agent, serial, firmware } = await sys.newDevice();
    const evil = agentWith(agent, tampered(firmware.image, 10), firmware);
    expect(await errorCode(() => evil.onboard(sys.registrarUrl))).toBe('ERR_ATTESTATION_REFUSED');
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
    expect(await agent.onboardingCredentials()).toBeUndefined();
    const record = await sys.network.inventory.device(serial);
    expect(record).toMatchObject({ state: 'refused', decision: 'deny', ldevid_serial: null });
    // Its voucher request, which carried the evidence, was refused before the registrar asked
    // the MASA: the device learned nothing about the network.
    const events = await sys.network.inventory.events(serial);
    expect(events.filter((e) => e.action === 'requestvoucher')).toMatchObject([
      { outcome: 'refused', code: 'ERR_ATTESTATION_REFUSED' },
    ]);
    expect(events.some((e) => e.action.startsWith('voucher issued'))).toBe(false);
    expect(
      await sys.manufacturer.db
        .selectFrom('masa_nonces')
        .selectAll()
        .where('serial', '=', serial)
        .execute(),
    ).toEqual([]);
  });

  it('a withdrawn firmware version is refused', async () => {
    const model = 'withdrawn-w1';
    const { agent, serial } = await sys.newDevice({ model });
    await sys.manufacturer.firmware.withdraw({ model, version: '1.0.0' });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_ATTESTATION_REFUSED');
    const detail = JSON.parse((await step4(serial)).detail!) as Record<string, string>;
    expect(detail.status).toBe('contraindicated');
    expect(detail.reasons).toMatch(/withdrawn/);
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it('a token made for an old nonce is refused, in the session it was not made for', async () => {
    const { agent, serial, firmware } = await sys.newDevice();
    const { ch, id } = await channelOf(agent);
    try {
      const first = await challenge(ch);
      const measurement = await fileMeasuredBoot(firmware).measure();
      const old = generateEvidence(ctx, id, measurement, first.nonce)!;
      await challenge(ch); // a new session: the old nonce is no longer the one outstanding
      expect(await errorCode(() => submit(ch, old.token, old.mediaType))).toBe(
        'ERR_ATTESTATION_REFUSED',
      );
    } finally {
      await ch.close();
    }
    const detail = JSON.parse((await step4(serial)).detail!) as Record<string, string>;
    expect(detail.reasons).toMatch(/nonce/);
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it("a token bound to one connection's TLS session is refused on another: replayed, it proves nothing", async () => {
    const { agent, serial, firmware } = await sys.newDevice();
    const measurement = await fileMeasuredBoot(firmware).measure();
    const first = await channelOf(agent);
    let token: { token: string; mediaType: string };
    try {
      // What the agent sends: a token for the nonce exported from this session (step 3).
      const nonce = toBase64Url(
        first.ch.exporter(ATTESTATION_NONCE_LABEL, ATTESTATION_NONCE_BYTES),
      );
      token = generateEvidence(ctx, first.id, measurement, nonce)!;
    } finally {
      await first.ch.close();
    }
    // Captured and sent again on a connection of its own, with the device's birth credentials.
    const second = await channelOf(agent);
    try {
      expect(await errorCode(() => submit(second.ch, token.token, token.mediaType))).toBe(
        'ERR_ATTESTATION_REFUSED',
      );
    } finally {
      await second.ch.close();
    }
    const detail = JSON.parse((await step4(serial)).detail!) as Record<string, string>;
    expect(detail.reasons).toMatch(/nonce/);
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it("with the voucher request (the agent's way): the answer names the verifier's status; a token captured there and sent with a request on another connection gets no voucher", async () => {
    const { agent, serial, firmware } = await sys.newDevice();
    const measurement = await fileMeasuredBoot(firmware).measure();
    const id = await openBirthCredentials(ctx, await agent.birth());
    const wire = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, wire);
    let fields: Record<string, string>;
    try {
      // Over the project's HTTP client as any pledge would write it: two header fields.
      fields = evidenceFields(
        ctx,
        { exporter: (label, length) => conn.exportKeyingMaterial(length, label) },
        id,
        measurement,
      )!;
      expect(Object.keys(fields)).toEqual([EVIDENCE_TYPE_FIELD, EVIDENCE_FIELD]);
      const res = await conn.request('POST', '/.well-known/brski/requestvoucher', {
        body: pledgeVoucherRequest(crypto, wire, conn).pvr,
        contentType: VOUCHER_JWS_MEDIA_TYPE,
        accept: VOUCHER_JWS_MEDIA_TYPE,
        headers: fields,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get(ATTESTATION_STATUS_FIELD)).toBe('affirming');
    } finally {
      await conn.close();
    }
    expect(await sys.network.inventory.device(serial)).toMatchObject({
      state: 'vouched',
      attestation_status: 'affirming',
    });
    const vouchers = async () =>
      (
        await sys.manufacturer.db
          .selectFrom('masa_nonces')
          .select('nonce')
          .where('serial', '=', serial)
          .execute()
      ).length;
    const before = await vouchers();
    // The same fields, replayed with a voucher request of the device's own on a new connection.
    const second = await channelOf(agent);
    try {
      expect(
        await errorCode(() => trustedIntroduction(ctx, second.ch, second.id, {}, fields)),
      ).toBe('ERR_ATTESTATION_REFUSED');
    } finally {
      await second.ch.close();
    }
    const detail = JSON.parse((await step4(serial)).detail!) as Record<string, string>;
    expect(detail.reasons).toMatch(/nonce/);
    expect((await sys.network.inventory.device(serial)).state).toBe('refused');
    expect(await vouchers()).toBe(before);
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it('one evidence field without the other, or one twice, is 400 ERR_INPUT_SCHEMA: nothing forwarded, no device recorded', async () => {
    const { agent, serial } = await sys.newDevice();
    const wire = identityOf(await agent.birth());
    const conn = await connectAs(sys.registrarUrl, wire);
    try {
      const alone: Array<Record<string, string>> = [
        { [EVIDENCE_FIELD]: 'a.b.c' },
        { [EVIDENCE_TYPE_FIELD]: MEDIA_TYPE },
        // The evidence field twice (names differ only in case: two lines on the wire).
        {
          [EVIDENCE_TYPE_FIELD]: MEDIA_TYPE,
          [EVIDENCE_FIELD]: 'a.b.c',
          [EVIDENCE_FIELD.toUpperCase()]: 'd.e.f',
        },
      ];
      for (const headers of alone) {
        const res = await conn.request('POST', '/.well-known/brski/requestvoucher', {
          body: pledgeVoucherRequest(crypto, wire, conn).pvr,
          contentType: VOUCHER_JWS_MEDIA_TYPE,
          accept: VOUCHER_JWS_MEDIA_TYPE,
          headers,
        });
        expectProblem(res, 'ERR_INPUT_SCHEMA', 400);
      }
    } finally {
      await conn.close();
    }
    expect(
      await sys.network.db
        .selectFrom('net_devices')
        .select('serial')
        .where('serial', '=', serial)
        .execute(),
    ).toEqual([]);
  });

  it('a token signed by a key the manufacturer never certified is refused', async () => {
    const { agent, serial, firmware } = await sys.newDevice();
    const { ch, id } = await channelOf(agent);
    try {
      const { nonce } = await challenge(ch);
      // The attacker's own CA certifies a key with the device's very subject.
      const rogueCa = issueSelfSignedCa();
      const key = generateP256Key();
      const cert = issueCertificate(
        crypto,
        attestationKeyProfile({
          serialNumber: serial,
          model: 'sensor-s1',
          manufacturer: sys.manufacturer.config.name,
          notBefore: new Date(Date.now() - 60_000),
        }),
        key.spki,
        rogueCa,
      );
      const forged: PledgeIdentity = {
        ...id,
        attestation: {
          kind: 'key',
          model: 'sensor-s1',
          key,
          chain: [cert, rogueCa.cert],
          manufacturerId: sys.manufacturer.party.id,
        },
      };
      const e = generateEvidence(ctx, forged, await fileMeasuredBoot(firmware).measure(), nonce)!;
      expect(await errorCode(() => submit(ch, e.token, e.mediaType))).toBe(
        'ERR_ATTESTATION_REFUSED',
      );
    } finally {
      await ch.close();
    }
    expect(JSON.parse((await step4(serial)).detail!)).toMatchObject({ status: 'contraindicated' });
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it('claims that contradict each other or the reference values are refused', async () => {
    const lies: Array<[string, (c: Record<string, unknown>) => void]> = [
      ['a version the measurement does not bear out', (c) => void (c.swversion = ['9.9.9'])],
      ['no secure boot on a secure-boot model', (c) => void (c.oemboot = false)],
      ['another model', (c) => void (c.hwmodel = toBase64Url(new Uint8Array(16).fill(1)))],
    ];
    for (const [what, lie] of lies) {
      const { agent, serial, firmware } = await sys.newDevice();
      const { ch, id } = await channelOf(agent);
      try {
        const { nonce } = await challenge(ch);
        const genuine = generateEvidence(
          ctx,
          id,
          await fileMeasuredBoot(firmware).measure(),
          nonce,
        )!;
        const claims = payloadJson(decodeEat(genuine.token).jws) as Record<string, unknown>;
        lie(claims);
        const a = id.attestation as Extract<PledgeIdentity['attestation'], { kind: 'key' }>;
        const token = signEat(crypto, a.key, a.chain, claims);
        expect(await errorCode(() => submit(ch, token, genuine.mediaType)), what).toBe(
          'ERR_ATTESTATION_REFUSED',
        );
      } finally {
        await ch.close();
      }
      expect(JSON.parse((await step4(serial)).detail!), what).toMatchObject({
        status: 'contraindicated',
      });
      expect(await issued(serial), what).toEqual({ certificates: 0, psks: 0 });
    }
  });

  it("a genuine device's token relayed for another device is refused: the result is about the device that signed it", async () => {
    const a = await sys.newDevice();
    const b = await sys.newDevice();
    const { ch } = await channelOf(a.agent);
    const bId = await openBirthCredentials(ctx, await b.agent.birth());
    try {
      const { nonce } = await challenge(ch);
      // Device B (genuine firmware) signs for A's nonce; A presents it as its own.
      const relayed = generateEvidence(
        ctx,
        bId,
        await fileMeasuredBoot(b.firmware).measure(),
        nonce,
      )!;
      expect(await errorCode(() => submit(ch, relayed.token, relayed.mediaType))).toBe(
        'ERR_ATTESTATION_REFUSED',
      );
    } finally {
      await ch.close();
    }
    expect(JSON.parse((await step4(a.serial)).detail!)).toMatchObject({
      status: 'contraindicated',
      reasons: expect.stringMatching(/another device/),
    });
    expect(await issued(a.serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it('a device that skips attestation is judged as one without it: denied by the default policy before any voucher', async () => {
    const { agent, serial } = await sys.newDevice({ measuredBoot: null });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_POLICY_DENIED');
    const refusal = (await sys.network.inventory.events(serial)).at(-1)!;
    expect(refusal).toMatchObject({
      action: 'requestvoucher',
      outcome: 'refused',
      code: 'ERR_POLICY_DENIED',
    });
    expect(JSON.parse(refusal.detail!)).toMatchObject({ rule: 'trusted-manufacturers' });
    expect(await issued(serial)).toEqual({ certificates: 0, psks: 0 });
  });

  it("a device that cannot attest carries its manufacturer's supply-chain evidence: a warning the default policy refuses and a policy may accept", async () => {
    const model = 'plug-p1';
    await sys.firmwareOf(model, { secureBoot: false });
    const { agent, serial } = await sys.newDevice({ model, measuredBoot: null });
    expect((await agent.birth()).supplyChainEvidence).toBeDefined();
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_POLICY_DENIED');
    expect(JSON.parse((await step4(serial)).detail!)).toMatchObject({
      status: 'warning',
      decision: 'deny',
    });
    // The administrator admits this model's devices on their manufacturer's word (the last test here).
    await sys.network.authorization.apply(`version: 1
rules:
  - name: plugs-cannot-attest
    match: { model: ${model} }
    segment: plugs
    require: { attestation: [warning] }
  - name: the-rest
`);
    await agent.onboard(sys.registrarUrl);
    expect(await sys.network.inventory.device(serial)).toMatchObject({
      state: 'onboarded',
      attestation_status: 'warning',
      segment: 'plugs',
      policy_rule: 'plugs-cannot-attest',
    });
  });
  it("over the verifier's HTTPS API, as to a verifier elsewhere: the same admission, the same refusal", async () => {
    const apart = await startTestSystem({ verifierTransport: 'https' });
    try {
      const good = await apart.newDevice();
      await good.agent.onboard(apart.registrarUrl);
      expect(await apart.network.inventory.device(good.serial)).toMatchObject({
        state: 'onboarded',
        attestation_status: 'affirming',
      });
      const bad = await apart.newDevice();
      const evil = agentWith(bad.agent, tampered(bad.firmware.image), bad.firmware);
      expect(await errorCode(() => evil.onboard(apart.registrarUrl))).toBe(
        'ERR_ATTESTATION_REFUSED',
      );
      expect(await apart.network.inventory.certificates(bad.serial)).toEqual([]);
      // The verifier kept both sessions, opened over its API for each channel's nonce.
      const sessions = await apart
        .verifier!.db.selectFrom('ver_sessions')
        .select('state')
        .execute();
      expect(sessions.map((x) => x.state)).toEqual(['complete', 'complete']);
    } finally {
      await apart.close();
    }
  });
});

/** The agent of the same device (same secure store) measuring another image. */
function agentWith(
  agent: DeviceAgent,
  image: string,
  firmware: { name: string; version: string },
): DeviceAgent {
  const Ctor = agent.constructor as new (...args: unknown[]) => DeviceAgent;
  return new Ctor(agent.store, (agent as unknown as { ctx: unknown }).ctx, {
    measuredBoot: fileMeasuredBoot({ image, name: firmware.name, version: firmware.version }),
  });
}

function issueSelfSignedCa() {
  const key = generateP256Key();
  const profile = caProfile({
    name: 'Rogue Attestation CA',
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 3_600_000 * 24 * 365),
    pathLength: 0,
  });
  return { key, cert: issueCertificate(crypto, profile, key.spki, { key }) };
}
