/**
 * The authorization policy file (src/protocols/policy/parse.ts, docs/POLICY.md): YAML and JSON
 * read into one normalized Policy, and every error ERR_POLICY_INVALID naming the line and the
 * field path (that naming is the feature, so these tests assert those parts of the message).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isAirlockError, type AirlockError } from '../../src/core/errors.js';
import { MAX_POLICY_BYTES, parsePolicy } from '../../src/protocols/policy/parse.js';
import type { Policy } from '../../src/core/policy/policy.js';

const ACME = '3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const GLOBEX = 'Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm8';

const FULL_YAML = `version: 1
manufacturers:
  acme: ${ACME}
locations:
  lobby: [AL-0001, AL-0002]
  lab: AL-0100
defaults:
  segment: iot
  attestation: [affirming, warning]
rules:
  - name: cameras
    match:
      manufacturer: acme
      model: [camera-c1, camera-c2]
      location: lobby
      attestation: [affirming, warning]
    action: allow
    segment: video
    require:
      attestation: [affirming]
      min-firmware: 1.2.0
      debug: disabled
  - name: globex-any
    match:
      manufacturer: [${GLOBEX}]
  - name: quarantine
    match: { location: [lab, lobby], attestation: none }
    action: deny
default: allow
`;

const FULL_JSON = JSON.stringify(
  {
    version: 1,
    manufacturers: { acme: ACME },
    locations: { lobby: ['AL-0001', 'AL-0002'], lab: 'AL-0100' },
    defaults: { segment: 'iot', attestation: ['affirming', 'warning'] },
    rules: [
      {
        name: 'cameras',
        match: {
          manufacturer: 'acme',
          model: ['camera-c1', 'camera-c2'],
          location: 'lobby',
          attestation: ['affirming', 'warning'],
        },
        action: 'allow',
        segment: 'video',
        require: { attestation: ['affirming'], 'min-firmware': '1.2.0', debug: 'disabled' },
      },
      { name: 'globex-any', match: { manufacturer: [GLOBEX] } },
      {
        name: 'quarantine',
        match: { location: ['lab', 'lobby'], attestation: 'none' },
        action: 'deny',
      },
    ],
    default: 'allow',
  },
  null,
  2,
);

const FULL_POLICY: Policy = {
  version: 1,
  manufacturers: { acme: ACME },
  locations: { lobby: ['AL-0001', 'AL-0002'], lab: ['AL-0100'] },
  defaults: { segment: 'iot', attestation: ['affirming', 'warning'] },
  rules: [
    {
      name: 'cameras',
      match: {
        manufacturers: [ACME],
        models: ['camera-c1', 'camera-c2'],
        locations: ['lobby'],
        serials: ['AL-0001', 'AL-0002'],
        attestation: ['affirming', 'warning'],
      },
      action: 'allow',
      segment: 'video',
      require: { attestation: ['affirming'], minFirmware: '1.2.0', debug: 'disabled' },
    },
    {
      name: 'globex-any',
      match: {
        manufacturers: [GLOBEX],
        models: null,
        locations: null,
        serials: null,
        attestation: null,
      },
      action: 'allow',
      segment: 'iot',
      require: { attestation: ['affirming', 'warning'], minFirmware: null, debug: null },
    },
    {
      name: 'quarantine',
      match: {
        manufacturers: null,
        models: null,
        locations: ['lab', 'lobby'],
        serials: ['AL-0100', 'AL-0001', 'AL-0002'],
        attestation: ['none'],
      },
      action: 'deny',
      segment: null,
      require: null,
    },
  ],
  default: 'allow',
};

/** The ERR_POLICY_INVALID that parsing `text` throws (fails the test if it parses). */
function invalid(text: string, opts?: { source?: string }): AirlockError {
  try {
    parsePolicy(text, opts);
  } catch (e) {
    if (isAirlockError(e, 'ERR_POLICY_INVALID')) return e;
    throw e;
  }
  throw new Error('expected ERR_POLICY_INVALID, the policy parsed');
}

/** Asserts that parsing fails with a problem on `line` at field `path`. */
function expectProblemAt(text: string, line: number, path: string, words?: string): void {
  const e = invalid(text);
  expect(e.message).toContain(path === '' ? `line ${line}: ` : `line ${line}: ${path}: `);
  if (words !== undefined) expect(e.message).toContain(words);
}

describe('reading a policy', () => {
  it('reads the YAML and the JSON form of a policy into the same normalized Policy', () => {
    const fromYaml = parsePolicy(FULL_YAML);
    expect(fromYaml).toEqual(FULL_POLICY);
    expect(parsePolicy(FULL_JSON)).toEqual(fromYaml);
    // plain data: it survives JSON
    expect(JSON.parse(JSON.stringify(fromYaml))).toEqual(fromYaml);
  });

  it('fills in every default', () => {
    const p = parsePolicy('version: 1\nrules:\n  - name: all\n');
    expect(p).toEqual({
      version: 1,
      manufacturers: {},
      locations: {},
      defaults: { segment: 'default', attestation: ['affirming'] },
      rules: [
        {
          name: 'all',
          match: {
            manufacturers: null,
            models: null,
            locations: null,
            serials: null,
            attestation: null,
          },
          action: 'allow',
          segment: 'default',
          require: { attestation: ['affirming'], minFirmware: null, debug: null },
        },
      ],
      default: 'deny',
    });
  });

  it('takes an empty match, requirement or section as nothing said', () => {
    const p = parsePolicy(
      'version: 1\nmanufacturers:\nlocations: {}\nrules:\n  - name: a\n    match:\n    require: {}\n',
    );
    expect(p.rules[0]!.match.manufacturers).toBeNull();
    expect(p.rules[0]!.require).toEqual({
      attestation: ['affirming'],
      minFirmware: null,
      debug: null,
    });
  });

  it('resolves aliases, and takes a party id written directly', () => {
    const p = parsePolicy(
      `version: 1\nmanufacturers: {acme: ${ACME}}\nrules:\n  - name: a\n    match: {manufacturer: [acme, ${GLOBEX}]}\n`,
    );
    expect(p.rules[0]!.match.manufacturers).toEqual([ACME, GLOBEX]);
  });

  it('reads numbers as they are written where a string is expected', () => {
    const p = parsePolicy(
      'version: 1\nlocations:\n  shelf: [0001, 12]\nrules:\n  - name: a\n    match: {model: 1000}\n    require: {min-firmware: 1.10}\n',
    );
    expect(p.locations['shelf']).toEqual(['0001', '12']);
    expect(p.rules[0]!.match.models).toEqual(['1000']);
    expect(p.rules[0]!.require!.minFirmware).toBe('1.10');
  });

  it('reads the complete example of docs/POLICY.md', () => {
    const doc = readFileSync(new URL('../../docs/POLICY.md', import.meta.url), 'utf8');
    const example = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
    const p = parsePolicy(example);
    expect(p.rules.map((r) => [r.name, r.action, r.segment])).toEqual([
      ['lab-quarantine', 'allow', 'quarantine'],
      ['cameras', 'allow', 'video'],
      ['thermostats', 'allow', 'iot'],
      ['no-contraindicated', 'deny', null],
    ]);
    expect(p.locations['lab']).toEqual(['AL-0100', '0101']);
  });
});

describe('errors name the line and the field', () => {
  const ok = 'version: 1\nrules:\n  - name: a\n';

  it('an unknown top-level field', () => {
    expectProblemAt(`${ok}colour: red\n`, 4, 'colour', 'unknown field');
  });

  it('an unknown field of a rule, at the line of that field', () => {
    const text = 'version: 1\nrules:\n  - name: a\n  - name: b\n    segment: x\n    colour: red\n';
    expectProblemAt(text, 6, 'rules[1].colour', 'unknown field');
  });

  it('an unknown field of match and of require', () => {
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    match:\n      serial: X\n',
      5,
      'rules[0].match.serial',
    );
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    require:\n      tpm: yes\n',
      5,
      'rules[0].require.tpm',
    );
  });

  it('a value of the wrong type', () => {
    expectProblemAt('version: 1\nrules:\n  name: a\n', 2, 'rules', 'must be a list of rules');
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n  - name: b\n    require:\n      attestation: 5\n',
      6,
      'rules[1].require.attestation',
      'must be a list of affirming, warning, contraindicated',
    );
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    match: [x]\n',
      4,
      'rules[0].match',
      'must be a mapping',
    );
  });

  it('an attestation status that does not exist', () => {
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    match:\n      attestation: [none, fine]\n',
      5,
      'rules[0].match.attestation',
    );
  });

  it('a bad segment name', () => {
    expectProblemAt('version: 1\nrules:\n  - name: a\n    segment: Video\n', 4, 'rules[0].segment');
    expectProblemAt(
      'version: 1\ndefaults:\n  segment: ""\nrules:\n  - name: a\n',
      3,
      'defaults.segment',
    );
    expectProblemAt(
      `version: 1\nrules:\n  - name: a\n    segment: ${'a'.repeat(33)}\n`,
      4,
      'rules[0].segment',
    );
  });

  it('a bad rule name, and a missing one', () => {
    expectProblemAt('version: 1\nrules:\n  - name: two words\n', 3, 'rules[0].name');
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n  - match: {}\n',
      4,
      'rules[1].name',
      'is required',
    );
  });

  it('a version string that is not dotted numeric', () => {
    for (const v of ['v1.2', '1.2.', '1..2', '1.2-beta', '"1.2 "']) {
      expectProblemAt(
        `version: 1\nrules:\n  - name: a\n    require:\n      min-firmware: ${v}\n`,
        5,
        'rules[0].require.min-firmware',
        'dotted numeric',
      );
    }
    expect(
      parsePolicy('version: 1\nrules:\n  - name: a\n    require:\n      min-firmware: 7\n')
        .rules[0]!.require!.minFirmware,
    ).toBe('7');
  });

  it('duplicate rule names, at the line of the second', () => {
    const text = 'version: 1\nrules:\n  - name: a\n  - name: b\n  - name: a\n    action: deny\n';
    expectProblemAt(text, 5, 'rules[2].name', 'duplicate rule name');
  });

  it('a manufacturer alias that is not defined', () => {
    const text = `version: 1\nmanufacturers:\n  acme: ${ACME}\nrules:\n  - name: a\n    match:\n      manufacturer: [acme,\n        initech]\n`;
    expectProblemAt(text, 8, 'rules[0].match.manufacturer[1]', 'initech');
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    match:\n      manufacturer: acme\n',
      5,
      'rules[0].match.manufacturer',
    );
  });

  it('a location that is not defined, and a serial in two locations', () => {
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    match: {location: attic}\n',
      4,
      'rules[0].match.location',
    );
    expectProblemAt(
      'version: 1\nlocations:\n  lobby: [A, B]\n  lab:\n    - C\n    - A\nrules:\n  - name: a\n',
      6,
      'locations.lab[1]',
      'already in location lobby',
    );
  });

  it('an alias that is not a party id, or that looks like one', () => {
    expectProblemAt(
      `version: 1\nmanufacturers:\n  acme: ${ACME}x\nrules:\n  - name: a\n`,
      3,
      'manufacturers.acme',
      'party id',
    );
    expectProblemAt(
      `version: 1\nmanufacturers:\n  ${GLOBEX}: ${ACME}\nrules:\n  - name: a\n`,
      3,
      `manufacturers.${GLOBEX}`,
    );
    expectProblemAt(
      `version: 1\nlocations:\n  __proto__: [A]\nrules:\n  - name: a\n`,
      3,
      'locations.__proto__',
    );
  });

  it('a YAML syntax error, at its line', () => {
    expectProblemAt('version: 1\nrules:\n  - name: a\n    match: {model: [x, y}\n', 4, '', 'YAML');
    expectProblemAt('version: 1\nrules:\n  - name: a\n   bad indent: 1\n', 4, '', 'YAML');
  });

  it('a duplicate key', () => {
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    segment: x\n    segment: y\n',
      5,
      'rules[0].segment',
      'duplicate key',
    );
    expectProblemAt('version: 1\nrules:\n  - name: a\nversion: 1\n', 4, 'version', 'duplicate key');
  });

  it('a version other than 1', () => {
    expectProblemAt('version: 2\nrules:\n  - name: a\n', 1, 'version', 'must be 1');
    expectProblemAt('version: "1"\nrules:\n  - name: a\n', 1, 'version', 'must be 1');
    expectProblemAt('rules:\n  - name: a\n', 1, 'version', 'is required');
  });

  it('no rules', () => {
    expectProblemAt('version: 1\nrules: []\n', 2, 'rules', 'at least one rule');
    expectProblemAt('version: 1\n', 1, 'rules', 'is required');
  });

  it('a deny rule with a segment or requirements', () => {
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    action: deny\n    segment: x\n',
      5,
      'rules[0].segment',
      'deny',
    );
    expectProblemAt(
      'version: 1\nrules:\n  - name: a\n    action: deny\n    require: {debug: disabled}\n',
      5,
      'rules[0].require',
      'deny',
    );
    expectProblemAt('version: 1\nrules:\n  - name: a\n    action: block\n', 4, 'rules[0].action');
  });

  it('an error in JSON, at the line of the bad field in the JSON text', () => {
    const json = JSON.stringify(
      { version: 1, rules: [{ name: 'a' }, { name: 'b', require: { attestation: ['great'] } }] },
      null,
      2,
    );
    const line = json.split('\n').findIndex((l) => l.includes('"attestation"')) + 1;
    expect(line).toBeGreaterThan(5);
    expectProblemAt(json, line, 'rules[1].require.attestation');
  });

  it('text larger than 256 KiB', () => {
    const big = `${ok}# ${'x'.repeat(MAX_POLICY_BYTES)}\n`;
    expectProblemAt(big, 1, '', 'exceeds');
    // the cap counts UTF-8 bytes, not characters
    const wide = `${ok}# ${'é'.repeat(MAX_POLICY_BYTES / 2)}\n`;
    expect(wide.length).toBeLessThan(MAX_POLICY_BYTES);
    expectProblemAt(wide, 1, '', 'exceeds');
  });

  it('empty text, several documents, anchors and aliases', () => {
    expectProblemAt('', 1, '', 'empty');
    expectProblemAt(`${ok}---\n${ok}`, 4, '', 'YAML');
    expectProblemAt('version: 1\nrules:\n  - &r {name: a}\n  - *r\n', 4, 'rules[1]', 'aliases');
  });

  it('reports every structural problem at once, in line order, with the source named', () => {
    const e = invalid('version: 2\ncolour: red\nrules:\n  - name: a\n    segment: X\n', {
      source: 'site.yaml',
    });
    expect(e.message).toContain('site.yaml: line 1: version: ');
    expect(e.message.indexOf('line 2: colour')).toBeGreaterThan(e.message.indexOf('line 1:'));
    expect(e.message.indexOf('line 5: rules[0].segment')).toBeGreaterThan(
      e.message.indexOf('line 2:'),
    );
    expect(e.details).toEqual({ line: 1, path: 'version', source: 'site.yaml' });
  });
});
