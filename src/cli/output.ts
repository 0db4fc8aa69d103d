/** Printing for the CLI: human lines on stderr-free stdout, or one JSON document with --json. */
import { isAirlockError } from '../core/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Keeps serving until SIGINT or SIGTERM, then closes gracefully (the roles drain: requests in
 * flight get their drain bound, new ones a 503) and exits 0. A second signal exits at once.
 */
export function serveUntilInterrupted(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    process.stderr.write(`airlock: ${signal}: draining, then stopping (send it again to stop at once)\n`);
    close().then(() => process.exit(0), (e: unknown) => fail(e));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

export function fail(e: unknown): never {
  if (isAirlockError(e)) {
    process.stderr.write(`airlock: ${e.code}: ${e.message}\n`);
  } else {
    process.stderr.write(`airlock: ${(e as Error).message ?? String(e)}\n`);
  }
  process.exit(1);
}
