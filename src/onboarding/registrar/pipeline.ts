/**
 * The audited runner: every registrar endpoint runs through it. It runs the handler in one
 * transaction or statement by statement (as the endpoint says), records the outcome in the
 * device's audit trail, refusals included, and tells the channel which device it served. A
 * transactional handler's changes and its audit event commit together, or not at all; a
 * refusal is recorded on its own, after the handler's work was rolled back.
 */
import { isAirlockError, type AirlockError } from '../../core/errors.js';
import type { OnboardingStepNumber } from '../../core/onboarding-steps.js';
import type { DeviceState } from '../../core/onboarding-state.js';
import type { NetworkRepositories } from '../../core/store.js';
import type { Channel, RegistrarContext } from './ports.js';
import { session, type Session } from './session.js';

export type Detail = Record<string, string | number | boolean | null>;

/**
 * How the registrar knows which device a request is about:
 * - `birth certificate`: a trusted manufacturer's IDevID on the channel, the device new or not;
 * - `session`: the IDevID of a device a voucher was issued to, in one of `requires`;
 * - `current LDevID`: an LDevID of ours, not revoked, on the channel;
 * - `none`: public material, no device.
 */
export type DeviceBy =
  'birth certificate' | 'session' | 'current LDevID' | 'session or current LDevID' | 'none';

/** What a handler is given for one request. */
export interface Call {
  ch: Channel;
  /** The repositories of the unit of work the handler runs in. */
  r: NetworkRepositories;
  /** When the request reached the registrar. */
  received: Date;
  /** Names the device the request is about: its outcome goes to that device's audit trail. */
  identify(serial: string | undefined): void;
  /** The device's onboarding session: its IDevID, a voucher issued to it, a state the endpoint requires. */
  session(): Promise<Session>;
}

/** One registrar endpoint, as a row of the table (endpoints.ts). */
export interface Endpoint<In, Out> {
  method: 'GET' | 'POST';
  path: string;
  /** Set when one path carries two endpoints, told apart by the request's media type. */
  mediaType?: string;
  /** Its name in the device's audit trail. */
  action: string;
  /** The step of NIST IR 8350 Figure 9 (core/onboarding-steps.ts); undefined: no step of the figure. */
  step: OnboardingStepNumber | undefined;
  device: DeviceBy;
  /** The states the device's session must be in (Call.session); null when the endpoint has no session. */
  requires: readonly DeviceState[] | null;
  /** Whether the work holds the device's row until it ends (it changes the device): the session is read locked. */
  lock: boolean;
  transactional: boolean;
  /** False: the handler records its own success, with its changes (the voucher). */
  recordSuccess?: boolean;
  outcome?(out: Out): 'ok' | 'error';
  detail?(out: Out): Detail;
  handler(ctx: RegistrarContext, call: Call, input: In): Promise<Out>;
  /**
   * A refusal that stands once the work has committed: the handler recorded what it found
   * (the attestation result that stops a device) and the caller is refused with this error.
   */
  refusal?(out: Out): AirlockError | undefined;
  /** Once the work has committed: what the registrar remembers of the connection. */
  committed?(ctx: RegistrarContext, ch: Channel, out: Out): void;
}

/** Runs `endpoint` for one request; its outcome is in the device's audit trail whatever happens. */
export async function runEndpoint<In, Out>(
  ctx: RegistrarContext,
  endpoint: Endpoint<In, Out>,
  ch: Channel,
  input: In,
): Promise<Out> {
  const received = ctx.clock.now();
  let serial: string | undefined;
  const identify = (s: string | undefined) => (serial = s);
  const work = async (r: NetworkRepositories) => {
    const call: Call = {
      ch,
      r,
      received,
      identify,
      session: () => session(ctx, r, ch, endpoint, identify),
    };
    const result = await endpoint.handler(ctx, call, input);
    if (serial !== undefined) ch.identified?.(serial);
    if (endpoint.recordSuccess !== false) {
      const { step, detail } = endpoint;
      await r.events.record(
        [
          {
            serial: serial ?? null,
            ...(step ? { step } : {}),
            action: endpoint.action,
            outcome: endpoint.outcome?.(result) ?? 'ok',
            ...(detail ? { detail: detail(result) } : {}),
          },
        ],
        ctx.clock.now(),
      );
    }
    return result;
  };
  let out: Out;
  try {
    out = endpoint.transactional ? await ctx.store.transaction(work) : await ctx.store.run(work);
  } catch (e) {
    const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
    // Refusals before a device is known (serial null) say who asked, and with what certificate.
    const cert = ch.clientCert;
    // A refusal's details are non-secret by contract (core/errors.ts): the rule that denied, say.
    const detail = {
      ...(isAirlockError(e) ? e.details : {}),
      peer: ch.peer,
      ...(cert ? { subject: cert.subject, issuer: cert.issuer, certificate: cert.serial } : {}),
    };
    const at = ctx.clock.now();
    await ctx.store.run((r) =>
      r.events.record(
        [{ serial: serial ?? null, action: endpoint.action, outcome: 'refused', code, detail }],
        at,
      ),
    );
    throw e;
  }
  endpoint.committed?.(ctx, ch, out);
  const refusal = endpoint.refusal?.(out);
  if (refusal) throw refusal;
  return out;
}
