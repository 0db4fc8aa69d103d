/**
 * Re-attestation after onboarding (NIST IR 8350 section 7) against running roles: the network
 * asks an onboarded device for a fresh token over a connection on which the device presents
 * its current LDevID; after the device's firmware changes, the next appraisal marks it for
 * quarantine and emits an event. The device answers only its own network's registrar, and the
 * network appraises only the device it asked.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/errors.js';
import type { ReattestationOutcome } from '../../src/onboarding/registrar/reattestation.js';
import { tlsPledgeConnector } from '../../src/adapters/http/tls-pledge-channel.js';
import { softwareKeyStore } from '../../src/adapters/crypto/software-key-store.js';

/** A port nothing listens on now (the device says where it will listen before it does). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('re-attestation after onboarding (report section 7)', () => {
  let sys: TestSystem;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => {
    for (const c of closers) await c();
    await sys?.close();
  });

  /** An onboarded device answering re-attestation at its own copy of its model's image. */
  const answeringDevice = async () => {
    const port = await freePort();
    const base = await sys.firmwareOf('sensor-s1');
    const image = `${base.image}.${port}`;
    fs.copyFileSync(base.image, image);
    const { fileMeasuredBoot } = await import('../../src/adapters/device/measured-boot.js');
    const d = await sys.newDevice({
      measuredBoot: fileMeasuredBoot({ ...base, image }),
      agent: { attestationUrl: `https://127.0.0.1:${port}` },
    });
    await d.agent.onboard(sys.registrarUrl);
    const responder = await d.agent.serveAttestation({ port });
    closers.push(() => responder.close());
    return { ...d, image, responder };
  };

  it('a device with unchanged firmware is affirmed again; after its firmware changes, the next appraisal marks it for quarantine and emits an event', async () => {
    const d = await answeringDevice();
    const seen: ReattestationOutcome[] = [];
    const off = sys.network.onQuarantine((o) => seen.push(o));
    try {
      const [first] = await sys.network.reattest(d.serial);
      expect(first).toMatchObject({ serial: d.serial, status: 'affirming', quarantined: false });
      expect((await sys.network.inventory.device(d.serial)).quarantine).toBeNull();

      const bytes = fs.readFileSync(d.image);
      bytes[100] = bytes[100]! ^ 0xff;
      fs.writeFileSync(d.image, bytes);
      const [second] = await sys.network.reattest(d.serial);
      expect(second).toMatchObject({
        serial: d.serial,
        status: 'contraindicated',
        quarantined: true,
      });
      expect(seen.map((o) => o.serial)).toEqual([d.serial]);
      const record = await sys.network.inventory.device(d.serial);
      expect(record).toMatchObject({ state: 'onboarded', attestation_status: 'contraindicated' });
      expect(record.quarantine).toMatch(/re-attestation: contraindicated/);
      const last = (await sys.network.inventory.events(d.serial)).at(-1)!;
      expect(last).toMatchObject({ action: 're-attestation', outcome: 'warning' });
      expect(JSON.parse(last.detail!)).toMatchObject({
        status: 'contraindicated',
        quarantine: true,
      });
    } finally {
      off();
    }
  });

  it('the network appraises only the device it asked: another device answering at its URL is refused and nothing is recorded as its result', async () => {
    const a = await answeringDevice();
    const b = await answeringDevice();
    // A says it answers where B does (or an attacker points the network there).
    await sys.network.store.run((r) =>
      r.devices.attestationUrl(a.serial, b.responder.url, new Date()),
    );
    const before = await sys.network.inventory.attestation(a.serial);
    const [o] = await sys.network.reattest(a.serial);
    expect(o).toMatchObject({ serial: a.serial, quarantined: false, code: 'ERR_CERT_UNTRUSTED' });
    expect(await sys.network.inventory.attestation(a.serial)).toBe(before);
    const last = (await sys.network.inventory.events(a.serial)).at(-1)!;
    expect(last).toMatchObject({
      action: 're-attestation',
      outcome: 'error',
      code: 'ERR_CERT_UNTRUSTED',
    });
  });

  it("the device answers only its own network's registrar", async () => {
    const d = await answeringDevice();
    const other = await sys.otherNetwork('elsewhere');
    const connect = tlsPledgeConnector(softwareKeyStore);
    const as = async (chain: Uint8Array[], key: typeof other.network.pki.registrar.key) => {
      const ch = await connect(d.responder.url, { credentials: { chain, key } });
      try {
        return await ch.call('POST', '/.well-known/airlock/attestation', {
          body: JSON.stringify({ nonce: 'AAAAAAAAAAAAAAAAAAAAAA' }),
          contentType: 'application/json',
        });
      } finally {
        await ch.close();
      }
    };
    // Another network's registrar: refused.
    const o = other.network.pki;
    expect(
      await errorCode(() => as([o.registrar.cert.der, o.domainCa.cert.der], o.registrar.key)),
    ).toBe('ERR_PEER_REFUSED');
    // Its own registrar: a token.
    const p = sys.network.pki;
    const res = await as([p.registrar.cert.der, p.domainCa.cert.der], p.registrar.key);
    expect(JSON.parse(res.body)).toMatchObject({ mediaType: expect.stringMatching(/eat\+jwt/) });
  });

  it('a device may name only its own address for re-attestation: the network is not sent elsewhere', async () => {
    const { agent, serial } = await sys.newDevice({
      agent: { attestationUrl: 'https://192.0.2.10:8447' },
    });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_INPUT_SCHEMA');
    expect(await sys.network.inventory.certificates(serial)).toEqual([]);
    expect(await sys.network.store.run((r) => r.devices.reattestable())).not.toContainEqual(
      expect.objectContaining({ serial }),
    );
  });

  it('a device that never said where it answers cannot be asked', async () => {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    expect(await errorCode(() => sys.network.reattest(serial))).toBe('ERR_DEVICE_NOT_FOUND');
  });
});
