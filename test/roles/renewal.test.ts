/**
 * Credential renewal through the device's life (RFC 7030 simplereenroll): authenticated by
 * the current LDevID only; the superseded certificate is revoked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr } from '../../src/protocols/est/csr.js';
import { fromBase64, toBase64, toPem } from '../../src/core/bytes.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';

describe('LDevID renewal', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('issues a new LDevID for a new key and revokes the old one', async () => {
    const { agent, serial } = await sys.newDevice();
    const first = await agent.onboard(sys.registrarUrl);
    const before = await agent.onboardingCredentials();
    const renewed = await agent.renew(sys.registrarUrl);
    expect(renewed.previousSerial).toBe(first.ldevidSerial);
    expect(renewed.ldevidSerial).not.toBe(first.ldevidSerial);
    const after = await agent.onboardingCredentials();
    expect(after?.ldevidKey).not.toBe(before?.ldevidKey);
    expect(after?.wifi).toEqual(before?.wifi);
    const certs = await sys.network.inventory.certificates(serial);
    expect(certs.find((c) => c.serial === first.ldevidSerial)?.revocation_reason).toBe(
      'superseded',
    );
    expect(certs.find((c) => c.serial === renewed.ldevidSerial)?.revoked_at).toBeNull();
    expect((await sys.network.inventory.device(serial)).ldevid_serial).toBe(renewed.ldevidSerial);
  });

  it('refuses a superseded LDevID and a birth certificate, changing nothing', async () => {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const old = (await agent.onboardingCredentials())!;
    await agent.renew(sys.registrarUrl);
    const certsBefore = await sys.network.inventory.certificates(serial);
    const crypto = new NodeCrypto();
    const csr = toBase64(buildCsr(crypto, generateP256Key(), serial));

    const withOld = await PeerConnection.open(sys.registrarUrl, {
      cert: toPem('CERTIFICATE', fromBase64(old.ldevid)!),
      key: toPem('PRIVATE KEY', fromBase64(old.ldevidKey)!),
    });
    await expect(
      withOld.call('POST', '/.well-known/est/simplereenroll', {
        body: csr,
        contentType: 'application/pkcs10',
      }),
    ).rejects.toMatchObject({ code: 'ERR_CERT_REVOKED' });
    await withOld.close();

    const birth = await agent.birth();
    const withBirth = await PeerConnection.open(sys.registrarUrl, {
      cert: birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join(''),
      key: toPem('PRIVATE KEY', fromBase64(birth.idevidKey)!),
    });
    await expect(
      withBirth.call('POST', '/.well-known/est/simplereenroll', {
        body: csr,
        contentType: 'application/pkcs10',
      }),
    ).rejects.toMatchObject({ code: 'ERR_CERT_UNTRUSTED' });
    await withBirth.close();
    expect(await sys.network.inventory.certificates(serial)).toEqual(certsBefore);
  });

  it('needs onboarding credentials first', async () => {
    const { agent } = await sys.newDevice();
    await expect(agent.renew(sys.registrarUrl)).rejects.toMatchObject({
      code: 'ERR_DEVICE_NOT_ONBOARDED',
    });
  });
});

describe('minting', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('refuses a serial number twice and a store that already holds a device, leaving both as they were', async () => {
    const { agent, serial } = await sys.newDevice({ sell: false });
    const birth = await agent.birth();
    const rows = await sys.manufacturer.db.selectFrom('mfg_devices').selectAll().execute();
    const other = new DeviceAgent(new MemorySecureStore(), sys.ctx);
    await expect(
      sys.manufacturer.factory.mint(other.store, { model: 'm', serialNumber: serial }),
    ).rejects.toMatchObject({ code: 'ERR_DEVICE_STATE' });
    expect(await other.store.names()).toEqual([]);
    await expect(sys.manufacturer.factory.mint(agent.store, { model: 'm' })).rejects.toMatchObject({
      code: 'ERR_DEVICE_STATE',
    });
    expect(await agent.birth()).toEqual(birth);
    expect(await sys.manufacturer.db.selectFrom('mfg_devices').selectAll().execute()).toEqual(rows);
    await expect(
      sys.manufacturer.factory.mint(other.store, { model: 'bad model!' }),
    ).rejects.toMatchObject({ code: 'ERR_INPUT_SCHEMA' });
  });
});
