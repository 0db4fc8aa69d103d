/**
 * Who a request is about. A device onboarding is known by its birth certificate on the
 * channel and the voucher issued to it (its session); an onboarded one by its current LDevID.
 * Both checks are shared by several steps, and each step says which it needs (endpoints.ts).
 */
import { AirlockError, ensure, isAirlockError } from '../../core/errors.js';
import { equalBytes } from '../../core/bytes.js';
import { requireState, type DeviceState } from '../../core/onboarding-state.js';
import type { NetworkDevice, NetworkRepositories } from '../../core/store.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { Channel, IdentifiedDevice, RegistrarContext } from './ports.js';

/** A device's onboarding session: its record, the birth certificate on the channel, what the registrar read from it. */
export type Session = NetworkDevice & { idevid: Certificate; identified: IdentifiedDevice };

/** A birth certificate on the channel, and the device it names. */
export interface BirthCertificate {
  idevid: Certificate;
  device: IdentifiedDevice;
}

/**
 * The birth certificate on the channel, from a manufacturer this network trusts (Airlock or
 * not), with the serial number and MASA URL read where that manufacturer's trust says.
 */
export function birthCertificate(ctx: RegistrarContext, ch: Channel): BirthCertificate {
  const idevid = ch.clientCert;
  if (!idevid) throw new AirlockError('ERR_IDEVID_MISSING');
  return { idevid, device: ctx.manufacturers.identify(idevid, ctx.clock.now()) };
}

/** The serial number of the birth certificate on the channel, if a trusted manufacturer's CA has its issuer's name. */
function sessionDevice(ctx: RegistrarContext, idevid: Certificate): IdentifiedDevice | undefined {
  try {
    return ctx.manufacturers.identifyVerified(idevid, ctx.clock.now());
  } catch (e) {
    if (isAirlockError(e)) return undefined;
    throw e;
  }
}

/**
 * The device's onboarding session: same birth certificate as the voucher was issued to, and
 * in one of the states the endpoint requires (else ERR_REGISTRAR_SEQUENCE).
 */
export async function session(
  ctx: RegistrarContext,
  r: NetworkRepositories,
  ch: Channel,
  endpoint: { requires: readonly DeviceState[] | null; lock: boolean },
  identify: (serial: string | undefined) => void,
): Promise<Session> {
  const idevid = ch.clientCert;
  if (!idevid) throw new AirlockError('ERR_IDEVID_MISSING');
  const identified = sessionDevice(ctx, idevid);
  const serial = identified?.serial;
  // A certificate of no trusted manufacturer (an LDevID, say) is refused under the serial it claims.
  identify(serial ?? idevid.subjectSerialNumber);
  const row =
    serial === undefined
      ? undefined
      : await r.devices.get(serial, endpoint.lock ? { lock: true } : undefined);
  if (!identified || !row || !equalBytes(row.idevidDer, idevid.der))
    throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'no voucher was issued to this device');
  if (endpoint.requires) requireState(row.state, endpoint.requires);
  return { ...row, idevid, identified };
}

/**
 * The device an LDevID of ours is current for, its row locked for the rest of the work: the
 * LDevID is checked again once the lock is held, so that two renewals with one LDevID on two
 * nodes cannot both succeed.
 */
export async function currentHolder(
  ctx: RegistrarContext,
  r: NetworkRepositories,
  ldevidSerial: string,
): Promise<{ device: string; state: DeviceState }> {
  const first = await ctx.credentials.isCurrent(ldevidSerial, r);
  ensure(first, 'ERR_CERT_REVOKED', 'the LDevID is not current');
  const device = await r.devices.get(first.device, { lock: true });
  const holder = await ctx.credentials.isCurrent(ldevidSerial, r);
  ensure(device && holder, 'ERR_CERT_REVOKED', 'the LDevID is not current');
  return { device: device.serial, state: device.state };
}

/**
 * The device whose current LDevID is the channel's client certificate (renewal, the connection
 * report): ERR_LDEVID_MISSING without one, a chain error when the domain CA did not issue it,
 * ERR_CERT_REVOKED when it is not current. The device's row is held until the work ends.
 */
export async function ldevidHolder(
  ctx: RegistrarContext,
  r: NetworkRepositories,
  ch: Channel,
  what: string,
): Promise<{ device: string; state: DeviceState; ldevid: Certificate }> {
  const ldevid = ch.clientCert;
  ensure(ldevid, 'ERR_LDEVID_MISSING', `${what} needs the current LDevID`);
  verifyChain(ctx.crypto, { leaf: ldevid, anchors: [ctx.pki.domainCa.cert], at: ctx.clock.now() });
  return { ...(await currentHolder(ctx, r, ldevid.serial)), ldevid };
}

/** The LDevID on the channel, if it is a current one of ours. */
export async function currentLdevid(
  ctx: RegistrarContext,
  r: NetworkRepositories,
  ch: Channel,
): Promise<{ device: string } | undefined> {
  const cert = ch.clientCert;
  if (!cert || !equalBytes(cert.issuerDer, ctx.pki.domainCa.cert.subjectDer)) return undefined;
  verifyChain(ctx.crypto, { leaf: cert, anchors: [ctx.pki.domainCa.cert], at: ctx.clock.now() });
  return currentHolder(ctx, r, cert.serial);
}

/** A device by serial number, its row locked; ERR_DEVICE_NOT_FOUND when there is none. */
export async function lockedDevice(
  r: NetworkRepositories,
  serial: string,
  identify: (serial: string | undefined) => void,
): Promise<NetworkDevice> {
  identify(serial);
  const row = await r.devices.get(serial, { lock: true });
  if (!row) throw new AirlockError('ERR_DEVICE_NOT_FOUND');
  return row;
}
