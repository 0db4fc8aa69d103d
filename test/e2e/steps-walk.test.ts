/**
 * One device walked through NIST IR 8350 Figure 9: the device's journal and the registrar's
 * audit trail both record the steps Airlock performs, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stepName } from '../../src/core/onboarding-steps.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';

describe('the onboarding steps, device journal and registrar audit trail', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('records steps 1, 2, 3, 5, 6, 7, 9, 10, 14, 15 on the device and 2, 3, 4, 5, 6, 7, 8, 14, 15 at the registrar: Figure 9 steps 1 to 10, 14 and 15 in order', async () => {
    const { agent, serial } = await sys.newDevice();
    const before = new Date();
    const report = await agent.onboard(sys.registrarUrl);
    const after = new Date();

    expect(report.steps.map((s) => s.step)).toEqual([1, 2, 3, 5, 6, 7, 9, 10, 14, 15]);
    for (const s of report.steps) expect(s.name).toBe(stepName[s.step]);
    const times = report.steps.map((s) => Date.parse(s.at));
    for (const t of times) {
      expect(Number.isNaN(t)).toBe(false);
      expect(t).toBeGreaterThanOrEqual(before.getTime());
      expect(t).toBeLessThanOrEqual(after.getTime());
    }
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!);

    const events = await sys.network.inventory.events(serial);
    expect(events.length).toBeGreaterThan(0);
    expect(events.filter((e) => e.outcome !== 'ok')).toEqual([]);
    const stepped = events.filter((e) => e.step !== null);
    // Every registrar step, in the order first recorded, and nothing out of order after.
    const firsts: number[] = [];
    for (const e of stepped) if (!firsts.includes(e.step!)) firsts.push(e.step!);
    expect(firsts).toEqual([2, 3, 4, 5, 6, 7, 8, 14, 15]);
    const seq = stepped.map((e) => e.step!);
    for (let i = 1; i < seq.length; i++) expect(seq[i]!).toBeGreaterThanOrEqual(seq[i - 1]!);
    const eventTimes = events.map((e) => Date.parse(e.at));
    for (let i = 1; i < eventTimes.length; i++)
      expect(eventTimes[i]!).toBeGreaterThanOrEqual(eventTimes[i - 1]!);
    // Both records together: each step first performed in the order of Figure 9, 1 to 10, 14, 15.
    const first = new Map<number, number>();
    for (const [step, at] of [
      ...report.steps.map((s) => [s.step, Date.parse(s.at)] as const),
      ...stepped.map((e) => [e.step!, Date.parse(e.at)] as const),
    ])
      first.set(step, Math.min(first.get(step) ?? Infinity, at));
    expect([...first.keys()].sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15,
    ]);
    const byStep = [...first.entries()].sort((a, b) => a[0] - b[0]).map(([, at]) => at);
    for (let i = 1; i < byStep.length; i++)
      expect(byStep[i]!).toBeGreaterThanOrEqual(byStep[i - 1]!);
    // Step 4 admitted the device; step 8 placed it in a segment, and the inventory says so.
    const verified = stepped.find((e) => e.step === 4)!;
    expect(JSON.parse(verified.detail!)).toMatchObject({ status: 'affirming', decision: 'allow' });
    expect(await sys.network.inventory.device(serial)).toMatchObject({
      attestation_status: 'affirming',
      decision: 'allow',
      segment: 'default',
    });
    // The device's onboarding ended with enrollment status, after step 15.
    expect(events[events.length - 1]!.action).toBe('enrollstatus');
    expect((await sys.network.inventory.device(serial)).state).toBe('onboarded');
  });
});
