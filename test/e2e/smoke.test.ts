import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';

describe('zero-touch onboarding, end to end', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('onboards a device sold to the network owner, performing steps 1, 2, 3, 5, 6, 7, 9, 10, 14, 15 in order', async () => {
    const { agent, serial } = await sys.newDevice();
    const report = await agent.onboard(sys.registrarUrl);
    expect(report.serialNumber).toBe(serial);
    expect(report.steps.map((s) => s.step)).toEqual([1, 2, 3, 5, 6, 7, 9, 10, 14, 15]);
    expect((await sys.network.inventory.device(serial)).state).toBe('onboarded');
  });
});
