/**
 * The interoperability corpus: artifacts written by other implementations, copied into
 * test/fixtures/interop with their sources (test/fixtures/interop/SOURCES.md). It is part of
 * the repository: a test that cannot find a file fails, it never skips.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/interop, beside this folder (test/support). */
export const interopDir = fileURLToPath(new URL('../fixtures/interop/', import.meta.url));

export function interopPath(...parts: string[]): string {
  return path.join(interopDir, ...parts);
}

export function readInterop(...parts: string[]): string {
  return fs.readFileSync(interopPath(...parts), 'utf8');
}
