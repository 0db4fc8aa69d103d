import type { Clock, Crypto, KeyStore } from '../../core/ports.js';
import type { Logger } from '../../adapters/log/logger.js';
import { softwareKeyStore } from '../../adapters/crypto/software-key-store.js';

/** What every role is wired with. */
export interface RoleContext {
  crypto: Crypto;
  clock: Clock;
  logger: Logger;
  /** Where the role's private keys are made and read; software keys (keyStoreOf) when not given. */
  keys?: KeyStore;
}

/** The role's key store: the one it was wired with, else software keys. */
export function keyStoreOf(ctx: RoleContext): KeyStore {
  return ctx.keys ?? softwareKeyStore;
}
