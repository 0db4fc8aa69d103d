/**
 * The authorization policy file (NIST IR 8350 section 5.1.2, step 8): YAML or JSON text (JSON
 * is YAML, so one parser reads both), validated and normalized into a `Policy`
 * (src/core/policy/policy.ts). docs/POLICY.md describes it with a complete example.
 *
 * ```yaml
 * version: 1                 # required, must be 1
 * manufacturers:             # optional: alias -> manufacturer party id (43 base64url characters:
 *   acme: <party id>         #   SHA-256 of its root CA public key, as `airlock manufacturer init` prints)
 * locations:                 # optional: location -> serial numbers of the devices there
 *   lobby: [AL-0001, AL-0002]
 * defaults:                  # optional
 *   segment: iot             # segment of an allow rule that names none (default "default")
 *   attestation: [affirming] # what an allow rule accepts when it says nothing (default [affirming])
 * rules:                     # required, non-empty, in order: the first rule whose match matches decides
 *   - name: cameras          # required, unique, 1-64 characters [A-Za-z0-9._-]
 *     match:                 # optional (absent or {} matches every device); every given field must match
 *       manufacturer: acme   # alias or party id, or a list of them
 *       model: [camera-c1, camera-c2]     # model name, or a list
 *       location: lobby      # location name, or a list (the device's serial is listed there)
 *       attestation: [affirming, warning] # attestation status, or `none` (no evidence); or a list
 *     action: allow          # allow (default) or deny
 *     segment: video         # allow only: 1-32 characters [a-z0-9-]; default defaults.segment
 *     require:               # allow only: a device that fails a requirement is denied by this rule
 *       attestation: [affirming, warning] # accepted statuses (and `none`: no evidence accepted)
 *       min-firmware: 1.2.0  # the attestation's swversion >= this, compared numerically part by part
 *       debug: disabled      # the attestation's dbgstat is present and not `enabled`
 * default: deny              # when no rule matches: deny (default) or allow (into defaults.segment,
 *                            #   under defaults.attestation)
 * ```
 *
 * Every error is ERR_POLICY_INVALID, and its message names the line (1-based) and the field
 * path: `line 7: rules[1].require.attestation: must be ...`. Unknown fields, duplicate keys,
 * duplicate rule names, undefined aliases and locations, anchors and aliases, and more than one
 * document are errors. Numbers are read as written where a string is expected (a serial
 * `0001`, a version `1.10`), so the only number in the file is `version`.
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type Node as YamlNode,
} from 'yaml';
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { PARTY_ID } from '../../core/party.js';
import {
  DEFAULT_ATTESTATION,
  DEFAULT_SEGMENT,
  DOTTED_VERSION,
  type Policy,
  type PolicyRule,
} from '../../core/policy/policy.js';

/** The largest policy text accepted, in UTF-8 bytes. */
export const MAX_POLICY_BYTES = 256 * 1024;

/** The deepest nesting read: the format needs 5 levels. */
const MAX_DEPTH = 16;
const RULE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** Alias and location names: as rule names, but starting with a letter or digit. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SEGMENT = /^[a-z0-9-]{1,32}$/;

// ---------------------------------------------------------------------------------------------
// The schema of the file as written (before aliases, defaults and single values are resolved).

/** A message for every issue of a schema, except `is required` when the field is absent. */
function says(text: string) {
  return { error: (iss: { input?: unknown }) => (iss.input === undefined ? 'is required' : text) };
}

function oneOrMany<T extends z.ZodType>(item: T, text: string) {
  return z.union([item, z.array(item, says(text)).min(1, text)], says(text));
}

const STATUS_TEXT = 'affirming, warning, contraindicated, none';
const StatusOrNone = z.enum(
  ['affirming', 'warning', 'contraindicated', 'none'],
  says(`must be one of ${STATUS_TEXT}`),
);
const StatusList = oneOrMany(StatusOrNone, `must be a list of ${STATUS_TEXT}`);

const segmentText = 'must be a segment name of 1-32 characters a-z 0-9 -';
const Segment = z.string(says(segmentText)).regex(SEGMENT, segmentText);

const nameText = 'must be a name of 1-64 characters A-Z a-z 0-9 . _ -';
const versionText = 'must be a dotted numeric version (1, 1.2, 1.2.3 ...)';
const serialText = 'must be a serial number (1-128 characters) or a list of them';
const modelText = 'must be a model name (1-128 characters) or a list of them';
const mapping = (what: string) => says(`must be a mapping (${what})`);

const Match = z.strictObject(
  {
    manufacturer: oneOrMany(
      z.string().min(1).max(64),
      'must be a manufacturer alias or party id, or a list of them',
    ).optional(),
    model: oneOrMany(z.string().min(1).max(128), modelText).optional(),
    location: oneOrMany(
      z.string().min(1).max(64),
      'must be a location name or a list of them',
    ).optional(),
    attestation: oneOrMany(
      StatusOrNone,
      `must be one of ${STATUS_TEXT}, or a list of them`,
    ).optional(),
  },
  mapping('manufacturer, model, location, attestation'),
);

const Require = z.strictObject(
  {
    attestation: StatusList.optional(),
    'min-firmware': z.string(says(versionText)).regex(DOTTED_VERSION, versionText).optional(),
    debug: z.literal('disabled', says('must be disabled')).optional(),
  },
  mapping('attestation, min-firmware, debug'),
);

const Rule = z.strictObject(
  {
    name: z.string(says(nameText)).regex(RULE_NAME, nameText),
    match: Match.nullish(),
    action: z.enum(['allow', 'deny'], says('must be allow or deny')).optional(),
    segment: Segment.optional(),
    require: Require.nullish(),
  },
  mapping('a rule: name, match, action, segment, require'),
);

const PolicyFile = z.strictObject(
  {
    version: z.literal(1, says('must be 1')),
    manufacturers: z
      .record(
        z.string(),
        z
          .string(says('must be a party id (43 base64url characters)'))
          .regex(PARTY_ID, 'must be a party id (43 base64url characters)'),
        mapping('alias: party id'),
      )
      .nullish(),
    locations: z
      .record(
        z.string(),
        oneOrMany(z.string().min(1).max(128), serialText),
        mapping('location: serial numbers'),
      )
      .nullish(),
    defaults: z
      .strictObject(
        { segment: Segment.optional(), attestation: StatusList.optional() },
        mapping('segment, attestation'),
      )
      .nullish(),
    rules: z.array(Rule, says('must be a list of rules')).min(1, 'must list at least one rule'),
    default: z.enum(['allow', 'deny'], says('must be allow or deny')).optional(),
  },
  mapping('version, manufacturers, locations, defaults, rules, default'),
);
type PolicyFile = z.infer<typeof PolicyFile>;

// ---------------------------------------------------------------------------------------------

type PathPart = string | number;

interface Problem {
  line: number;
  path: string;
  message: string;
}

/** Problems found so far, and the line of every field of the document. */
class Report {
  readonly problems: Problem[] = [];
  /** Formatted path -> line: the line of its key in a mapping, of the item in a list. */
  readonly lines = new Map<string, number>();

  add(path: PathPart[], message: string, line = this.lineOf(path)): void {
    this.problems.push({ line, path: formatPath(path), message });
  }

  /** The line of `path`, or of the nearest enclosing field that exists. */
  lineOf(path: PathPart[]): number {
    for (let n = path.length; n >= 0; n--) {
      const line = this.lines.get(formatPath(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return 1;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const s of path) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (typeof s === 'string' && /^[A-Za-z0-9_-]+$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(String(s))}]`;
  }
  return out;
}

/**
 * Parses and validates a policy file (YAML or JSON). `source` (a file name) prefixes every
 * message. Throws ERR_POLICY_INVALID naming the line and field of each problem.
 */
export function parsePolicy(text: string, opts: { source?: string } = {}): Policy {
  const fail = (problems: Problem[]): never => {
    throw invalid(problems, opts.source);
  };
  if (text.length > MAX_POLICY_BYTES || new TextEncoder().encode(text).length > MAX_POLICY_BYTES) {
    fail([{ line: 1, path: '', message: `the policy exceeds ${MAX_POLICY_BYTES} bytes` }]);
  }

  const counter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: counter,
    prettyErrors: false,
    uniqueKeys: false, // duplicates are reported below, with their field path
  });
  const report = new Report();
  for (const e of [...doc.errors, ...doc.warnings]) {
    const first = e.message.split('\n')[0] ?? e.message;
    report.problems.push({
      line: counter.linePos(e.pos[0]).line,
      path: '',
      message: `YAML: ${first}`,
    });
  }
  if (report.problems.length > 0) fail(report.problems);
  if (doc.contents === null) fail([{ line: 1, path: '', message: 'the policy is empty' }]);

  const lineAt = (node: YamlNode | null | undefined, fallback: number): number =>
    node?.range ? counter.linePos(node.range[0]).line : fallback;
  report.lines.set('', lineAt(doc.contents, 1));
  const raw = plain(doc.contents, [], report, lineAt, 1);
  if (report.problems.length > 0) fail(report.problems);

  const parsed = PolicyFile.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          report.add([...(issue.path as PathPart[]), key], 'unknown field');
      } else {
        report.add(issue.path as PathPart[], issue.message);
      }
    }
    fail(report.problems);
  }
  const policy = normalize(parsed.data as PolicyFile, raw as Record<string, unknown>, report);
  if (report.problems.length > 0) fail(report.problems);
  return policy;
}

function invalid(problems: Problem[], source: string | undefined): AirlockError {
  const sorted = [...problems].sort((a, b) => a.line - b.line);
  const shown = sorted
    .slice(0, 20)
    .map((p) => `line ${p.line}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  if (sorted.length > shown.length) shown.push(`and ${sorted.length - shown.length} more`);
  const first = sorted[0]!;
  return new AirlockError('ERR_POLICY_INVALID', (source ? `${source}: ` : '') + shown.join('; '), {
    details: { line: first.line, path: first.path, ...(source ? { source } : {}) },
  });
}

/**
 * The document as plain data, recording the line of every field. Numbers become the text they
 * were written as (except `version`); duplicate keys, aliases and odd keys are problems.
 */
function plain(
  node: unknown,
  path: PathPart[],
  report: Report,
  lineAt: (node: YamlNode | null | undefined, fallback: number) => number,
  line: number,
): unknown {
  if (node === null || node === undefined) return null;
  if (path.length > MAX_DEPTH) {
    report.add(path, 'nested too deeply', line);
    return null;
  }
  if (isAlias(node)) {
    report.add(path, 'YAML anchors and aliases are not supported', lineAt(node, line));
    return null;
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const keyLine = lineAt(pair.key as YamlNode | null, lineAt(node, line));
      const key = isScalar(pair.key) ? scalarText(pair.key.value, pair.key.source) : null;
      if (key === null) {
        report.add(path, 'keys must be plain names', keyLine);
        continue;
      }
      const p = [...path, key];
      if (Object.hasOwn(out, key)) {
        report.add(p, `duplicate key (first on line ${report.lineOf(p)})`, keyLine);
        continue;
      }
      report.lines.set(formatPath(p), keyLine);
      Object.defineProperty(out, key, {
        value: plain(pair.value, p, report, lineAt, keyLine),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  if (isSeq(node)) {
    return node.items.map((item, i) => {
      const p = [...path, i];
      const itemLine = lineAt(item as YamlNode | null, lineAt(node, line));
      report.lines.set(formatPath(p), itemLine);
      return plain(item, p, report, lineAt, itemLine);
    });
  }
  if (isScalar(node)) {
    const isVersion = path.length === 1 && path[0] === 'version';
    return typeof node.value === 'number' && !isVersion
      ? (node.source ?? String(node.value))
      : node.value;
  }
  report.add(path, 'unsupported YAML node', line);
  return null;
}

/** A key as text: strings as they are, numbers and booleans as written; null for anything else. */
function scalarText(value: unknown, source: string | undefined): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return source ?? String(value);
  return null;
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
const unique = <T>(v: T[]): T[] => [...new Set(v)];

/** The checks that span fields (names, references), then the normalized form. */
function normalize(file: PolicyFile, raw: Record<string, unknown>, report: Report): Policy {
  /** The path of item `i` of a field that was written as a single value or as a list. */
  const itemPath = (path: PathPart[], value: unknown, i: number): PathPart[] =>
    Array.isArray(value) ? [...path, i] : path;

  // Names are checked on the document itself: the schema's records drop a key like __proto__.
  for (const [field, what] of [
    ['manufacturers', 'an alias'],
    ['locations', 'a location name'],
  ] as const) {
    const section = raw[field];
    if (section === null || typeof section !== 'object') continue;
    for (const name of Object.keys(section)) {
      if (!KEY_NAME.test(name)) {
        report.add(
          [field, name],
          `${what} is 1-64 characters A-Z a-z 0-9 . _ - starting with a letter or digit`,
        );
      } else if (field === 'manufacturers' && PARTY_ID.test(name)) {
        report.add([field, name], 'an alias must not look like a party id');
      }
    }
  }

  const manufacturers: Record<string, string> = { ...file.manufacturers };
  const locations: Record<string, string[]> = {};
  const placed = new Map<string, string>();
  for (const [location, serials] of Object.entries(file.locations ?? {})) {
    const all = list(serials);
    all.forEach((serial, i) => {
      const other = placed.get(serial);
      if (other !== undefined) {
        report.add(
          itemPath(['locations', location], serials, i),
          other === location
            ? `${serial} is listed twice`
            : `${serial} is already in location ${other}`,
        );
      }
      placed.set(serial, location);
    });
    locations[location] = unique(all);
  }

  const defaults = {
    segment: file.defaults?.segment ?? DEFAULT_SEGMENT,
    attestation: unique(
      file.defaults?.attestation ? list(file.defaults.attestation) : [...DEFAULT_ATTESTATION],
    ),
  };

  const rawRules = raw['rules'] as Array<Record<string, unknown>>;
  const seen = new Map<string, number>();
  const rules = file.rules.map((r, i): PolicyRule => {
    const at: PathPart[] = ['rules', i];
    const first = seen.get(r.name);
    if (first !== undefined) {
      report.add([...at, 'name'], `duplicate rule name ${r.name} (first is rules[${first}])`);
    } else {
      seen.set(r.name, i);
    }
    const action = r.action ?? 'allow';
    if (action === 'deny') {
      if (r.segment !== undefined) report.add([...at, 'segment'], 'a deny rule gives no segment');
      if (r.require !== undefined)
        report.add([...at, 'require'], 'a deny rule has no requirements');
    }

    const rawMatch = (rawRules[i]?.['match'] ?? {}) as Record<string, unknown>;
    const m = r.match ?? {};
    let manufacturerIds: string[] | null = null;
    if (m.manufacturer !== undefined) {
      manufacturerIds = list(m.manufacturer).map((name, j) => {
        if (Object.hasOwn(manufacturers, name)) return manufacturers[name]!;
        if (PARTY_ID.test(name)) return name;
        report.add(
          itemPath([...at, 'match', 'manufacturer'], rawMatch['manufacturer'], j),
          `${name} is neither an alias defined under manufacturers nor a party id`,
        );
        return name;
      });
    }
    let serials: string[] | null = null;
    if (m.location !== undefined) {
      serials = list(m.location).flatMap((name, j) => {
        if (Object.hasOwn(locations, name)) return locations[name]!;
        report.add(
          itemPath([...at, 'match', 'location'], rawMatch['location'], j),
          `${name} is not a location defined under locations`,
        );
        return [];
      });
    }
    return {
      name: r.name,
      match: {
        manufacturers: manufacturerIds === null ? null : unique(manufacturerIds),
        models: m.model === undefined ? null : unique(list(m.model)),
        locations: m.location === undefined ? null : unique(list(m.location)),
        serials: serials === null ? null : unique(serials),
        attestation: m.attestation === undefined ? null : unique(list(m.attestation)),
      },
      action,
      segment: action === 'allow' ? (r.segment ?? defaults.segment) : null,
      require:
        action === 'allow'
          ? {
              attestation: r.require?.attestation
                ? unique(list(r.require.attestation))
                : [...defaults.attestation],
              minFirmware: r.require?.['min-firmware'] ?? null,
              debug: r.require?.debug ?? null,
            }
          : null,
    };
  });

  return {
    version: 1,
    manufacturers,
    locations,
    defaults,
    rules,
    default: file.default ?? 'deny',
  };
}
