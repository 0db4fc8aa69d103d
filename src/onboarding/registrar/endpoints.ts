/**
 * The registrar's endpoints, as a table: endpoint, step of NIST IR 8350 Figure 9, the state
 * the device must be in, and the handler. RFC 8995 (/.well-known/brski), RFC 7030
 * (/.well-known/est), and Airlock's additions for the steps BRSKI leaves open
 * (/.well-known/airlock). The wire binding (src/roles/network/routes.ts) serves exactly these.
 *
 * Every endpoint with a handler runs through the audited pipeline (pipeline.ts). The public
 * ones serve the domain's public material to anyone, before a device is known: no device, no
 * state, nothing recorded.
 */
import { OnboardingStep, type OnboardingStepNumber } from '../../core/onboarding-steps.js';
import type { Endpoint } from './pipeline.js';
import { attestationChallenge, attestationEvidence } from './step-03-attestation.js';
import { requestVoucher } from './step-05-trusted-introduction.js';
import { declaration } from './step-06-declaration.js';
import { deviceAuthentication, voucherStatus } from './step-07-device-authentication.js';
import { appBootstrap } from './step-14-app-bootstrap.js';
import { simpleEnroll, wifi } from './step-15-provisioning.js';
import { simpleReenroll } from './renewal.js';
import { enrollStatus } from './enrollment-status.js';
import { connectionReport } from './connection-report.js';

/** An endpoint that serves public material: no device, no handler of the registrar's. */
export interface PublicEndpoint {
  method: 'GET';
  path: string;
  step: OnboardingStepNumber | undefined;
  device: 'none';
  requires: null;
  handler: null;
}

export type AnyEndpoint = Endpoint<any, any> | PublicEndpoint;

export const registrarEndpoints: readonly AnyEndpoint[] = [
  attestationChallenge, //          POST airlock/attestation/challenge 2-3 (any state, or new)
  attestationEvidence, //           POST airlock/attestation        3-4 attesting
  requestVoucher, //                 POST brski/requestvoucher      5   (any state, or new); 2-5 with evidence
  declaration, //                    GET  airlock/declaration       6   vouched, authenticated, provisioned
  voucherStatus, //                  POST brski/voucher_status json  -   vouched, authenticated, provisioned, failed
  deviceAuthentication, //           POST brski/voucher_status jose  7   vouched, authenticated
  appBootstrap, //                   POST airlock/app-bootstrap     14   vouched, authenticated, provisioned
  {
    method: 'GET',
    path: '/.well-known/est/cacerts',
    step: OnboardingStep.Provisioning,
    device: 'none',
    requires: null,
    handler: null,
  },
  {
    method: 'GET',
    path: '/.well-known/est/csrattrs',
    step: OnboardingStep.Provisioning,
    device: 'none',
    requires: null,
    handler: null,
  },
  simpleEnroll, //                   POST est/simpleenroll          15   vouched, authenticated, provisioned
  simpleReenroll, //                 POST est/simplereenroll         -   its current LDevID, any state
  wifi, //                           POST airlock/wifi              15   vouched, authenticated, provisioned
  enrollStatus, //                   POST brski/enrollstatus         -   any state
  connectionReport, //               POST airlock/connection-report  -   its current LDevID, any state
  {
    method: 'GET',
    path: '/.well-known/airlock/crl',
    step: undefined,
    device: 'none',
    requires: null,
    handler: null,
  },
];
