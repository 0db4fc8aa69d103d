/**
 * The onboarding state machine as data (src/core/onboarding-state.ts): every transition the
 * table allows leads where it says, every other one is ERR_REGISTRAR_SEQUENCE, and the table
 * is the one the registrar's endpoints require states from.
 */
import { describe, expect, it } from 'vitest';
import {
  DEVICE_STATES,
  TRANSITIONS,
  canTransition,
  requireState,
  transition,
  type DeviceEvent,
  type DeviceState,
} from '../../src/core/onboarding-state.js';
import { codeOf } from '../support/errors.js';

const events = Object.keys(TRANSITIONS) as DeviceEvent[];

describe('the onboarding state machine', () => {
  it('allows exactly the transitions in its table, and refuses every other with a typed error', () => {
    for (const event of events) {
      for (const state of DEVICE_STATES) {
        const allowed = (TRANSITIONS[event].from as readonly string[]).includes(state);
        expect(canTransition(state, event)).toBe(allowed);
        expect(codeOf(() => transition(state, event))).toBe(
          allowed ? 'OK' : 'ERR_REGISTRAR_SEQUENCE',
        );
        if (allowed) expect(transition(state, event)).toBe(TRANSITIONS[event].to);
      }
    }
  });

  it('walks an onboarding, a failure and an onboarding again', () => {
    let s: DeviceState = transition('onboarded', 'voucher-issued');
    s = transition(s, 'device-authenticated');
    s = transition(s, 'ldevid-issued');
    expect(transition(s, 'enrollment-confirmed')).toBe('onboarded');
    expect(transition(s, 'enrollment-failed')).toBe('failed');
    expect(codeOf(() => transition('failed', 'enrollment-confirmed'))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    expect(codeOf(() => transition('vouched', 'enrollment-confirmed'))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
    expect(codeOf(() => transition('onboarded', 'ldevid-issued'))).toBe('ERR_REGISTRAR_SEQUENCE');
    expect(transition('decommissioned', 'voucher-issued')).toBe('vouched');
  });

  it('requires a state from a list', () => {
    expect(codeOf(() => requireState('provisioned', ['vouched', 'provisioned']))).toBe('OK');
    expect(codeOf(() => requireState('onboarded', ['vouched', 'provisioned']))).toBe(
      'ERR_REGISTRAR_SEQUENCE',
    );
  });
});
