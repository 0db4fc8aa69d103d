/**
 * Step 15: onboarding credentials, delivered over the onboarding channel to the one device
 * they belong to: an LDevID (RFC 7030 section 4.2.1, for a key the device generated itself),
 * and the SSID with a unique per-device PSK. The device is authenticated by its IDevID on this
 * channel and the voucher issued to it. What each issued is remembered for the connection.
 */
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { ONBOARDING_STATES, TRANSITIONS, transition } from '../../core/onboarding-state.js';
import { decodeCsrBody, verifyCsr } from '../../protocols/est/csr.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type { Endpoint } from './pipeline.js';
import { ensureNotOurKey } from './own-keys.js';
import { issuedOn } from './connection.js';
import { authorize } from './authorization.js';
import { requireIntent } from './step-11-intent.js';

/**
 * RFC 7030 simpleenroll: the CSR's key must be new. A key certified before, for any device, or
 * any device's birth key, is ERR_CSR_KEY, and nothing is issued.
 */
export const simpleEnroll: Endpoint<string, Certificate> = {
  method: 'POST',
  path: '/.well-known/est/simpleenroll',
  action: 'simpleenroll',
  step: OnboardingStep.Provisioning,
  device: 'session',
  requires: TRANSITIONS['ldevid-issued'].from,
  lock: true,
  transactional: true,
  async handler(ctx, call, body) {
    const device = await call.session();
    const state = transition(device.state, 'ldevid-issued');
    await requireIntent(ctx, call, device.serial, await authorize(ctx, call, device));
    const csr = verifyCsr(ctx.crypto, decodeCsrBody(body));
    ensureNotOurKey(ctx, csr.spki);
    const cert = ctx.credentials.signLdevid(device.serial, csr.spki);
    await ctx.credentials.recordLdevid(call.r, device.serial, cert);
    await call.r.devices.update(
      device.serial,
      { state, ldevidSerial: cert.serial },
      ctx.clock.now(),
    );
    return cert;
  },
  detail: (c) => ({ ldevid: c.serial }),
  committed(ctx, ch, cert) {
    issuedOn(ctx, ch).ldevid = cert.serial;
  },
};

/**
 * The SSID and a unique per-device PSK (sealed at rest; it replaces the device's earlier ones),
 * and, where the network enforces intent, the address the device's rules are keyed by.
 */
export const wifi: Endpoint<void, { id: string; psk: string; address?: string }> = {
  method: 'POST',
  path: '/.well-known/airlock/wifi',
  action: 'wifi',
  step: OnboardingStep.Provisioning,
  device: 'session',
  requires: ONBOARDING_STATES,
  lock: true,
  transactional: true,
  async handler(ctx, call) {
    const device = await call.session();
    await requireIntent(ctx, call, device.serial, await authorize(ctx, call, device));
    const p = await ctx.credentials.newPsk(call.r, device.serial);
    await call.r.devices.update(device.serial, { pskId: p.id }, ctx.clock.now());
    const address = ctx.intent ? (await call.r.intent.device(device.serial))?.address : undefined;
    return address === undefined ? p : { ...p, address };
  },
  detail: (p) => ({ psk: p.id }),
  committed(ctx, ch, p) {
    issuedOn(ctx, ch).psk = p.id;
  },
};
