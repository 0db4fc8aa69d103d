/**
 * RFC 8995 section 5.7: the device says whether it accepted the voucher. Telemetry, recorded
 * in the audit trail: it gates nothing, since step 7 (the network authenticates the device)
 * is the IDevID's proof of possession in the TLS handshake together with the signed pledge
 * voucher request the registrar verified before it asked for the voucher.
 *
 * `application/json` is the RFC's form. `application/jose` is Airlock's optional extension:
 * the same status signed with the IDevID key over the voucher nonce and a TLS exporter value
 * of this channel; one that does not verify is refused (and recorded), one that does is
 * recorded as step 7 and marks the device 'authenticated'.
 */
import { ensure } from '../../core/errors.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import {
  ONBOARDING_STATES,
  TRANSITIONS,
  transition,
  type DeviceState,
} from '../../core/onboarding-state.js';
import {
  CHANNEL_BINDING_LABEL,
  CHANNEL_BINDING_LENGTH,
  verifyVoucherStatus,
  type StatusTelemetry,
} from '../../protocols/brski/status.js';
import type { Endpoint } from './pipeline.js';
import { parseStatus, statusDetail } from './status-report.js';
import { authorize } from './authorization.js';

export interface VoucherStatusOut {
  status: boolean;
  /** Whether the device is authenticated (step 7) once the report is recorded. */
  authenticated: boolean;
  report: StatusTelemetry;
}

const PATH = '/.well-known/brski/voucher_status';

/** States in which a voucher status is meaningful: a voucher was issued in this onboarding. */
const SESSION_STATES: readonly DeviceState[] = [...ONBOARDING_STATES, 'failed'];

/** The RFC's form: telemetry only. */
export const voucherStatus: Endpoint<unknown, VoucherStatusOut> = {
  method: 'POST',
  path: PATH,
  mediaType: 'application/json',
  action: 'voucher_status',
  step: undefined,
  device: 'session',
  requires: SESSION_STATES,
  lock: false,
  transactional: true,
  async handler(_ctx, call, json) {
    const device = await call.session();
    const report = parseStatus(json);
    return { status: report.status, authenticated: device.state === 'authenticated', report };
  },
  outcome: (o) => (o.status ? 'ok' : 'error'),
  detail: (o) => ({ ...statusDetail(o.report), format: 'json', authenticated: o.authenticated }),
};

/**
 * Step 7: the status signed with the IDevID key and bound to this channel; then step 8, the
 * authorization policy's decision, recorded after it (authorization.ts). The handler records
 * its own event, so that the audit trail reads 7 then 8.
 */
export const deviceAuthentication: Endpoint<string, VoucherStatusOut> = {
  method: 'POST',
  path: PATH,
  mediaType: 'application/jose',
  action: 'voucher_status',
  step: OnboardingStep.DeviceAuthenticated,
  device: 'session',
  requires: TRANSITIONS['device-authenticated'].from,
  lock: true,
  transactional: true,
  recordSuccess: false,
  async handler(ctx, call, jose) {
    const device = await call.session();
    ensure(device.nonce, 'ERR_REGISTRAR_SEQUENCE', 'no voucher is outstanding');
    const report = verifyVoucherStatus(ctx.crypto, jose, {
      tlsClientCert: device.idevid,
      nonce: device.nonce,
      channelBinding: call.ch.exporter(CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH),
    });
    const at = ctx.clock.now();
    if (report.status) {
      transition(device.state, 'device-authenticated');
      await call.r.devices.update(device.serial, { state: 'authenticated' }, at);
    }
    const out = { status: report.status, authenticated: report.status, report };
    await call.r.events.record(
      [
        {
          serial: device.serial,
          step: OnboardingStep.DeviceAuthenticated,
          action: 'voucher_status',
          outcome: report.status ? 'ok' : 'error',
          detail: { ...statusDetail(report), format: 'jose', authenticated: report.status },
        },
      ],
      at,
    );
    if (report.status) await authorize(ctx, call, device);
    return out;
  },
};
