/**
 * Temporary directories that must not outlive a test file (they hold keys): test systems not
 * closed, and directories made with tempDir(). test/setup.ts removes what is left after each
 * file. Kept apart from the harness so that the setup file loads nothing else: every test
 * file runs it, pure protocol tests included.
 */
import * as fs from 'node:fs';

const tracked = new Set<string>();

export function track(dir: string): string {
  tracked.add(dir);
  return dir;
}

export function remove(dir: string): void {
  tracked.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Removes every directory still tracked; says how many there were. */
export function removeTracked(): number {
  const left = tracked.size;
  for (const d of [...tracked]) remove(d);
  return left;
}
