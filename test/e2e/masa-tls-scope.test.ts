/**
 * Each manufacturer's TLS anchors answer for its own MASA only. A network that trusts two
 * manufacturers must not let one of them answer for the other's MASA host: here manufacturer
 * B's server sits where a device of A says its MASA is (a network attacker with a certificate
 * from B's root would be in that place). The registrar refuses the connection, so B never
 * sees the registrar's voucher request and nothing is recorded for the device beyond its
 * attestation (steps 2 to 4, before the voucher).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import type { Network } from '../../src/roles/network/index.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode, randomKek } from '../support/wire.js';

describe("MASA TLS is trusted on its own manufacturer's anchors only", () => {
  let sys: TestSystem;
  let b: Manufacturer;
  let bUrl: string;
  let network: Network;
  let networkUrl: string;

  beforeAll(async () => {
    sys = await startTestSystem();
    b = await Manufacturer.open({
      ctx: sys.ctx,
      databaseFile: path.join(sys.dir, 'b.db'),
      kek: randomKek(),
      config: { name: 'Other Devices Ltd', publicUrl: 'https://127.0.0.1:1' },
    });
    bUrl = await b.serve(0);
    // Another network (closed with the system), asking the system's verifier.
    ({ network, url: networkUrl } = await sys.otherNetwork('both', {
      manufacturers: [sys.manufacturer.trustBundle(), b.trustBundle()],
      config: { ownerName: 'Trusts Both' },
    }));
  });
  afterAll(async () => {
    await b?.close();
    await sys?.close();
  });

  async function deviceOfA(masaUrl: string) {
    const cfg = sys.manufacturer.config;
    const original = cfg.publicUrl;
    cfg.publicUrl = masaUrl;
    // A's firmware, released before the device is made; the device measures it and attests.
    const firmware = await sys.firmwareOf('sensor-s1');
    try {
      const store = new MemorySecureStore();
      const birth = await sys.manufacturer.factory.mint(store, { model: 'sensor-s1' });
      await sys.manufacturer.sell(birth.serialNumber, network.owner);
      const agent = new DeviceAgent(store, sys.ctx, { measuredBoot: fileMeasuredBoot(firmware) });
      return { agent, serial: birth.serialNumber };
    } finally {
      cfg.publicUrl = original;
    }
  }

  it("a device of A whose MASA host answers with B's certificate is refused before anything is sent", async () => {
    const before = await b.db.selectFrom('masa_audit').selectAll().execute();
    const { agent, serial } = await deviceOfA(bUrl);
    expect(await errorCode(() => agent.onboard(networkUrl))).toBe('ERR_MASA_UNREACHABLE');
    expect(await b.db.selectFrom('masa_audit').selectAll().execute()).toEqual(before);
    // The network recorded the attestation (steps 2 to 4) and nothing after it: no voucher.
    expect(
      await network.db
        .selectFrom('net_devices')
        .select(['state', 'nonce', 'voucher_at', 'ldevid_serial'])
        .where('serial', '=', serial)
        .executeTakeFirst(),
    ).toEqual({ state: 'attested', nonce: null, voucher_at: null, ldevid_serial: null });
    expect(await network.inventory.certificates(serial)).toEqual([]);
    expect(await agent.onboardingCredentials()).toBeUndefined();
  });

  it("the control: a device of A with A's own MASA onboards on the same network", async () => {
    const { agent, serial } = await deviceOfA(sys.manufacturerUrl);
    await agent.onboard(networkUrl);
    expect((await network.inventory.device(serial)).state).toBe('onboarded');
  });
});
