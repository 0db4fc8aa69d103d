/**
 * Steps 11 to 13 (NIST IR 8350 Figure 9, report section 5.2): device intent, before any
 * credential is delivered.
 *
 * - 11: the device conveys its MUD URL over the secure channel: its birth certificate carries
 *   it (RFC 8520 section 10), presented in this TLS handshake, or its CSR asks for it (the
 *   MUD URL extension in an extensionRequest). Where the birth certificate carries none, the
 *   device's declaration, as the network installed it, may (the manufacturer's signed word
 *   too). A CSR that asks for another URL than the manufacturer's is refused: the
 *   manufacturer's word is the one that counts.
 * - 12: the registrar forwards it to the network's device intent manager (IntentPort), with
 *   the segment the authorization policy gives the device.
 * - 13: the manager fetches and verifies the MUD file and installs the device's rules.
 *
 * Run by the registrar before simpleenroll and before the Wi-Fi credentials, outside their
 * unit of work (a MUD file may take seconds to fetch; no row is held meanwhile). Those steps
 * then require the device's rules to be in force for the segment they record (requireIntent):
 * a policy that changed in between is caught there. A network with no intent manager skips
 * all of this.
 */
import { AirlockError } from '../../core/errors.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { ONBOARDING_STATES } from '../../core/onboarding-state.js';
import { decodeCsrBody, verifyCsr } from '../../protocols/est/csr.js';
import { latestDeclared } from '../../protocols/declaration/verify.js';
import type { Call, Endpoint } from './pipeline.js';
import type { EnforcedIntent, RegistrarContext } from './ports.js';
import { decide, denied, policyInForce, storedFacts, subjectOf } from './authorization.js';

export interface IntentIn {
  /** The simpleenroll body (base64 PKCS#10), when the intent is enforced before an LDevID. */
  csr?: string;
}

export type IntentSource = 'birth certificate' | 'declaration' | 'csr' | 'earlier csr' | 'none';

export interface IntentOut {
  source: IntentSource;
  enforced: EnforcedIntent;
}

/** Steps 11 to 13, before the credentials of the endpoint at `path` (simpleenroll, wifi). */
export function intentBefore(path: string): Endpoint<IntentIn, IntentOut> {
  return {
    method: 'POST',
    path,
    action: 'device intent',
    step: OnboardingStep.IntentEnforced,
    device: 'session',
    requires: ONBOARDING_STATES,
    lock: false,
    transactional: false,
    recordSuccess: false,
    async handler(ctx, call, input) {
      const intent = ctx.intent;
      if (!intent) throw new AirlockError('ERR_INTERNAL', 'no intent manager');
      const device = await call.session();
      const segment = await segmentNow(ctx, call, device);
      const { url, source } = await conveyedUrl(ctx, call, device, input);
      const enforced = await intent.enforce({ serial: device.serial, mudUrl: url, segment });
      if (enforced.changed) {
        const at = ctx.clock.now();
        const mud = { 'mud-url': url ?? null, source };
        await call.r.events.record(
          [
            {
              serial: device.serial,
              step: OnboardingStep.IntentLocatorSent,
              action: 'intent locator',
              outcome: 'ok',
              detail: mud,
            },
            {
              serial: device.serial,
              step: OnboardingStep.IntentForwarded,
              action: 'intent forwarded',
              outcome: 'ok',
              detail: { ...mud, segment },
            },
            {
              serial: device.serial,
              step: OnboardingStep.IntentEnforced,
              action: 'intent enforced',
              outcome: 'ok',
              detail: {
                address: enforced.address,
                profile: enforced.profile,
                warnings: enforced.warnings.length,
              },
            },
          ],
          at,
        );
      }
      return { source, enforced };
    },
  };
}

/**
 * Before step 15 delivers anything, inside its unit of work: the device's rules are in force
 * for the segment just recorded. ERR_ENFORCEMENT_FAILED otherwise (nothing is delivered).
 */
export async function requireIntent(
  ctx: RegistrarContext,
  call: Call,
  serial: string,
  segment: string | null,
): Promise<void> {
  if (!ctx.intent) return;
  const held = await call.r.intent.device(serial);
  if (!held || held.installed === null || held.segment !== segment)
    throw new AirlockError(
      'ERR_ENFORCEMENT_FAILED',
      "the device's rules are not in force for its segment: nothing is delivered",
    );
}

/** The segment the policy in force gives the device: recorded at step 8, or decided now. */
async function segmentNow(
  ctx: RegistrarContext,
  call: Call,
  device: Awaited<ReturnType<Call['session']>>,
): Promise<string> {
  let segment: string | null;
  if (device.authorizedAt !== null)
    segment = (await call.r.devices.record(device.serial))?.segment ?? null;
  else {
    const d = decide(
      await policyInForce(call.r),
      subjectOf(
        ctx,
        device.idevid,
        device.identified,
        storedFacts(device.attestationStatus, device.attestationClaims),
      ),
    );
    if (d.decision === 'deny') throw denied(d);
    segment = d.segment;
  }
  if (segment === null) throw new AirlockError('ERR_POLICY_DENIED', 'no segment');
  return segment;
}

/** Step 11: the MUD URL the device conveyed, and how. */
async function conveyedUrl(
  ctx: RegistrarContext,
  call: Call,
  device: Awaited<ReturnType<Call['session']>>,
  input: IntentIn,
): Promise<{ url: string | undefined; source: IntentSource }> {
  const fromCert = device.idevid.mudUrl;
  const manufacturers: { url: string; source: IntentSource } | undefined =
    fromCert !== undefined
      ? { url: fromCert, source: 'birth certificate' }
      : await declaredUrl(call, device.serial);
  // The CSR's proof of possession is checked again by simpleenroll; a bad CSR is refused there.
  const fromCsr =
    input.csr === undefined ? undefined : verifyCsr(ctx.crypto, decodeCsrBody(input.csr)).mudUrl;
  if (manufacturers !== undefined) {
    if (fromCsr !== undefined && fromCsr !== manufacturers.url)
      throw new AirlockError(
        'ERR_CSR_MALFORMED',
        `the CSR asks for another MUD URL than the ${manufacturers.source} carries`,
      );
    return manufacturers;
  }
  if (fromCsr !== undefined) return { url: fromCsr, source: 'csr' };
  const earlier = (await call.r.intent.device(device.serial))?.mudUrl ?? undefined;
  return earlier === undefined
    ? { url: undefined, source: 'none' }
    : { url: earlier, source: 'earlier csr' };
}

/** The MUD URL the device's installed declaration carries, if the network holds one. */
async function declaredUrl(
  call: Call,
  serial: string,
): Promise<{ url: string; source: IntentSource } | undefined> {
  const row = await call.r.declarations.get(serial);
  const url = row ? latestDeclared(row.chain)?.['mud-url'] : undefined;
  return url === undefined ? undefined : { url, source: 'declaration' };
}
