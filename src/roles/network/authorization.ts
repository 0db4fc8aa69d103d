/**
 * The authorization service (NIST IR 8350 section 5.1.2): the policy file the administrator
 * writes (docs/POLICY.md), checked, applied and kept in the network's database (several nodes
 * read the same one), and every device judged again when it changes: what moved is recorded in
 * the device's audit trail and with it, and an onboarded device the new policy denies is
 * marked for quarantine (enforcement arrives with device intent).
 */
import { toBase64Url, utf8 } from '../../core/bytes.js';
import { isAirlockError } from '../../core/errors.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import type { NetworkStore } from '../../core/store.js';
import type { Policy } from '../../core/policy/policy.js';
import { parsePolicy } from '../../protocols/policy/parse.js';
import { parseCertificate } from '../../protocols/x509/certificate.js';
import {
  decide,
  type Decided,
  policyInForce,
  storedFacts,
  type PolicyInForce,
} from '../../onboarding/registrar/authorization.js';
import type { RoleContext } from '../shared/context.js';
import { DPP_RULE } from './dpp.js';
import { partyOfTrust, type TrustedManufacturers } from './manufacturers.js';
import { subjectCommonName } from '../../protocols/x509/certificate.js';

export interface PolicyChange {
  serial: string;
  from: { decision: string | null; segment: string | null; rule: string | null };
  to: { decision: 'allow' | 'deny'; segment: string | null; rule: string };
  /** Whether the device is now marked for quarantine (an onboarded device the policy denies). */
  quarantined: boolean;
}

export interface AppliedPolicy {
  policyId: string;
  devices: number;
  changes: PolicyChange[];
}

export class AuthorizationService {
  constructor(
    private readonly ctx: RoleContext,
    private readonly store: NetworkStore,
    private readonly manufacturers: TrustedManufacturers,
  ) {}

  /** The policy in `text` (YAML or JSON), validated; ERR_POLICY_INVALID naming the line and the field. */
  check(text: string, source?: string): Policy {
    return parsePolicy(text, source === undefined ? {} : { source });
  }

  /** The policy in force: the latest applied, or Airlock's default (id `default`). */
  async current(): Promise<PolicyInForce> {
    return this.store.run((r) => policyInForce(r));
  }

  /**
   * Applies the policy in `text`, and judges every known device again under it, in one unit of
   * work: the policy and what it changed commit together, or not at all.
   */
  async apply(text: string, source?: string): Promise<AppliedPolicy> {
    const policy = this.check(text, source);
    const policyId = toBase64Url(this.ctx.crypto.sha256(utf8(text))).slice(0, 22);
    const at = this.ctx.clock.now();
    return this.store.transaction(async (r) => {
      await r.policies.add({ policyId, source: text, policy: JSON.stringify(policy) }, at);
      const inForce: PolicyInForce = { id: policyId, policy };
      const devices = await r.devices.forPolicy();
      const changes: PolicyChange[] = [];
      for (const d of devices) {
        // A device refused at attestation stays refused; one not yet judged is judged when it onboards.
        if (d.decision === null || d.state === 'refused' || d.state === 'attesting') continue;
        let next: Decided;
        if (d.idevidDer.length === 0) {
          // A DPP device has no birth certificate to judge: its owner's adding it authorized it,
          // and it follows the policy's default segment (docs/DPP.md).
          next = {
            decision: 'allow',
            segment: policy.defaults.segment,
            rule: DPP_RULE,
            policyId,
            reasons: [],
          };
        } else {
          const idevid = parseCertificate(d.idevidDer);
          let identified;
          try {
            identified = this.manufacturers.identifyVerified(idevid, at);
          } catch (e) {
            if (!isAirlockError(e)) throw e;
            continue; // a manufacturer no longer trusted: its devices are not re-judged here
          }
          next = decide(inForce, {
            serial: d.serial,
            manufacturer: partyOfTrust(this.ctx.crypto, identified.trust),
            model: subjectCommonName(idevid),
            attestation: storedFacts(d.attestationStatus, d.attestationClaims),
          });
        }
        if (next.decision === d.decision && next.segment === d.segment) continue;
        const quarantined = next.decision === 'deny' && d.state === 'onboarded';
        await r.devices.decided(d.serial, next, at, false);
        if (quarantined)
          await r.devices.quarantine(d.serial, `policy ${policyId}: rule ${next.rule}`, at);
        await r.events.record(
          [
            {
              serial: d.serial,
              step: OnboardingStep.PolicyRetrieved,
              action: 'authorization policy changed',
              outcome: quarantined ? 'warning' : 'ok',
              detail: {
                policy: policyId,
                from: `${d.decision ?? 'none'} ${d.segment ?? '-'} (${d.rule ?? '-'})`,
                to: `${next.decision} ${next.segment ?? '-'} (${next.rule})`,
                quarantine: quarantined,
              },
            },
          ],
          at,
        );
        changes.push({
          serial: d.serial,
          from: { decision: d.decision, segment: d.segment, rule: d.rule },
          to: { decision: next.decision, segment: next.segment, rule: next.rule },
          quarantined,
        });
      }
      return { policyId, devices: devices.length, changes };
    });
  }
}
