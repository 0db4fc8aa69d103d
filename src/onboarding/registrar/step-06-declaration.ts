/**
 * Step 6: the device information declaration, sent to the device over its onboarding channel:
 * the chain installed from the manufacturer's export file, or fetched in real time.
 */
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { ONBOARDING_STATES } from '../../core/onboarding-state.js';
import { normaliseMasaUrl } from '../../protocols/x509/masa-url.js';
import type { Endpoint } from './pipeline.js';

export const declaration: Endpoint<void, string[]> = {
  method: 'GET',
  path: '/.well-known/airlock/declaration',
  action: 'declaration',
  step: OnboardingStep.DeclarationDelivered,
  device: 'session',
  requires: ONBOARDING_STATES,
  lock: false,
  transactional: false,
  async handler(ctx, call) {
    const device = await call.session();
    const { masaUrl, trust } = device.identified;
    return ctx.declarations.chainFor(
      device.serial,
      masaUrl === undefined ? undefined : normaliseMasaUrl(masaUrl),
      trust,
    );
  },
};
