/** The device's status reports (RFC 8995 sections 5.7 and 5.9.4), as read and as the audit trail keeps them. */
import { checked } from '../../protocols/schema.js';
import { StatusTelemetry } from '../../protocols/brski/status.js';

export function parseStatus(json: unknown): StatusTelemetry {
  return checked(StatusTelemetry, json, 'ERR_INPUT_SCHEMA');
}

/** What the audit trail keeps of a status report: never more than 256 characters of reason. */
export function statusDetail(
  report: StatusTelemetry | undefined,
): Record<string, string | boolean | null> {
  return { status: report?.status ?? null, reason: report?.reason?.slice(0, 256) ?? null };
}
