/**
 * The onboarding state machine of a device at the network: its states, and the transitions
 * the registrar may make, as data. The storage schema and the registrar's endpoint table use
 * these; a transition not in the table is a typed error (ERR_REGISTRAR_SEQUENCE), whatever
 * step asked for it.
 *
 *   (new) ──voucher-issued──▶ vouched ──device-authenticated──▶ authenticated
 *                               │                                   │
 *                               └──────────ldevid-issued────────────┴──▶ provisioned ──enrollment-confirmed──▶ onboarded
 *   vouched, authenticated, provisioned ──enrollment-failed──▶ failed
 *   any state ──voucher-issued──▶ vouched   (onboarding again: resale, factory reset, a failure)
 *
 * Attestation (steps 3 and 4) comes first when the device attests:
 *   (new), any state ──attestation-challenged──▶ attesting ──attestation-admitted──▶ attested ──voucher-issued──▶ vouched
 *                                                   └──────attestation-refused──────▶ refused
 * A refused device gets nothing more; it may start again (a new challenge) with new evidence.
 *
 * User-assisted onboarding (Wi-Fi Easy Connect, docs/DPP.md): the owner added the device's
 * bootstrapping key; the Configurator authenticated it and delivered its credentials:
 *   (new), any state a voucher may be issued in but decommissioned ──dpp-configured──▶ provisioned
 *   provisioned ──enrollment-confirmed──▶ onboarded   (its Configuration Result, status OK)
 *   provisioned ──enrollment-failed──▶ failed          (a Configuration Result with another status)
 */
import { AirlockError } from './errors.js';

export const DEVICE_STATES = [
  'attesting',
  'attested',
  'refused',
  'vouched',
  'authenticated',
  'provisioned',
  'onboarded',
  'failed',
  'decommissioned',
] as const;

export type DeviceState = (typeof DEVICE_STATES)[number];

/** The states of a device still being onboarded: a voucher was issued, the onboarding is not over. */
export const ONBOARDING_STATES: readonly DeviceState[] = [
  'vouched',
  'authenticated',
  'provisioned',
];

/** The states a voucher may be issued in. */
export const VOUCHER_STATES: readonly DeviceState[] = DEVICE_STATES.filter(
  (s) => s !== 'attesting' && s !== 'refused',
);

/** What happens to a device, and the state it leads to from each state it may happen in. */
export const TRANSITIONS = {
  /** Steps 2 and 3: the verifier's nonce was handed to the device; a device attests again from any state. */
  'attestation-challenged': { from: DEVICE_STATES, to: 'attesting' },
  /** Step 4: the attestation result admits the device (policy). */
  'attestation-admitted': { from: ['attesting'], to: 'attested' },
  /** Step 4: the attestation result does not admit the device: it gets nothing more. */
  'attestation-refused': { from: ['attesting'], to: 'refused' },
  /**
   * Steps 2 and 5: a voucher was issued; a device onboards again from any state but these
   * two: an attestation begun must end, and a refused one must be done again (a device cannot
   * drop its evidence once it was found wanting).
   */
  'voucher-issued': { from: VOUCHER_STATES, to: 'vouched' },
  /** Step 7 (Airlock's signed voucher status): the IDevID holder proved it on this channel. */
  'device-authenticated': { from: ['vouched', 'authenticated'], to: 'authenticated' },
  /**
   * Wi-Fi Easy Connect (docs/DPP.md): the Configurator authenticated a device whose bootstrapping
   * key the owner added, and delivered its SSID and per-device PSK. Not a decommissioned device:
   * its URI staying added is no authorization to come back.
   */
  'dpp-configured': {
    from: VOUCHER_STATES.filter((s) => s !== 'decommissioned'),
    to: 'provisioned',
  },
  /** Step 15: an LDevID was issued in this onboarding. */
  'ldevid-issued': { from: ONBOARDING_STATES, to: 'provisioned' },
  /** RFC 8995 section 5.9.4: the device reported success with what it received. */
  'enrollment-confirmed': { from: ['provisioned'], to: 'onboarded' },
  /** RFC 8995 section 5.9.4: the device reported failure; it starts again with a new voucher. */
  'enrollment-failed': { from: ONBOARDING_STATES, to: 'failed' },
  /**
   * Report section 7: the owner takes the device out of service, from any state; its
   * credentials are revoked. It may be onboarded again later (a voucher, from scratch).
   */
  decommissioned: { from: DEVICE_STATES, to: 'decommissioned' },
} as const satisfies Record<string, { from: readonly DeviceState[]; to: DeviceState }>;

export type DeviceEvent = keyof typeof TRANSITIONS;

/** Whether `event` may happen to a device in `state`. */
export function canTransition(state: DeviceState, event: DeviceEvent): boolean {
  return (TRANSITIONS[event].from as readonly DeviceState[]).includes(state);
}

/** The state `event` leads to from `state`; ERR_REGISTRAR_SEQUENCE when it may not happen there. */
export function transition<E extends DeviceEvent>(
  state: DeviceState,
  event: E,
): (typeof TRANSITIONS)[E]['to'] {
  if (!canTransition(state, event))
    throw new AirlockError('ERR_REGISTRAR_SEQUENCE', `the device is ${state}`);
  return TRANSITIONS[event].to;
}

/** ERR_REGISTRAR_SEQUENCE unless `state` is one of `allowed` (what an endpoint requires). */
export function requireState(state: DeviceState, allowed: readonly DeviceState[]): void {
  if (!allowed.includes(state))
    throw new AirlockError('ERR_REGISTRAR_SEQUENCE', `the device is ${state}`);
}
