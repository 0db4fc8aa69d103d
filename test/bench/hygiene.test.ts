/**
 * Killing the benchmark leaves no server behind: its children (the network role and the TLS
 * baseline server) end with it, on SIGTERM and on SIGINT.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the benchmark', () => {
  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    'killed with %s, leaves no child process',
    async (signal, expectedCode) => {
      const bench = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'bench/run.ts',
          'onboarding',
          '--devices',
          '2',
          '--concurrency',
          '1',
          '--baseline-handshakes',
          '5',
          '--json',
        ],
        {
          cwd: projectRoot,
          stdio: ['ignore', 'ignore', 'ignore'],
        },
      );
      const exited = new Promise<number | null>((resolve) =>
        bench.once('exit', (code) => resolve(code)),
      );
      let kids: number[] = [];
      await until(
        'the bench to start its servers',
        () => (kids = childrenOf(bench.pid!)).length >= 2,
        60_000,
      );
      bench.kill(signal);
      expect(await exited).toBe(expectedCode);
      await until('the servers to end', () => kids.every((k) => !alive(k)), 10_000);
      expect(kids.filter(alive)).toEqual([]);
    },
    90_000,
  );
});
