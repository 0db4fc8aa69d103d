/**
 * The request log: one line per request at info, naming the device once the registrar has
 * identified it, and never a secret (the secrets test searches the same file for every form).
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';

describe('request log', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('names the verified device serial on each onboarding request, and the status and code of a refusal', async () => {
    const { agent, serial } = await sys.newDevice();
    await agent.onboard(sys.registrarUrl);
    const stranger = await sys.newDevice({ sell: false });
    await expect(stranger.agent.onboard(sys.registrarUrl)).rejects.toMatchObject({
      code: 'ERR_MASA_NOT_AUTHORIZED',
    });

    const lines = fs
      .readFileSync(sys.logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter(
      (l) => typeof l.path === 'string' && typeof l.status === 'number',
    );
    const enroll = requests.find((l) => l.path === '/.well-known/est/simpleenroll');
    expect(enroll).toMatchObject({ method: 'POST', status: 200, serial });
    expect(typeof enroll!.ms).toBe('number');
    for (const path of [
      '/.well-known/brski/requestvoucher',
      '/.well-known/airlock/wifi',
      '/.well-known/brski/enrollstatus',
    ]) {
      expect(
        requests.find((l) => l.path === path && l.serial === serial),
        path,
      ).toBeDefined();
    }
    // The refused device is not named as verified.
    const refused = requests.find(
      (l) => l.path === '/.well-known/brski/requestvoucher' && l.status === 403,
    );
    expect(refused).toMatchObject({ code: 'ERR_MASA_NOT_AUTHORIZED' });
    expect(refused!.serial).toBeUndefined();
  });
});
