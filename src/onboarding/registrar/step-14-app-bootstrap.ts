/**
 * Step 14: application-layer bootstrapping information, in exchange for the device's. The
 * device may say where it answers re-attestation (`attestation-url`, report section 7): an
 * https URL where it presents the LDevID it is about to receive.
 */
import { z } from 'zod';
import { AirlockError, ensure } from '../../core/errors.js';
import { checked } from '../../protocols/schema.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { ONBOARDING_STATES } from '../../core/onboarding-state.js';
import type { AppBootstrap } from '../../core/credentials.js';
import type { Endpoint } from './pipeline.js';
import { authorize } from './authorization.js';

const DeviceInfo = z.looseObject({
  'application-url': z.string().max(2048).nullable().optional(),
  'attestation-url': z
    .url({ protocol: /^https$/ })
    .max(2048)
    .optional(),
});

export const appBootstrap: Endpoint<unknown, AppBootstrap> = {
  method: 'POST',
  path: '/.well-known/airlock/app-bootstrap',
  action: 'app-bootstrap',
  step: OnboardingStep.AppBootstrap,
  device: 'session',
  requires: ONBOARDING_STATES,
  lock: true,
  transactional: true,
  async handler(ctx, call, deviceInfo) {
    const device = await call.session();
    ensure(
      typeof deviceInfo === 'object' && deviceInfo !== null && !Array.isArray(deviceInfo),
      'ERR_INPUT_SCHEMA',
      'expected a JSON object',
    );
    const info = checked(DeviceInfo, deviceInfo, 'ERR_INPUT_SCHEMA', 'the device information');
    await authorize(ctx, call, device);
    const url = info['attestation-url'];
    if (url !== undefined) {
      // Only the device's own address: the network will connect there, and must not be sent
      // to another host of its own (its management network, say) by what a device says.
      const host = /^https:\/\/(?:\[([^\]]+)\]|([^:/?#@]+))(?::\d+)?(?:[/?#]|$)/i.exec(url);
      if (!host || (host[1] ?? host[2])!.toLowerCase() !== unmapped(call.ch.peer).toLowerCase())
        throw new AirlockError(
          'ERR_INPUT_SCHEMA',
          'the attestation URL must name the address the device connects from',
        );
      await call.r.devices.attestationUrl(device.serial, url, ctx.clock.now());
    }
    return {
      applicationUrl: ctx.settings.applicationUrl,
      trustAnchor: ctx.settings.applicationTrustAnchor,
    };
  },
};

/** An IPv4 address as itself, not as IPv6 maps it (::ffff:192.0.2.7). */
function unmapped(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}
