/**
 * Report section 5.3: after connecting to the network with its new credentials, the device
 * sends the onboarding component a diagnostic report, authenticated by its current LDevID (the
 * credential it just connected with). Recorded in its audit trail; a device whose LDevID is not
 * current (renewed, revoked, decommissioned) cannot report.
 */
import { z } from 'zod';
import { checked } from '../../protocols/schema.js';
import type { Endpoint } from './pipeline.js';
import { ldevidHolder } from './session.js';

export const ConnectionReport = z.strictObject({
  /** Whether the network authorized its port. */
  result: z.enum(['authorized', 'refused']),
  /** How it connected. */
  medium: z.enum(['wired', 'wifi']),
  method: z.enum(['eap-tls', 'wpa-psk']),
  /** The authenticator's address as the device saw it (a MAC address). */
  authenticator: z
    .string()
    .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/)
    .optional(),
  /** A diagnostic in the device's words (an error code). */
  reason: z.string().max(256).optional(),
});
export type ConnectionReport = z.infer<typeof ConnectionReport>;

export const connectionReport: Endpoint<unknown, ConnectionReport> = {
  method: 'POST',
  path: '/.well-known/airlock/connection-report',
  action: 'connection report',
  step: undefined,
  device: 'current LDevID',
  requires: null,
  lock: false,
  transactional: true,
  async handler(ctx, call, body) {
    const holder = await ldevidHolder(ctx, call.r, call.ch, 'a connection report');
    call.identify(holder.device);
    return checked(ConnectionReport, body, 'ERR_INPUT_SCHEMA', 'the connection report');
  },
  outcome: (r) => (r.result === 'authorized' ? 'ok' : 'error'),
  detail: (r) => ({
    result: r.result,
    medium: r.medium,
    method: r.method,
    ...(r.authenticator !== undefined ? { authenticator: r.authenticator } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  }),
};
