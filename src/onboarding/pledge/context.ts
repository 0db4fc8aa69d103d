/**
 * What the pledge's steps are given: the ports they need, nothing else. A RoleContext with a
 * key store is one; tests pass a fixed clock.
 */
import type { Clock, Crypto, KeyStore } from '../../core/ports.js';

export interface PledgeContext {
  crypto: Crypto;
  clock: Clock;
  keys: KeyStore;
}
