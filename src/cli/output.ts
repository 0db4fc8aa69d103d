/** Printing for the CLI: human lines on stderr-free stdout, or one JSON document with --json. */
import { isAirlockError } from '../core/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Keeps serving until SIGINT or SIGTERM, then closes and exits 0. */
export function serveUntilInterrupted(close: () => Promise<void>): void {
  const stop = async () => {
    await close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export function fail(e: unknown): never {
  if (isAirlockError(e)) {
    process.stderr.write(`airlock: ${e.code}: ${e.message}\n`);
  } else {
    process.stderr.write(`airlock: ${(e as Error).message ?? String(e)}\n`);
  }
  process.exit(1);
}
