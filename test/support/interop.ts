/**
 * The interoperability corpus (artifacts written by other implementations): where it is,
 * and whether it is there. Tests read it from AIRLOCK_INTEROP_DIR or, by default, from
 * ../shared/interop next to the repository, and skip (saying so) when it is absent.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const interopDir = process.env.AIRLOCK_INTEROP_DIR
  ? path.resolve(process.env.AIRLOCK_INTEROP_DIR)
  : path.resolve(repoRoot, '../shared/interop');

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
