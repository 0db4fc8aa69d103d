/**
 * Killing the benchmark leaves no server behind: its children (the network role and the TLS
 * baseline server) end with it, on SIGTERM and on SIGINT. With --database postgres, the
 * PostgreSQL server it started is stopped and its directory removed too, when it is killed and
 * when its guard timeout gives up (even in the middle of starting the server).
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres } from '../support/postgres-server.js';

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

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Processes whose command line names `dir` (a PostgreSQL server runs with `-D <dir>/airlock-pg-*\/data`). */
function processesIn(dir: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid && cmdline(pid).includes(dir));
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
      // Its two servers by name: tsx's esbuild service is a child of the bench too.
      let kids: number[] = [];
      await until(
        'the bench to start its servers',
        () =>
          (kids = childrenOf(bench.pid!).filter((k) => /server\.ts/.test(cmdline(k)))).length >= 2,
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

describe('the benchmark on PostgreSQL', () => {
  let skipped: string | undefined;
  /** The bench's TMPDIR: the PostgreSQL server's directory is made there, and nothing else's. */
  let tmp = '';
  beforeAll(async () => {
    if (process.env.AIRLOCK_DATABASE_URL) {
      skipped = 'AIRLOCK_DATABASE_URL is set: the bench would use it rather than start a server';
      return;
    }
    const probe = await startPostgres();
    if ('skipped' in probe) skipped = probe.skipped;
    else await probe.stop();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-hygiene-'));
    // PostgreSQL runs as `postgres` when the tests run as root: it must reach its directory.
    fs.chmodSync(tmp, 0o755);
  }, 60_000);
  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const bench = (args: string[]) => {
    const proc = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        'onboarding',
        '--database',
        'postgres',
        ...args,
        '--json',
      ],
      {
        cwd: projectRoot,
        stdio: ['ignore', 'ignore', 'ignore'],
        env: { ...process.env, TMPDIR: tmp },
      },
    );
    return {
      proc,
      exited: new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code))),
    };
  };
  const leftovers = () => fs.readdirSync(tmp).filter((f) => f.startsWith('airlock-pg-'));

  it('killed with SIGTERM once its two nodes are up, stops its PostgreSQL server and removes its directory', async (t) => {
    if (skipped) return t.skip(skipped);
    const { proc, exited } = bench([
      '--devices',
      '2',
      '--concurrency',
      '1',
      '--baseline-handshakes',
      '5',
      '--nodes',
      '2',
    ]);
    let kids: number[] = [];
    // The manufacturer's and the two nodes' server processes.
    await until(
      'the bench to start its servers',
      () =>
        (kids = childrenOf(proc.pid!)).filter((k) => cmdline(k).includes('server.ts')).length >= 3,
      90_000,
    );
    expect(processesIn(tmp).length).toBeGreaterThan(0);
    proc.kill('SIGTERM');
    expect(await exited).toBe(143);
    await until(
      'the servers to end',
      () => kids.every((k) => !alive(k)) && processesIn(tmp).length === 0,
      15_000,
    );
    expect(leftovers()).toEqual([]);
  }, 150_000);

  it('giving up at its guard timeout while starting PostgreSQL, leaves no server and no directory', async (t) => {
    if (skipped) return t.skip(skipped);
    const { exited } = bench([
      '--devices',
      '2',
      '--concurrency',
      '1',
      '--baseline-handshakes',
      '5',
      '--timeout',
      '1',
    ]);
    expect(await exited).toBe(3);
    await until('the PostgreSQL server to end', () => processesIn(tmp).length === 0, 15_000);
    expect(leftovers()).toEqual([]);
  }, 150_000);
});
