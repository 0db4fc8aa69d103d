/**
 * The interoperability corpus: artifacts written by other implementations, copied into
 * test/fixtures/interop with their sources (test/fixtures/interop/SOURCES.md). Tests read it
 * from there, or from AIRLOCK_INTEROP_DIR to try another copy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root: the nearest folder above this file that holds package.json. */
function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('test/support/interop.ts is not inside the repository');
    dir = up;
  }
  return dir;
}

/** The copy in this repository: test/fixtures/interop. */
const inRepository = path.join(repositoryRoot(), 'test', 'fixtures', 'interop');

export const interopDir = process.env.AIRLOCK_INTEROP_DIR
  ? path.resolve(process.env.AIRLOCK_INTEROP_DIR)
  : inRepository;

/** True when the corpus is present; otherwise prints why the suite is skipped. */
export function interopAvailable(): boolean {
  const ok = fs.existsSync(interopDir) && fs.statSync(interopDir).isDirectory();
  if (!ok) console.log(`skipped: interop corpus not found at ${interopDir}`);
  return ok;
}

export function interopPath(...parts: string[]): string {
  return path.join(interopDir, ...parts);
}

export function readInterop(...parts: string[]): string {
  return fs.readFileSync(interopPath(...parts), 'utf8');
}
