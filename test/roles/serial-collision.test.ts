/**
 * Serial numbers are unique per manufacturer only. A network that trusts two manufacturers
 * must not let one's device take over the inventory record, and so revoke the credentials,
 * of the other's device with the same serial number.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { Network } from '../../src/roles/network/index.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';

describe('two manufacturers, one serial number', () => {
  let sys: TestSystem;
  let other: Manufacturer;
  let network: Network;
  let registrarUrl: string;

  beforeAll(async () => {
    sys = await startTestSystem();
    ({ manufacturer: other } = await sys.otherManufacturer('other-mfg', {
      name: 'Other Devices Ltd',
    }));
    ({ network, url: registrarUrl } = await sys.otherNetwork('both', {
      manufacturers: [sys.manufacturer.trustBundle(), other.trustBundle()],
      config: { ownerName: 'Two-Vendor Site' },
    }));
    // Devices made by hand, one of another manufacturer: neither attests; only the collision refuses.
    await network.authorization.apply(UNATTESTED_ALLOWED);
  });
  afterAll(async () => {
    await sys?.close();
  });

  it("refuses the second device and keeps the first one's credentials", async () => {
    const first = new DeviceAgent(new MemorySecureStore(), sys.ctx);
    await sys.manufacturer.factory.mint(first.store, { model: 'm', serialNumber: 'SN-SHARED-1' });
    await sys.manufacturer.sell('SN-SHARED-1', network.owner);
    const second = new DeviceAgent(new MemorySecureStore(), sys.ctx);
    await other.factory.mint(second.store, { model: 'm', serialNumber: 'SN-SHARED-1' });
    await other.sell('SN-SHARED-1', network.owner);

    const onboarded = await first.onboard(registrarUrl);
    await expect(second.onboard(registrarUrl)).rejects.toMatchObject({
      code: 'ERR_IDEVID_MISMATCH',
    });
    const record = await network.inventory.device('SN-SHARED-1');
    expect(record.state).toBe('onboarded');
    expect(record.ldevid_serial).toBe(onboarded.ldevidSerial);
    expect(
      (await network.inventory.certificates('SN-SHARED-1')).every((c) => c.revoked_at === null),
    ).toBe(true);
    expect(await second.onboardingCredentials()).toBeUndefined();
  });
});
