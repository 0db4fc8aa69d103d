/**
 * The `airlock` command as a user runs it: bin/airlock.js in a child Node process, its exit
 * code and output (text), whether it succeeds or not.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const exec = promisify(execFile);

/** The path of bin/airlock.js. */
export const airlockBin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

/** Runs `airlock ...args` (60 s at most): its exit code, stdout and stderr. */
export async function airlock(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [airlockBin, ...args], {
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
