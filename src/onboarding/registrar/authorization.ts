/**
 * Step 8 (NIST IR 8350 Figure 9, report section 5.1.2): the authorization service. The policy
 * in force (the latest the administrator applied, or Airlock's default) decides, from what the
 * registrar verified of the device (its manufacturer and model from the birth certificate, its
 * attestation result in this onboarding), whether it may join and in which segment.
 *
 * The policy is consulted three times in an onboarding: at step 4 (an attestation result that
 * does not admit the device stops it there), before the voucher (step 5: a device that did not
 * attest is judged as such before it learns who the network is), and at step 8, after the
 * device authenticated (step 7) or before its first credential, when the decision is recorded
 * in its audit trail and with it: a policy applied meanwhile is the one that counts.
 */
import { AirlockError } from '../../core/errors.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import type { DecisionRecord, NetworkRepositories } from '../../core/store.js';
import {
  DEFAULT_POLICY,
  evaluatePolicy,
  type AttestationStatus,
  type Decision,
  type Policy,
  type PolicySubject,
} from '../../core/policy/policy.js';
import { subjectCommonName, type Certificate } from '../../protocols/x509/certificate.js';
import type { Call } from './pipeline.js';
import type { IdentifiedDevice, RegistrarContext } from './ports.js';

/** The policy in force when the administrator applied none. */
export const DEFAULT_POLICY_ID = 'default';

/** What the policy reads of an attestation result (stored with the device as JSON). */
export interface AttestationFacts {
  status: AttestationStatus;
  swversion?: string;
  dbgstat?: string;
}

export interface PolicyInForce {
  id: string;
  policy: Policy;
}

/** Parsed policies by id: a policy is read from the database each time, parsed once. */
const parsed = new Map<string, Policy>();

/** The latest policy applied (several nodes share it through the database), or the default. */
export async function policyInForce(r: NetworkRepositories): Promise<PolicyInForce> {
  const row = await r.policies.current();
  if (!row) return { id: DEFAULT_POLICY_ID, policy: DEFAULT_POLICY };
  let policy = parsed.get(row.policyId);
  if (!policy) {
    policy = JSON.parse(row.policy) as Policy;
    if (parsed.size > 64) parsed.clear();
    parsed.set(row.policyId, policy);
  }
  return { id: row.policyId, policy };
}

/** The device as the policy sees it: what the registrar verified, nothing the device merely said. */
export function subjectOf(
  ctx: RegistrarContext,
  idevid: Certificate,
  device: IdentifiedDevice,
  attestation: AttestationFacts | null,
): PolicySubject {
  return {
    serial: device.serial,
    manufacturer: ctx.manufacturers.partyOf(device.trust),
    model: subjectCommonName(idevid),
    attestation,
  };
}

/** The facts stored with a device, if it attested in this onboarding. */
export function storedFacts(status: string | null, claims: string | null): AttestationFacts | null {
  if (status === null) return null;
  const c = claims ? (JSON.parse(claims) as Partial<AttestationFacts>) : {};
  return {
    status: status as AttestationStatus,
    ...(typeof c.swversion === 'string' ? { swversion: c.swversion } : {}),
    ...(typeof c.dbgstat === 'string' ? { dbgstat: c.dbgstat } : {}),
  };
}

export interface Decided extends DecisionRecord {
  reasons: string[];
}

export function decide(inForce: PolicyInForce, subject: PolicySubject): Decided {
  const d: Decision = evaluatePolicy(inForce.policy, subject);
  return {
    decision: d.action,
    segment: d.segment,
    rule: d.rule,
    policyId: inForce.id,
    reasons: d.reasons,
  };
}

/** ERR_POLICY_DENIED naming the rule and the reasons (they go to the device's audit trail). */
export function denied(d: Decided): AirlockError {
  return new AirlockError('ERR_POLICY_DENIED', `rule ${d.rule}`, {
    details: { rule: d.rule, policy: d.policyId, reasons: d.reasons.join('; ') },
  });
}

/**
 * Step 8, once per onboarding: the decision of the policy in force, recorded with the device
 * and in its audit trail. A denial is thrown (the caller's work is undone and the refusal
 * recorded with the rule); a device already authorized in this onboarding passes. Returns the
 * segment the device was given.
 */
export async function authorize(
  ctx: RegistrarContext,
  call: Call,
  device: { serial: string; idevid: Certificate; identified: IdentifiedDevice } & {
    attestationStatus: string | null;
    attestationClaims: string | null;
    authorizedAt: string | null;
  },
): Promise<string | null> {
  if (device.authorizedAt !== null)
    return (await call.r.devices.record(device.serial))?.segment ?? null;
  const subject = subjectOf(
    ctx,
    device.idevid,
    device.identified,
    storedFacts(device.attestationStatus, device.attestationClaims),
  );
  const d = decide(await policyInForce(call.r), subject);
  if (d.decision === 'deny') throw denied(d);
  const at = ctx.clock.now();
  await call.r.devices.decided(device.serial, d, at, true);
  await call.r.events.record(
    [
      {
        serial: device.serial,
        step: OnboardingStep.PolicyRetrieved,
        action: 'authorization policy: decision',
        outcome: 'ok',
        detail: {
          decision: d.decision,
          segment: d.segment,
          rule: d.rule,
          policy: d.policyId,
          reasons: d.reasons.join('; '),
        },
      },
    ],
    at,
  );
  return d.segment;
}
