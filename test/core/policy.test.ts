/**
 * Evaluating the authorization policy (src/core/policy/policy.ts): the first matching rule
 * decides, requirements deny without falling through, attestation defaults to affirming, and
 * DEFAULT_POLICY and sameDecision do what their documentation says. Policies are written in
 * the file format (parsePolicy), as an administrator would.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  compareVersions,
  evaluatePolicy,
  sameDecision,
  type Decision,
  type PolicySubject,
} from '../../src/core/policy/policy.js';
import { parsePolicy } from '../../src/protocols/policy/parse.js';

const ACME = '3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const GLOBEX = 'Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm8';

type Attestation = PolicySubject['attestation'];
const affirming: Attestation = { status: 'affirming', swversion: '2.0.0', dbgstat: 'disabled' };

function device(over: Partial<PolicySubject> = {}): PolicySubject {
  return {
    serial: 'AL-0001',
    manufacturer: { id: ACME, name: 'Acme' },
    model: 'camera-c1',
    attestation: affirming,
    ...over,
  };
}

const policy = (rules: string, head = '') =>
  parsePolicy(`version: 1\nmanufacturers: {acme: ${ACME}}\n${head}rules:\n${rules}`);

describe('evaluating a policy', () => {
  it('denies a model no rule allows, by the default rule', () => {
    const p = policy('  - name: cameras\n    match: {model: camera-c1}\n    segment: video\n');
    const d = evaluatePolicy(p, device({ model: 'doorbell-d1' }));
    expect(d).toMatchObject({ action: 'deny', segment: null, rule: 'default' });
    expect(d.reasons.length).toBeGreaterThan(0);
    expect(evaluatePolicy(p, device())).toMatchObject({ action: 'allow', segment: 'video' });
    // a device whose birth certificate names no model matches no model rule
    expect(evaluatePolicy(p, device({ model: undefined })).rule).toBe('default');
  });

  it('lets the first matching rule decide', () => {
    const p = policy(
      [
        '  - name: blocked-serial',
        '    match: {location: bad}',
        '    action: deny',
        '  - name: acme',
        '    match: {manufacturer: acme}',
        '    segment: acme',
        '  - name: everyone',
        '    segment: other',
      ].join('\n') + '\n',
      'locations:\n  bad: [AL-0666]\n',
    );
    expect(evaluatePolicy(p, device({ serial: 'AL-0666' }))).toMatchObject({
      action: 'deny',
      rule: 'blocked-serial',
    });
    expect(evaluatePolicy(p, device())).toMatchObject({ rule: 'acme', segment: 'acme' });
    const globex = device({ manufacturer: { id: GLOBEX, name: 'Globex' } });
    expect(evaluatePolicy(p, globex)).toMatchObject({ rule: 'everyone', segment: 'other' });
  });

  it('puts two models into two segments', () => {
    const p = policy(
      '  - name: cameras\n    match: {model: camera-c1}\n    segment: video\n' +
        '  - name: thermostats\n    match: {model: [thermo-t1, thermo-t2]}\n    segment: hvac\n',
    );
    expect(evaluatePolicy(p, device())).toEqual<Decision>({
      action: 'allow',
      segment: 'video',
      rule: 'cameras',
      reasons: ['rule cameras allows into segment video'],
    });
    expect(evaluatePolicy(p, device({ model: 'thermo-t2' }))).toMatchObject({
      action: 'allow',
      segment: 'hvac',
      rule: 'thermostats',
    });
  });

  it('matches the location the administrator declared for the serial number', () => {
    const p = policy(
      '  - name: lobby-cams\n    match: {location: [lobby, hall]}\n    segment: lobby\n' +
        '  - name: others\n    segment: rest\n',
      'locations:\n  lobby: [AL-0001, AL-0002]\n  hall: AL-0003\n  lab: [AL-0004]\n',
    );
    for (const serial of ['AL-0001', 'AL-0002', 'AL-0003']) {
      expect(evaluatePolicy(p, device({ serial })).segment).toBe('lobby');
    }
    expect(evaluatePolicy(p, device({ serial: 'AL-0004' })).segment).toBe('rest');
    expect(evaluatePolicy(p, device({ serial: 'AL-9999' })).segment).toBe('rest');
  });

  it('matches on attestation `none`: a device that presented no evidence', () => {
    const p = policy(
      '  - name: no-evidence\n    match: {attestation: none}\n    segment: quarantine\n' +
        '    require: {attestation: none}\n  - name: attested\n    segment: main\n',
    );
    expect(evaluatePolicy(p, device({ attestation: null }))).toMatchObject({
      action: 'allow',
      segment: 'quarantine',
      rule: 'no-evidence',
    });
    expect(evaluatePolicy(p, device())).toMatchObject({ segment: 'main', rule: 'attested' });
  });

  it('compares min-firmware numerically, part by part', () => {
    const p = policy('  - name: fw\n    require: {min-firmware: 1.9.9}\n');
    const at = (swversion: string | undefined) =>
      evaluatePolicy(p, device({ attestation: { status: 'affirming', swversion } })).action;
    expect(at('1.10.0')).toBe('allow');
    expect(at('1.9.9')).toBe('allow');
    expect(at('2')).toBe('allow');
    expect(at('1.9.8')).toBe('deny');
    expect(at('1.9')).toBe('deny');
    expect(at('1.9.9-beta')).toBe('deny');
    expect(at(undefined)).toBe('deny');
    const d = evaluatePolicy(
      p,
      device({ attestation: { status: 'affirming', swversion: '1.9.8' } }),
    );
    expect(d).toMatchObject({ rule: 'fw', segment: null });
    expect(d.reasons.join()).toContain('1.9.9');
    expect(compareVersions('1.2', '1.2.0')).toBe(0);
    expect(compareVersions('1.10', '1.9')).toBe(1);
    expect(compareVersions('0.9', '1')).toBe(-1);
  });

  it('requires debug disabled: enabled and absent fail, every disabled state passes', () => {
    const p = policy('  - name: nodebug\n    require: {debug: disabled}\n');
    const at = (dbgstat: string | undefined) =>
      evaluatePolicy(p, device({ attestation: { status: 'affirming', dbgstat } })).action;
    expect(at('disabled')).toBe('allow');
    expect(at('disabled-permanently')).toBe('allow');
    expect(at('disabled-fully-and-permanently')).toBe('allow');
    expect(at('enabled')).toBe('deny');
    expect(at(undefined)).toBe('deny');
  });

  it('refuses a warning result by default, and accepts it when the rule lists it', () => {
    const strict = policy('  - name: any\n');
    const warning = device({ attestation: { status: 'warning' } });
    const d = evaluatePolicy(strict, warning);
    expect(d).toMatchObject({ action: 'deny', rule: 'any' });
    expect(d.reasons).toEqual(['rule any requires attestation affirming, got warning']);
    const lenient = policy('  - name: any\n    require: {attestation: [affirming, warning]}\n');
    expect(evaluatePolicy(lenient, warning).action).toBe('allow');
    const byDefaults = policy('  - name: any\n', 'defaults: {attestation: [affirming, warning]}\n');
    expect(evaluatePolicy(byDefaults, warning).action).toBe('allow');
    expect(
      evaluatePolicy(lenient, device({ attestation: { status: 'contraindicated' } })).action,
    ).toBe('deny');
  });

  it('denies a device without attestation under the defaults, allows it when `none` is listed', () => {
    const strict = policy('  - name: any\n');
    expect(evaluatePolicy(strict, device({ attestation: null }))).toMatchObject({
      action: 'deny',
      rule: 'any',
    });
    const open = policy('  - name: any\n    require: {attestation: [affirming, none]}\n');
    expect(evaluatePolicy(open, device({ attestation: null })).action).toBe('allow');
    expect(evaluatePolicy(open, device()).action).toBe('allow');
  });

  it('denies by the matching rule when a requirement fails: no fall-through to later rules', () => {
    const p = policy(
      '  - name: cameras\n    match: {model: camera-c1}\n    require: {min-firmware: 3}\n' +
        '  - name: fallback\n    segment: rest\n',
    );
    expect(evaluatePolicy(p, device())).toMatchObject({ action: 'deny', rule: 'cameras' });
    expect(evaluatePolicy(p, device({ model: 'other' }))).toMatchObject({ rule: 'fallback' });
  });

  it('reports every requirement a device fails', () => {
    const p = policy(
      '  - name: all\n    require: {attestation: affirming, min-firmware: 2, debug: disabled}\n',
    );
    const d = evaluatePolicy(p, device({ attestation: null }));
    expect(d.reasons).toHaveLength(3);
  });

  it('with `default: allow`, lets an unmatched device into defaults.segment (still attested)', () => {
    const p = parsePolicy(
      'version: 1\ndefaults: {segment: guest}\nrules:\n  - name: cams\n    match: {model: camera-c1}\n    segment: video\ndefault: allow\n',
    );
    expect(evaluatePolicy(p, device({ model: 'toaster' }))).toMatchObject({
      action: 'allow',
      segment: 'guest',
      rule: 'default',
    });
    expect(evaluatePolicy(p, device({ model: 'toaster', attestation: null }))).toMatchObject({
      action: 'deny',
      segment: null,
      rule: 'default',
    });
  });
});

describe('DEFAULT_POLICY', () => {
  it('allows an affirming device of any trusted manufacturer into segment default', () => {
    for (const d of [
      device(),
      device({ manufacturer: { id: GLOBEX, name: 'G' }, model: undefined }),
    ]) {
      expect(evaluatePolicy(DEFAULT_POLICY, d)).toMatchObject({
        action: 'allow',
        segment: 'default',
      });
    }
  });

  it('denies a device without attestation, or with a warning or contraindicated result', () => {
    for (const attestation of [
      null,
      { status: 'warning' },
      { status: 'contraindicated' },
    ] as const) {
      expect(evaluatePolicy(DEFAULT_POLICY, device({ attestation }))).toMatchObject({
        action: 'deny',
        segment: null,
      });
    }
  });

  it('is plain data that cannot be changed by accident', () => {
    expect(JSON.parse(JSON.stringify(DEFAULT_POLICY))).toEqual(DEFAULT_POLICY);
    expect(Object.isFrozen(DEFAULT_POLICY.rules[0]!.require!.attestation)).toBe(true);
  });
});

describe('sameDecision', () => {
  const allow = (segment: string, rule: string): Decision => ({
    action: 'allow',
    segment,
    rule,
    reasons: [`rule ${rule}`],
  });
  const deny = (rule: string): Decision => ({ action: 'deny', segment: null, rule, reasons: [] });

  it('is true when the device stays where it is, whichever rule says so', () => {
    expect(sameDecision(allow('iot', 'a'), allow('iot', 'b'))).toBe(true);
    expect(sameDecision(deny('a'), deny('default'))).toBe(true);
  });

  it('is false when the device would move segment, or be let in or shut out', () => {
    expect(sameDecision(allow('iot', 'a'), allow('video', 'a'))).toBe(false);
    expect(sameDecision(allow('iot', 'a'), deny('a'))).toBe(false);
    expect(sameDecision(deny('a'), allow('iot', 'a'))).toBe(false);
  });

  it('tells which onboarded devices a policy change moves', () => {
    const before = policy('  - name: cams\n    match: {model: camera-c1}\n    segment: video\n');
    const after = policy(
      '  - name: cameras\n    match: {model: camera-c1}\n    segment: video\n' +
        '  - name: doorbells\n    match: {model: doorbell-d1}\n    segment: video\n',
    );
    const cam = device();
    const bell = device({ model: 'doorbell-d1' });
    expect(sameDecision(evaluatePolicy(before, cam), evaluatePolicy(after, cam))).toBe(true);
    expect(sameDecision(evaluatePolicy(before, bell), evaluatePolicy(after, bell))).toBe(false);
  });
});
