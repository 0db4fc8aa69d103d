/**
 * RFC 8995 section 5.9.4: the device reports whether it could use what it received, on the
 * onboarding connection (IDevID) or on a new one authenticated with its new LDevID.
 * Success moves a provisioned device to 'onboarded'. A failure is recorded whatever the
 * state: a device still onboarding becomes 'failed' (it starts again with a new voucher);
 * credentials already issued stay as they are, and an onboarded device stays onboarded.
 */
import { ensure } from '../../core/errors.js';
import { DEVICE_STATES, canTransition, transition } from '../../core/onboarding-state.js';
import type { StatusTelemetry } from '../../protocols/brski/status.js';
import type { Endpoint } from './pipeline.js';
import type { Channel, RegistrarContext } from './ports.js';
import { currentLdevid, lockedDevice } from './session.js';
import { parseStatus, statusDetail } from './status-report.js';

export interface EnrollStatusOut {
  report: StatusTelemetry;
  /** The credential the device reported with. */
  via: 'idevid' | 'ldevid';
}

export const enrollStatus: Endpoint<unknown, EnrollStatusOut> = {
  method: 'POST',
  path: '/.well-known/brski/enrollstatus',
  action: 'enrollstatus',
  step: undefined,
  device: 'session or current LDevID',
  // Over the onboarding connection, any state: a failure is recorded whatever it is.
  requires: DEVICE_STATES,
  lock: true,
  transactional: true,
  async handler(ctx, call, json) {
    const { r, ch } = call;
    const ldevid = await currentLdevid(ctx, r, ch);
    const via = ldevid ? 'ldevid' : 'idevid';
    const session = ldevid ? undefined : await call.session();
    const device = session ?? (await lockedDevice(r, ldevid!.device, call.identify));
    const report = parseStatus(json);
    const at = ctx.clock.now();
    if (report.status) {
      // Over the onboarding connection, success speaks for what was issued on it: when another
      // copy of the device has since been issued newer credentials, these are revoked or
      // retired, and the device must not keep them (it stores only what this accepts).
      if (session) ensureIssuedHereAreCurrent(ctx, ch, session);
      if (device.state === 'onboarded') return { report, via }; // a repeated success report: nothing changes
      transition(device.state, 'enrollment-confirmed');
      await r.devices.update(
        device.serial,
        { state: 'onboarded', onboardings: device.onboardings + 1 },
        at,
      );
    } else if (
      canTransition(device.state, 'enrollment-failed') &&
      (session || (device.state === 'provisioned' && device.ldevidSerial === ch.clientCert?.serial))
    ) {
      // A failure ends the onboarding it speaks for: the one on this connection, or the one
      // that issued this LDevID. An older LDevID, still current while a new onboarding is
      // under way, is recorded and changes nothing (it could otherwise stall that onboarding).
      await r.devices.update(
        device.serial,
        { state: transition(device.state, 'enrollment-failed') },
        at,
      );
    }
    return { report, via };
  },
  outcome: (o) => (o.report.status === false ? 'error' : 'ok'),
  detail: (o) => ({ ...statusDetail(o.report), via: o.via }),
};

/** The LDevID (and PSK, if any) issued on this connection are the device's current ones; else ERR_REGISTRAR_SEQUENCE. */
function ensureIssuedHereAreCurrent(
  ctx: RegistrarContext,
  ch: Channel,
  device: { ldevidSerial: string | null; pskId: string | null },
): void {
  const issued = ctx.issuedOn.get(ch.connection);
  ensure(
    issued?.ldevid !== undefined && issued.ldevid === device.ldevidSerial,
    'ERR_REGISTRAR_SEQUENCE',
    "the LDevID issued on this connection is not the device's current one",
  );
  ensure(
    issued.psk === undefined || issued.psk === device.pskId,
    'ERR_REGISTRAR_SEQUENCE',
    "the PSK issued on this connection is not the device's current one",
  );
}
