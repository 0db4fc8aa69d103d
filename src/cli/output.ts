/** Printing for the CLI: human lines on stderr-free stdout, or one JSON document with --json. */
import { isAirlockError } from '../core/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function fail(e: unknown): never {
  if (isAirlockError(e)) {
    process.stderr.write(`airlock: ${e.code}: ${e.message}\n`);
  } else {
    process.stderr.write(`airlock: ${(e as Error).message ?? String(e)}\n`);
  }
  process.exit(1);
}
