/** Step 14: application-layer bootstrapping information, in exchange for the device's. */
import { ensure } from '../../core/errors.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { ONBOARDING_STATES } from '../../core/onboarding-state.js';
import type { AppBootstrap } from '../../core/credentials.js';
import type { Endpoint } from './pipeline.js';

export const appBootstrap: Endpoint<unknown, AppBootstrap> = {
  method: 'POST',
  path: '/.well-known/airlock/app-bootstrap',
  action: 'app-bootstrap',
  step: OnboardingStep.AppBootstrap,
  device: 'session',
  requires: ONBOARDING_STATES,
  lock: false,
  transactional: false,
  async handler(ctx, call, deviceInfo) {
    await call.session();
    ensure(
      typeof deviceInfo === 'object' && deviceInfo !== null && !Array.isArray(deviceInfo),
      'ERR_INPUT_SCHEMA',
      'expected a JSON object',
    );
    return {
      applicationUrl: ctx.settings.applicationUrl,
      trustAnchor: ctx.settings.applicationTrustAnchor,
    };
  },
};
