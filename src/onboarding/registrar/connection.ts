/**
 * What was issued on each connection (the LDevID and PSK of the onboarding it carries):
 * connection state, not device state, it dies with the socket. A success report on the
 * onboarding connection speaks for exactly these (enrollment-status.ts).
 */
import type { Channel, IssuedOnConnection, RegistrarContext } from './ports.js';

export function issuedOn(ctx: RegistrarContext, ch: Channel): IssuedOnConnection {
  let issued = ctx.issuedOn.get(ch.connection);
  if (!issued) ctx.issuedOn.set(ch.connection, (issued = {}));
  return issued;
}
