import { isAirlockError } from '../../src/core/errors.js';

/**
 * Runs `fn` and returns the code of the AirlockError it throws, or 'OK' when it throws
 * nothing. Anything else it throws is rethrown: an untyped error fails the test.
 */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isAirlockError(e)) return e.code;
    throw e;
  }
  return 'OK';
}
