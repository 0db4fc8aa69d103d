/**
 * The authorization service's declarative policy (NIST IR 8350 section 5.1.2, step 8): which
 * devices may join, with which attestation results and claims, and into which network segment.
 *
 * `Policy` is the validated, normalized form that src/protocols/policy/parse.ts builds from the
 * administrator's YAML or JSON file (docs/POLICY.md): manufacturer aliases resolved to party
 * ids, single values turned into lists, locations resolved to serial numbers, defaults filled
 * in. It is a plain serializable object (JSON round-trips it). `evaluatePolicy` walks the rules
 * in order; the first rule whose `match` matches decides.
 */

export type AttestationStatus = 'affirming' | 'warning' | 'contraindicated';
/** An attestation status, or `none`: the device presented no attestation evidence. */
export type AttestationMatch = AttestationStatus | 'none';

export const ATTESTATION_STATUSES: readonly AttestationStatus[] = [
  'affirming',
  'warning',
  'contraindicated',
];

export interface PolicyMatch {
  /** Manufacturer party ids; null: any manufacturer. */
  manufacturers: string[] | null;
  /** Model names; null: any model (a device with no model matches only null). */
  models: string[] | null;
  /** Location names, as written (for reasons); null: anywhere. */
  locations: string[] | null;
  /** The serial numbers of `locations`, resolved; null exactly when `locations` is null. */
  serials: string[] | null;
  /** The device's attestation status, or `none`; null: any. */
  attestation: AttestationMatch[] | null;
}

export interface PolicyRequirements {
  /** Accepted attestation statuses (`none`: a device with no attestation is accepted). */
  attestation: AttestationMatch[];
  /** The attestation's swversion must be >= this dotted numeric version; null: no minimum. */
  minFirmware: string | null;
  /** `disabled`: the attestation's dbgstat must be present and not `enabled`; null: any. */
  debug: 'disabled' | null;
}

export interface PolicyRule {
  name: string;
  match: PolicyMatch;
  action: 'allow' | 'deny';
  /** The segment an allow rule gives (defaults filled in); null for a deny rule. */
  segment: string | null;
  /** What an allow rule requires (defaults filled in); null for a deny rule. */
  require: PolicyRequirements | null;
}

export interface Policy {
  version: 1;
  /** Manufacturer aliases as declared: alias -> party id (for display; rules hold ids). */
  manufacturers: Record<string, string>;
  /** Locations as declared: location -> serial numbers. */
  locations: Record<string, string[]>;
  defaults: { segment: string; attestation: AttestationMatch[] };
  rules: PolicyRule[];
  /** When no rule matches. `allow` gives `defaults.segment`, under `defaults.attestation`. */
  default: 'allow' | 'deny';
}

export interface PolicySubject {
  serial: string;
  /** The manufacturer's party id and display name. */
  manufacturer: { id: string; name: string };
  /** From the birth certificate; undefined for some foreign manufacturers. */
  model: string | undefined;
  /** The device's latest attestation result in this onboarding; null: it presented none. */
  attestation: null | { status: AttestationStatus; swversion?: string; dbgstat?: string };
}

export interface Decision {
  action: 'allow' | 'deny';
  /** The segment the device lands in; null when denied. */
  segment: string | null;
  /** The rule that decided, or 'default'. */
  rule: string;
  /** Human-readable, no secrets: why. */
  reasons: string[];
}

/** The segment of an allow rule that names none, when `defaults.segment` is not given. */
export const DEFAULT_SEGMENT = 'default';
/** What an allow rule accepts when neither it nor `defaults.attestation` says. */
export const DEFAULT_ATTESTATION: readonly AttestationMatch[] = ['affirming'];

/**
 * The policy used when the administrator applied none: every device of a trusted manufacturer
 * is allowed into segment 'default' if its attestation is affirming; devices without
 * attestation are denied.
 */
export const DEFAULT_POLICY: Policy = deepFreeze({
  version: 1,
  manufacturers: {},
  locations: {},
  defaults: { segment: DEFAULT_SEGMENT, attestation: [...DEFAULT_ATTESTATION] },
  rules: [
    {
      name: 'trusted-manufacturers',
      match: {
        manufacturers: null,
        models: null,
        locations: null,
        serials: null,
        attestation: null,
      },
      action: 'allow',
      segment: DEFAULT_SEGMENT,
      require: { attestation: [...DEFAULT_ATTESTATION], minFirmware: null, debug: null },
    },
  ],
  default: 'deny',
});

export function evaluatePolicy(policy: Policy, subject: PolicySubject): Decision {
  for (const rule of policy.rules) {
    if (!matches(rule.match, subject)) continue;
    if (rule.action === 'deny') {
      return {
        action: 'deny',
        segment: null,
        rule: rule.name,
        reasons: [`rule ${rule.name} denies`],
      };
    }
    const failed = unmet(`rule ${rule.name}`, rule.require, subject);
    if (failed.length > 0)
      return { action: 'deny', segment: null, rule: rule.name, reasons: failed };
    const segment = rule.segment ?? policy.defaults.segment;
    return {
      action: 'allow',
      segment,
      rule: rule.name,
      reasons: [`rule ${rule.name} allows into segment ${segment}`],
    };
  }
  if (policy.default === 'deny') {
    return {
      action: 'deny',
      segment: null,
      rule: 'default',
      reasons: ['no rule matches; default deny'],
    };
  }
  const failed = unmet(
    'default',
    { attestation: policy.defaults.attestation, minFirmware: null, debug: null },
    subject,
  );
  if (failed.length > 0) return { action: 'deny', segment: null, rule: 'default', reasons: failed };
  return {
    action: 'allow',
    segment: policy.defaults.segment,
    rule: 'default',
    reasons: [`no rule matches; default allows into segment ${policy.defaults.segment}`],
  };
}

/**
 * Whether two decisions put the device in the same place: same action and same segment. The
 * rule and the reasons may differ: a policy change that only renames or reorders rules moves
 * nothing.
 */
export function sameDecision(a: Decision, b: Decision): boolean {
  return a.action === b.action && a.segment === b.segment;
}

function statusOf(subject: PolicySubject): AttestationMatch {
  return subject.attestation === null ? 'none' : subject.attestation.status;
}

function matches(m: PolicyMatch, s: PolicySubject): boolean {
  if (m.manufacturers !== null && !m.manufacturers.includes(s.manufacturer.id)) return false;
  if (m.models !== null && (s.model === undefined || !m.models.includes(s.model))) return false;
  if (m.serials !== null && !m.serials.includes(s.serial)) return false;
  if (m.attestation !== null && !m.attestation.includes(statusOf(s))) return false;
  return true;
}

/** The requirements `subject` fails, each as a reason; empty when it meets them all. */
function unmet(who: string, req: PolicyRequirements | null, s: PolicySubject): string[] {
  if (req === null) return [];
  const out: string[] = [];
  const status = statusOf(s);
  if (!req.attestation.includes(status)) {
    out.push(`${who} requires attestation ${req.attestation.join(' or ')}, got ${status}`);
  }
  if (req.minFirmware !== null) {
    const v = s.attestation?.swversion;
    if (v === undefined) {
      out.push(`${who} requires firmware >= ${req.minFirmware}, the device reports no swversion`);
    } else if (!isDottedVersion(v)) {
      out.push(
        `${who} requires firmware >= ${req.minFirmware}, swversion is not a dotted numeric version`,
      );
    } else if (compareVersions(v, req.minFirmware) < 0) {
      out.push(`${who} requires firmware >= ${req.minFirmware}, got ${v}`);
    }
  }
  if (req.debug === 'disabled') {
    const d = s.attestation?.dbgstat;
    if (d === undefined) out.push(`${who} requires debug disabled, the device reports no dbgstat`);
    else if (d === 'enabled') out.push(`${who} requires debug disabled, got enabled`);
  }
  return out;
}

/** Dotted numeric: 1, 1.2, 1.2.3 ... (digits only, at most 16 parts of at most 9 digits). */
export const DOTTED_VERSION = /^\d{1,9}(\.\d{1,9}){0,15}$/;

export function isDottedVersion(v: string): boolean {
  return DOTTED_VERSION.test(v);
}

/**
 * Numeric comparison of dotted versions, part by part; missing parts count as 0 (1.2 = 1.2.0).
 * Both must be dotted versions (`isDottedVersion`).
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
