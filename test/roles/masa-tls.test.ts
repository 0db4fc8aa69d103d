/**
 * The registrar reaches a MASA only over TLS that names the MASA URL's host and chains to a
 * manufacturer the network trusts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { Network } from '../../src/roles/network/index.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';

describe('TLS to the MASA', () => {
  let sys: TestSystem;
  let misnamed: Manufacturer;
  let network: Network;
  let registrarUrl: string;

  beforeAll(async () => {
    sys = await startTestSystem();
    // Its TLS certificate names only example.invalid, but it serves on 127.0.0.1.
    ({ manufacturer: misnamed } = await sys.otherManufacturer('misnamed', {
      name: 'Misnamed Inc',
      hostnames: ['example.invalid'],
    }));
    ({ network, url: registrarUrl } = await sys.otherNetwork('n', {
      manufacturers: [misnamed.trustBundle()],
      config: { ownerName: 'Careful Site' },
    }));
    // The misnamed manufacturer's devices cannot attest (the verifier trusts only the system's).
    await network.authorization.apply(UNATTESTED_ALLOWED);
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('refuses a MASA whose certificate does not name the host it was reached at', async () => {
    const agent = new DeviceAgent(new MemorySecureStore(), sys.ctx);
    const birth = await misnamed.factory.mint(agent.store, { model: 'm' });
    await misnamed.sell(birth.serialNumber, network.owner);
    await expect(agent.onboard(registrarUrl)).rejects.toMatchObject({
      code: 'ERR_MASA_UNREACHABLE',
    });
    await expect(network.inventory.device(birth.serialNumber)).rejects.toMatchObject({
      code: 'ERR_DEVICE_NOT_FOUND',
    });
  });

  it('refuses a device whose manufacturer the network does not trust, before any MASA is asked', async () => {
    const { agent } = await sys.newDevice({ sell: false });
    await expect(agent.onboard(registrarUrl)).rejects.toMatchObject({
      code: 'ERR_IDEVID_UNTRUSTED',
    });
    expect((await sys.manufacturer.db.selectFrom('masa_audit').selectAll().execute()).length).toBe(
      0,
    );
  });
});
