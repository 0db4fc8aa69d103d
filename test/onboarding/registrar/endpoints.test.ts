/** The registrar's endpoint table: every route the wire binding serves, with its step and the states it requires. */
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { registrarEndpoints } from '../../../src/onboarding/registrar/endpoints.js';
import { registrarRoutes } from '../../../src/roles/network/routes.js';
import type { Network } from '../../../src/roles/network/index.js';
import { OnboardingStep } from '../../../src/core/onboarding-steps.js';

/** The routes registrarRoutes registers, without a server. */
function servedRoutes(): string[] {
  const routes: string[] = [];
  const app = {
    get: (path: string) => void routes.push(`GET ${path}`),
    post: (path: string) => void routes.push(`POST ${path}`),
    addContentTypeParser: () => undefined,
  };
  registrarRoutes(app as unknown as FastifyInstance, { registrar: {} } as unknown as Network);
  return routes;
}

describe("the registrar's endpoint table", () => {
  it('lists every route routes.ts serves, and no other', () => {
    const table = [...new Set(registrarEndpoints.map((e) => `${e.method} ${e.path}`))];
    expect(table.sort()).toEqual(servedRoutes().sort());
  });

  it('names the step of NIST IR 8350 Figure 9 and the states each endpoint requires', () => {
    const rows = registrarEndpoints.map((e) => [
      `${e.method} ${e.path}${'mediaType' in e && e.mediaType ? ` (${e.mediaType})` : ''}`,
      e.step,
      e.requires,
    ]);
    const onboarding = ['vouched', 'authenticated', 'provisioned'];
    expect(rows).toEqual([
      ['POST /.well-known/airlock/attestation/challenge', OnboardingStep.OnboardingMode, null],
      ['POST /.well-known/airlock/attestation', OnboardingStep.AttestationVerified, null],
      ['POST /.well-known/brski/requestvoucher', OnboardingStep.TrustedIntroduction, null],
      ['GET /.well-known/airlock/declaration', OnboardingStep.DeclarationDelivered, onboarding],
      [
        'POST /.well-known/brski/voucher_status (application/json)',
        undefined,
        [...onboarding, 'failed'],
      ],
      [
        'POST /.well-known/brski/voucher_status (application/jose)',
        OnboardingStep.DeviceAuthenticated,
        ['vouched', 'authenticated'],
      ],
      ['POST /.well-known/airlock/app-bootstrap', OnboardingStep.AppBootstrap, onboarding],
      ['GET /.well-known/est/cacerts', OnboardingStep.Provisioning, null],
      ['GET /.well-known/est/csrattrs', OnboardingStep.Provisioning, null],
      ['POST /.well-known/est/simpleenroll', OnboardingStep.Provisioning, onboarding],
      ['POST /.well-known/est/simplereenroll', undefined, null],
      ['POST /.well-known/airlock/wifi', OnboardingStep.Provisioning, onboarding],
      [
        'POST /.well-known/brski/enrollstatus',
        undefined,
        [
          'attesting',
          'attested',
          'refused',
          'vouched',
          'authenticated',
          'provisioned',
          'onboarded',
          'failed',
          'decommissioned',
        ],
      ],
      ['POST /.well-known/airlock/connection-report', undefined, null],
      ['GET /.well-known/airlock/crl', undefined, null],
    ]);
  });

  it('every step named is one of core/onboarding-steps.ts; every endpoint with a session requires states, and only those', () => {
    const steps = new Set<number>(Object.values(OnboardingStep));
    for (const e of registrarEndpoints) {
      if (e.step !== undefined) expect(steps.has(e.step)).toBe(true);
      expect(e.requires !== null).toBe(
        e.device === 'session' || e.device === 'session or current LDevID',
      );
      expect(e.handler === null).toBe(e.device === 'none');
    }
  });
});
