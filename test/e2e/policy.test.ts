/**
 * The authorization policy (NIST IR 8350 step 8, report section 5.1.2) against running roles:
 * models the administrator did not allow are refused before anything is issued; devices of
 * two types land in the two segments the policy names; a policy file with an error is refused
 * with a message that names where, and changes nothing; a policy change moves an onboarded
 * device, and its audit trail records the move.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/errors.js';
import { tempDir } from '../support/wire.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

const TWO_SEGMENTS = `# sensors and cameras each in their own segment; nothing else
version: 1
rules:
  - name: sensors
    match:
      model: sensor-s1
    segment: sensors
  - name: cameras
    match: { model: [camera-c1] }
    segment: video
    require:
      min-firmware: 1.0.0
      debug: disabled
default: deny
`;

describe('the authorization policy (step 8)', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ policy: TWO_SEGMENTS });
  });
  afterAll(async () => sys?.close());

  const issued = async (serial: string) =>
    (await sys.network.inventory.certificates(serial)).length;

  it('devices of two types land in the two segments the policy names, with the rule that placed them', async () => {
    const sensor = await sys.newDevice({ model: 'sensor-s1' });
    const camera = await sys.newDevice({ model: 'camera-c1' });
    await sensor.agent.onboard(sys.registrarUrl);
    await camera.agent.onboard(sys.registrarUrl);
    expect(await sys.network.inventory.device(sensor.serial)).toMatchObject({
      state: 'onboarded',
      decision: 'allow',
      segment: 'sensors',
      policy_rule: 'sensors',
    });
    expect(await sys.network.inventory.device(camera.serial)).toMatchObject({
      state: 'onboarded',
      decision: 'allow',
      segment: 'video',
      policy_rule: 'cameras',
    });
    // Step 8 is in each audit trail, after step 7, with the decision.
    const events = await sys.network.inventory.events(camera.serial);
    const steps = events.filter((e) => e.step !== null).map((e) => e.step);
    expect(steps.indexOf(8)).toBeGreaterThan(steps.indexOf(7));
    const decision = events.find((e) => e.step === 8)!;
    expect(JSON.parse(decision.detail!)).toMatchObject({
      decision: 'allow',
      segment: 'video',
      rule: 'cameras',
    });
  });

  it('a model the policy does not allow is refused at step 4, before a voucher, and nothing is issued', async () => {
    const { agent, serial } = await sys.newDevice({ model: 'doorbell-d1' });
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_POLICY_DENIED');
    expect(await issued(serial)).toBe(0);
    expect(await agent.onboardingCredentials()).toBeUndefined();
    const record = await sys.network.inventory.device(serial);
    expect(record).toMatchObject({ state: 'refused', decision: 'deny', policy_rule: 'default' });
    const step4 = (await sys.network.inventory.events(serial)).find((e) => e.step === 4)!;
    expect(step4).toMatchObject({ outcome: 'refused', code: 'ERR_POLICY_DENIED' });
    expect(JSON.parse(step4.detail!)).toMatchObject({ status: 'affirming', rule: 'default' });
    expect((await sys.network.inventory.events(serial)).some((e) => e.step === 5)).toBe(false);
  });

  it('a policy file with an error is refused with a message that names the line and the field, and changes nothing', async () => {
    const dir = tempDir('airlock-policy-');
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      bad,
      TWO_SEGMENTS.replace('    segment: video\n', '    segment: Video Wall\n'),
    );
    const err = await run(process.execPath, [bin, 'network', 'policy', 'check', bad]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/ERR_POLICY_INVALID/);
    expect(err?.stderr).toMatch(/line 10/);
    expect(err?.stderr).toMatch(/rules\[1\]\.segment/);
    // The same file, applied to the running network, is refused and the policy in force stays.
    const before = await sys.network.authorization.current();
    expect(
      await errorCode(() => sys.network.authorization.apply(fs.readFileSync(bad, 'utf8'))),
    ).toBe('ERR_POLICY_INVALID');
    expect((await sys.network.authorization.current()).id).toBe(before.id);
    // A good file checks.
    const good = path.join(dir, 'good.yaml');
    fs.writeFileSync(good, TWO_SEGMENTS);
    const { stdout } = await run(process.execPath, [bin, 'network', 'policy', 'check', good]);
    expect(stdout).toMatch(/valid, 2 rule\(s\): sensors, cameras/);
  });

  it('a policy change moves an onboarded device, records the move, and marks a device it now denies for quarantine', async () => {
    const sensor = await sys.newDevice({ model: 'sensor-s1' });
    const camera = await sys.newDevice({ model: 'camera-c1' });
    await sensor.agent.onboard(sys.registrarUrl);
    await camera.agent.onboard(sys.registrarUrl);
    const applied = await sys.network.authorization.apply(
      TWO_SEGMENTS.replace('segment: sensors', 'segment: lab').replace(
        'match: { model: [camera-c1] }',
        'match: { model: [camera-c9] }',
      ),
    );
    const moved = applied.changes.find((c) => c.serial === sensor.serial);
    expect(moved).toMatchObject({
      from: { decision: 'allow', segment: 'sensors' },
      to: { decision: 'allow', segment: 'lab', rule: 'sensors' },
      quarantined: false,
    });
    expect(await sys.network.inventory.device(sensor.serial)).toMatchObject({
      segment: 'lab',
      policy_id: applied.policyId,
      quarantine: null,
    });
    const record = (await sys.network.inventory.events(sensor.serial)).at(-1)!;
    expect(record).toMatchObject({
      step: 8,
      action: 'authorization policy changed',
      outcome: 'ok',
    });
    expect(JSON.parse(record.detail!)).toMatchObject({
      policy: applied.policyId,
      from: 'allow sensors (sensors)',
      to: 'allow lab (sensors)',
    });
    // The camera's model is no longer allowed: denied, and marked for quarantine.
    expect(applied.changes.find((c) => c.serial === camera.serial)).toMatchObject({
      to: { decision: 'deny', segment: null, rule: 'default' },
      quarantined: true,
    });
    expect(await sys.network.inventory.device(camera.serial)).toMatchObject({
      decision: 'deny',
      segment: null,
      quarantine: expect.stringMatching(/rule default/),
    });
    // Applying the same policy again moves nothing.
    const again = await sys.network.authorization.apply(
      TWO_SEGMENTS.replace('segment: sensors', 'segment: lab').replace(
        'match: { model: [camera-c1] }',
        'match: { model: [camera-c9] }',
      ),
    );
    expect(again.changes).toEqual([]);
  });
});
