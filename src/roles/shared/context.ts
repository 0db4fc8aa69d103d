import type { Clock, Crypto } from '../../core/ports.js';
import type { Logger } from '../../adapters/log/logger.js';

/** What every role is wired with. */
export interface RoleContext {
  crypto: Crypto;
  clock: Clock;
  logger: Logger;
}
