/**
 * Renewal (RFC 7030 section 4.2.2) over a channel in memory: authenticated by the current
 * LDevID, the channel anchored at the domain CA, the new LDevID stored only once verified.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SecureStoreEntry } from '../../../src/core/credentials.js';
import { utf8 } from '../../../src/core/bytes.js';
import { silentLogger } from '../../../src/adapters/log/logger.js';
import { MemorySecureStore } from '../../../src/adapters/secure-store/memory-store.js';
import { generateP256Key } from '../../../src/adapters/crypto/node-crypto.js';
import { DeviceAgent } from '../../../src/roles/device/agent.js';
import { parseCertificateBase64 } from '../../../src/protocols/x509/certificate.js';
import { crypto } from '../../support/pki.js';
import { errorCode } from '../../support/wire.js';
import {
  FakeRegistrar,
  fixedClock,
  pledgeWorld,
  type PledgeWorld,
} from '../../support/fake-registrar.js';

const ctx = { crypto, clock: fixedClock, logger: silentLogger };

describe('the pledge renews its LDevID over a PledgeChannel', () => {
  let world: PledgeWorld;
  beforeAll(async () => {
    world = await pledgeWorld();
  });

  async function onboarded() {
    const store = new MemorySecureStore();
    await store.write(SecureStoreEntry.birth, utf8(JSON.stringify(world.birth)));
    await new DeviceAgent(store, ctx, { connector: new FakeRegistrar(world).connect }).onboard(
      'https://registrar.example',
    );
    return store;
  }

  it('presents the current LDevID, anchors the channel at the domain CA, and stores the new LDevID', async () => {
    const store = await onboarded();
    const registrar = new FakeRegistrar(world);
    const agent = new DeviceAgent(store, ctx, { connector: registrar.connect });
    const before = (await agent.onboardingCredentials())!;
    const result = await agent.renew('https://registrar.example');
    expect(registrar.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /.well-known/est/simplereenroll',
    ]);
    const opened = registrar.connections[0]!;
    expect(opened.credentials.chain).toEqual([parseCertificateBase64(before.ldevid).der]);
    expect(opened.credentials.key.spki).toEqual(parseCertificateBase64(before.ldevid).spki);
    expect(opened.trustAnchors).toEqual([world.domainCa.cert.der]);
    expect(registrar.open).toBe(0);
    const after = (await agent.onboardingCredentials())!;
    expect(result.previousSerial).toBe(parseCertificateBase64(before.ldevid).serial);
    expect(parseCertificateBase64(after.ldevid).serial).toBe(result.ldevidSerial);
    expect(after.ldevidKey).not.toBe(before.ldevidKey);
    expect({ ...after, ldevid: before.ldevid, ldevidKey: before.ldevidKey }).toEqual(before);
  });

  it('keeps the current LDevID when the new one is for another key', async () => {
    const store = await onboarded();
    const before = await store.read(SecureStoreEntry.onboarding);
    const registrar: FakeRegistrar = new FakeRegistrar(world, {
      ldevid: async (r) => registrar.issueLdevid({ ...r, spki: generateP256Key().spki }),
    });
    const agent = new DeviceAgent(store, ctx, { connector: registrar.connect });
    expect(await errorCode(() => agent.renew('https://registrar.example'))).toBe(
      'ERR_NETWORK_LDEVID_MISMATCH',
    );
    expect(await store.read(SecureStoreEntry.onboarding)).toEqual(before);
    expect(registrar.open).toBe(0);
  });

  it('refuses a registrar certificate without id-kp-cmcRA before it asks for anything', async () => {
    const store = await onboarded();
    const creds = JSON.parse(
      new TextDecoder().decode(await store.read(SecureStoreEntry.onboarding)),
    ) as { ldevid: string };
    const registrar = new FakeRegistrar(world, {
      serverCert: parseCertificateBase64(creds.ldevid),
    });
    const agent = new DeviceAgent(store, ctx, { connector: registrar.connect });
    expect(await errorCode(() => agent.renew('https://registrar.example'))).toBe(
      'ERR_NETWORK_NOT_REGISTRAR',
    );
    expect(registrar.requests).toEqual([]);
  });

  it('a device not onboarded opens no channel: ERR_DEVICE_NOT_ONBOARDED', async () => {
    const store = new MemorySecureStore();
    await store.write(SecureStoreEntry.birth, utf8(JSON.stringify(world.birth)));
    const registrar = new FakeRegistrar(world);
    expect(
      await errorCode(() =>
        new DeviceAgent(store, ctx, { connector: registrar.connect }).renew(
          'https://registrar.example',
        ),
      ),
    ).toBe('ERR_DEVICE_NOT_ONBOARDED');
    expect(registrar.connections).toEqual([]);
  });
});
