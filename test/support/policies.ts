/**
 * Authorization policies for tests (docs/POLICY.md). Airlock's default policy admits only
 * devices whose attestation is affirming; a test of a pledge that does not attest (curl,
 * openssl, a foreign manufacturer's device) says so by applying `UNATTESTED_ALLOWED`, as an
 * administrator would for a class of devices that cannot attest.
 */
import type { NetworkStore } from '../../src/core/store.js';
import { parsePolicy } from '../../src/protocols/policy/parse.js';

export const UNATTESTED_ALLOWED = `version: 1
rules:
  - name: every-trusted-device
    require:
      attestation: [affirming, warning, none]
`;

/** Applies `yaml` straight to a network store (what Network.applyPolicy does, without re-evaluation). */
export async function applyPolicyTo(
  store: NetworkStore,
  yaml: string,
  id = 'test-policy',
): Promise<void> {
  const policy = parsePolicy(yaml);
  await store.run((r) =>
    r.policies.add({ policyId: id, source: yaml, policy: JSON.stringify(policy) }, new Date()),
  );
}

/** A policy that puts the device `serial` in `segment`, and every other device in `default`. */
export function movedTo(serial: string, segment: string): string {
  return `version: 1
locations:
  moved: ['${serial}']
rules:
  - name: moved
    match:
      location: moved
    segment: ${segment}
  - name: everyone-else
    segment: default
`;
}
