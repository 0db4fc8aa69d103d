/**
 * Report section 5.3, the device's side: once connected with its new credentials, it tells the
 * onboarding component how it went, over a channel its current LDevID authenticates.
 */
import type { PledgeChannel } from '../../core/ports.js';

export interface ConnectionReportOut {
  result: 'authorized' | 'refused';
  medium: 'wired' | 'wifi';
  method: 'eap-tls' | 'wpa-psk';
  /** The authenticator's MAC address, as the device saw it. */
  authenticator?: string;
  /** A diagnostic: the error code of a refusal. */
  reason?: string;
}

export async function reportConnection(
  channel: PledgeChannel,
  report: ConnectionReportOut,
): Promise<void> {
  await channel.call('POST', '/.well-known/airlock/connection-report', {
    body: JSON.stringify(report),
    contentType: 'application/json',
  });
}
