/**
 * Onboarding throughput: N devices, C concurrent, against a registrar and a MASA in one server
 * process, or with `separate` each in a process of its own as they are deployed (the owner's
 * network and the manufacturer) (bench/server.ts), compared with a bare TLS 1.3 mutual-auth
 * handshake baseline (bench/tls-baseline-server.ts) in the same arrangement, measured in runs
 * interleaved with slices of the onboarding run (before the first slice, between each two,
 * after the last), so that both sample the machine at the same times.
 *
 * With `database: 'postgres'` the roles keep their records in PostgreSQL (AIRLOCK_DATABASE_URL,
 * an empty database, or a throwaway server started here, test/support/postgres-server.ts), and
 * with `nodes` > 1 several network processes share it, the devices spread over them round-robin.
 *
 * With `attestation: 'on'` (the default) a verifier runs beside the manufacturer (in its
 * process; the registrar calls it directly when they share one, as `airlock up` does, and over
 * its HTTPS API when apart), the manufacturer releases a firmware image for the bench's model, and every device
 * measures that image file and attests before its voucher (NIST IR 8350 steps 1 to 4); at the
 * end every benched device must be `affirming` in the network's inventory. 'off': no verifier,
 * devices that do not attest, and a network policy that admits them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as tls from 'node:tls';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import pg from 'pg';
import { createDatabase, startPostgres } from '../test/support/postgres-server.js';
import { NodeCrypto } from '../src/adapters/crypto/node-crypto.js';
import { systemClock, type PledgeChannel, type PledgeConnector } from '../src/core/ports.js';
import { silentLogger } from '../src/adapters/log/logger.js';
import { MemorySecureStore } from '../src/adapters/secure-store/memory-store.js';
import { DeviceAgent } from '../src/roles/device/agent.js';
import { fileMeasuredBoot } from '../src/adapters/device/measured-boot.js';
import { tlsPledgeConnector } from '../src/adapters/http/tls-pledge-channel.js';
import { isAirlockError } from '../src/core/errors.js';
import { fromBase64, fromUtf8, toPem } from '../src/core/bytes.js';
import type { BirthCredentials } from '../src/core/credentials.js';
import type { RoleContext } from '../src/roles/shared/context.js';

export interface OnboardingOptions {
  devices: number;
  concurrency: number;
  /**
   * Handshakes of the baseline in all: default 2 x max(devices, 2000), spread over the
   * baseline runs (one before each slice of the onboarding run and one after the last).
   */
  baselineHandshakes?: number;
  /**
   * The onboarding run in so many slices of the devices, with a baseline run before the first,
   * between each two, and after the last, so that the baseline samples the machine when the
   * onboarding does (this machine's speed drifts by a third within a run). Default 4; 1 with
   * BENCH_CPU_PROF_ONBOARDING (a profile of the onboarding alone).
   */
  slices?: number;
  /** Time each HTTP call and the TLS open on the client side (small overhead). */
  phases?: boolean;
  /**
   * Where the registrar gets declarations: 'installed' (the manufacturer's export file, installed
   * ahead of time, report section 5.1.2) or 'realtime' (fetched from the manufacturer per device).
   */
  declarations?: 'installed' | 'realtime';
  /**
   * 'colocated' (default): the registrar and the MASA in one process; 'separate': each in a
   * process of its own, as the network owner's and the manufacturer's servers are.
   */
  topology?: 'separate' | 'colocated';
  /**
   * Network nodes: registrar processes sharing one database, each on a port of its own, device i
   * onboarding at node i % nodes. Default 1; more than one needs `database: 'postgres'` and
   * implies `topology: 'separate'` (the manufacturer in a process of its own).
   */
  nodes?: number;
  /**
   * Where the roles keep their records: 'sqlite' (default: files in each server's temporary
   * directory) or 'postgres' (both roles, each in its schema: AIRLOCK_DATABASE_URL, which must
   * hold no Airlock schema yet, else a PostgreSQL server started and stopped by the bench).
   */
  database?: 'sqlite' | 'postgres';
  /**
   * 'on' (default): the verifier runs (in the manufacturer's process: called directly by the
   * registrar when colocated, over HTTPS when separate) and every device attests
   * its firmware (steps 1 to 4) before the voucher; 'off': no verifier, the devices do not
   * attest, and the network applies a policy that admits devices without attestation.
   */
  attestation?: 'on' | 'off';
  /** Whole-run guard, in milliseconds. */
  timeoutMs?: number;
}

export interface OnboardingResult {
  benchmark: 'onboarding';
  declarations: 'installed' | 'realtime';
  topology: 'separate' | 'colocated';
  nodes: number;
  database: 'sqlite' | 'postgres';
  /** Whether the devices attested (steps 1 to 4) through a verifier in this run. */
  attestation: 'on' | 'off';
  /**
   * Which roles each process of `cpuMsPerOnboarding` runs: the verifier, with attestation on,
   * is in the manufacturer's process (`server` when the roles share one, `manufacturer` when
   * apart), so its CPU is counted with the manufacturer's.
   */
  processes: Record<string, string[]>;
  devices: number;
  concurrency: number;
  devicesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  failureCodes?: Record<string, number>;
  /** Handshakes over wall time, all baseline runs together. */
  baselineHandshakesPerSecond: number;
  /** The first baseline run's rate, and the last's. */
  baselineBefore: number;
  baselineAfter: number;
  /** Each baseline run's rate, in order (slices + 1 runs). */
  baselineRuns: number[];
  baselineFailures: number;
  /** How many slices the onboarding run was measured in. */
  slices: number;
  /** Devices/s over the baseline's handshakes/s, each over its measured time together. */
  ratio: number;
  /** Each slice's devices/s over the mean of the baseline runs either side of it. */
  sliceRatios: number[];
  /**
   * Unrevoked LDevIDs (rows of net_certificates) per benched device in the network's database at
   * the end, read from the database: exactly one each (min = max = 1) or the run fails.
   */
  liveLdevidsPerDevice: { min: number; max: number; histogram: Record<string, number> };
  /**
   * The benched devices by the attestation_status of their record in the network's inventory
   * at the end (`none`: no status). With attestation on, every one must be `affirming`.
   */
  attestationStatuses: Record<string, number>;
  /**
   * CPU milliseconds per device/handshake, user+system, in each process. `server` is every
   * Airlock server process together; with the roles apart, `network` (all nodes) and
   * `manufacturer` split it; `postgres` is the PostgreSQL server (postmaster and backends),
   * when it runs on this machine.
   */
  cpuMsPerOnboarding: {
    server: number;
    client: number;
    network?: number;
    manufacturer?: number;
    postgres?: number;
  };
  /** CPU time over wall time during the onboarding run: cores kept busy, per process type. */
  coresBusyDuringOnboarding: { server: number; client: number; postgres?: number };
  cpuMsPerHandshake: { server: number; client: number };
  onboardingWallMs: number;
  mintMs: number;
  phases?: Record<string, { count: number; meanMs: number; totalMs: number }>;
  /** The code measured: HEAD and whether src/ had uncommitted changes. */
  git: { commit: string; srcDirty: boolean } | undefined;
  node: string;
  cpus: number;
  cpuModel: string;
  date: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, '..');

// ---------------------------------------------------------------------------------------
// Child processes

interface Child {
  proc: ChildProcess;
  request<T>(msg: object, replyType: string, timeoutMs: number): Promise<T>;
  firstLine(timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Every child runs in its own process group (so a terminal's Ctrl-C reaches only the bench),
 * and the whole group is ended when the bench exits or is interrupted: no server outlives it.
 * SIGTERM first, as the servers remove their temporary data directory on it; SIGKILL for any
 * still there after a grace period.
 */
const children = new Set<ChildProcess>();
/**
 * True while the bench's PostgreSQL server is being started or stopped: an interrupt (or the
 * guard timeout) then waits for that to end before it exits. Exiting during the start would
 * leave a server its exit hook (test/support/postgres-server.ts: stops the server and removes its
 * directory when this process exits) does not know of; during stop(), which has removed that
 * hook, a server directory that nothing removes.
 */
let postgresBusy = false;
function signalChildren(signal: NodeJS.Signals): void {
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid, signal);
    } catch {
      // already gone
    }
  }
}
let cleanupInstalled = false;
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.once('exit', () => signalChildren('SIGTERM'));
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      // Whatever else ends the process meanwhile (a child that exits fails the run), it ends as interrupted.
      process.once('exit', () => (process.exitCode = code));
      signalChildren('SIGTERM');
      const deadline = Date.now() + 3_000;
      const postgresDeadline = Date.now() + 60_000;
      const wait = setInterval(() => {
        const childrenGone =
          [...children].every((c) => c.exitCode !== null || c.signalCode !== null) ||
          Date.now() > deadline;
        if (childrenGone && (!postgresBusy || Date.now() > postgresDeadline)) {
          clearInterval(wait);
          signalChildren('SIGKILL');
          process.exit(code);
        }
      }, 50);
    });
  }
}

function startChild(file: string, env: Record<string, string> = {}): Child {
  // BENCH_CPU_PROF=<dir>: write a V8 CPU profile of each child to <dir> (node --cpu-prof).
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`]
    : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', path.join(here, file)], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    // AIRLOCK_DATABASE_URL empty: a server's database is BENCH_DATABASE_URL's alone.
    env: { ...process.env, AIRLOCK_DATABASE_URL: '', ...env, AIRLOCK_LOG_LEVEL: 'silent' },
    detached: true,
  });
  installCleanup();
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let stdout = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (stdout += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    request<T>(msg: object, replyType: string, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const onMessage = (m: { type?: string; message?: string }) => {
          if (m.type === replyType) done(() => resolve(m as T));
          else if (m.type === 'error') done(() => reject(new Error(`${file}: ${m.message}`)));
        };
        const onExit = (code: number | null) =>
          done(() => reject(new Error(`${file} exited (${code}) before answering ${replyType}`)));
        const timer = setTimeout(
          () => done(() => reject(new Error(`${file}: no ${replyType} within ${timeoutMs} ms`))),
          timeoutMs,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          proc.off('message', onMessage);
          proc.off('exit', onExit);
          f();
        };
        proc.on('message', onMessage);
        proc.once('exit', onExit);
        // A child that has gone (an interrupt ended it) fails the request, not the process.
        if (!proc.connected)
          done(() => reject(new Error(`${file} is gone: cannot ask for ${replyType}`)));
        else proc.send(msg, (e) => e && done(() => reject(new Error(`${file}: ${e.message}`))));
      });
    },
    firstLine(timeoutMs: number): Promise<string> {
      return new Promise<string>((resolve, reject) => {
        const check = () => {
          const nl = stdout.indexOf('\n');
          if (nl >= 0) done(() => resolve(stdout.slice(0, nl)));
        };
        const onExit = (code: number | null) =>
          done(() => reject(new Error(`${file} exited (${code}) before it was ready`)));
        const timer = setTimeout(
          () => done(() => reject(new Error(`${file}: not ready within ${timeoutMs} ms`))),
          timeoutMs,
        );
        const done = (f: () => void) => {
          clearTimeout(timer);
          proc.stdout!.off('data', check);
          proc.off('exit', onExit);
          f();
        };
        proc.stdout!.on('data', check);
        proc.once('exit', onExit);
        check();
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      if (proc.connected) proc.send({ type: 'stop' }, () => undefined);
      const killTimer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
async function childCpu(c: Child): Promise<number> {
  return cpuMs((await c.request<{ usage: NodeJS.CpuUsage }>({ type: 'cpu' }, 'cpu', 10_000)).usage);
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

async function withClient<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await f(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** AIRLOCK_DATABASE_URL's database must be empty of Airlock: the bench's keys are new each run. */
async function assertNoAirlockSchema(url: string): Promise<void> {
  const found = await withClient(url, (c) =>
    c.query<{ schema_name: string }>(
      "select schema_name from information_schema.schemata where schema_name in ('airlock_network', 'airlock_manufacturer', 'airlock_verifier')",
    ),
  );
  if (found.rows.length)
    throw new Error(
      `AIRLOCK_DATABASE_URL's database already holds ${found.rows.map((r) => r.schema_name).join(' and ')}: give the bench an empty database (its keys are new each run)`,
    );
}

/** Unrevoked certificates per device in the network's schema, read by the bench itself. */
async function liveLdevidsInPostgres(url: string): Promise<Record<string, number>> {
  const r = await withClient(url, (c) =>
    c.query<{ device_serial: string; n: number }>(
      'select device_serial, count(*)::int as n from airlock_network.net_certificates where revoked_at is null group by device_serial',
    ),
  );
  return Object.fromEntries(r.rows.map((row) => [row.device_serial, Number(row.n)]));
}

/** Each device's attestation status in the network's schema, read by the bench itself. */
async function attestationStatusesInPostgres(url: string): Promise<Record<string, string | null>> {
  const r = await withClient(url, (c) =>
    c.query<{ serial: string; attestation_status: string | null }>(
      'select serial, attestation_status from airlock_network.net_devices',
    ),
  );
  return Object.fromEntries(r.rows.map((row) => [row.serial, row.attestation_status]));
}

/** Fields of /proc/<pid>/stat after the command name (field 3 is index 0), or undefined if gone. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * A reader of the PostgreSQL server's CPU (milliseconds, user+system), when it runs on this
 * machine: the postmaster's own and that of the children it has reaped (cutime, cstime), plus
 * its live children's (backends, walwriter, checkpointer...): a backend that exits between two
 * readings moves from the second sum to the first. Found as the parent of our own backend.
 */
async function postgresCpuReader(url: string): Promise<(() => number) | undefined> {
  const host = new URL(url).hostname;
  if (
    !['127.0.0.1', 'localhost', '[::1]', '::1', ''].includes(host) ||
    !fs.existsSync('/proc/self/stat')
  )
    return undefined;
  // Our backend's parent, read while the backend lives.
  const postmaster = await withClient(url, async (c) => {
    const pid = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    return pid === undefined ? undefined : Number(procStat(pid)?.[1]);
  });
  if (!postmaster) return undefined;
  const comm = (() => {
    try {
      return fs.readFileSync(`/proc/${postmaster}/comm`, 'utf8').trim();
    } catch {
      return '';
    }
  })();
  if (!/^(postgres|postmaster)$/.test(comm)) return undefined;
  const ms = (ticks: number) => (ticks * 1000) / ticksPerSecond();
  return () => {
    const own = procStat(postmaster);
    if (!own) return NaN;
    let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const st = procStat(Number(entry));
      if (st && Number(st[1]) === postmaster) ticks += Number(st[11]) + Number(st[12]);
    }
    return ms(ticks);
  };
}

function gitState(): OnboardingResult['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: projectRoot,
      encoding: 'utf8',
    }).trim();
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'src'], {
        cwd: projectRoot,
        encoding: 'utf8',
      }).trim() !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Workers

async function runPool(
  count: number,
  concurrency: number,
  job: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface ClientIdentity {
  cert: string;
  key: string;
}

/** One mutual-TLS handshake, as the onboarding client makes it; resolves when the server has accepted us. */
function handshake(port: number, id: ClientIdentity): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      minVersion: 'TLSv1.3',
      cert: id.cert,
      key: id.key,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ALPNProtocols: ['http/1.1'],
    });
    s.setNoDelay(true);
    s.setTimeout(15_000, () => s.destroy(new Error('handshake timed out')));
    // The server writes one byte once it has verified our certificate (TLS 1.3 clients
    // finish before the server has judged the client certificate).
    s.once('data', () => {
      s.destroy();
      resolve();
    });
    s.once('error', reject);
    s.once('end', () =>
      reject(new Error('closed before the server accepted the client certificate')),
    );
  });
}

async function baselineRun(
  port: number,
  ids: ClientIdentity[],
  handshakes: number,
  concurrency: number,
): Promise<{ perSecond: number; failures: number; wallMs: number; firstError?: string }> {
  let failures = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  await runPool(handshakes, concurrency, async (i) => {
    try {
      await handshake(port, ids[i % ids.length]!);
    } catch (e) {
      failures++;
      firstError ??= (e as Error).message;
    }
  });
  const wallMs = performance.now() - t0;
  return { perSecond: (handshakes - failures) / (wallMs / 1000), failures, wallMs, firstError };
}

// ---------------------------------------------------------------------------------------
// Client-side phase timers (--phases only): a connector that wraps the agents' own, timing
// the channel's opening (the mutual TLS handshake) and each call on it.

export function timedConnector(inner: PledgeConnector): {
  phases: Map<string, { count: number; totalMs: number }>;
  connect: PledgeConnector;
} {
  const phases = new Map<string, { count: number; totalMs: number }>();
  const add = (name: string, ms: number) => {
    const p = phases.get(name) ?? { count: 0, totalMs: 0 };
    p.count++;
    p.totalMs += ms;
    phases.set(name, p);
  };
  const connect: PledgeConnector = async (url, opts) => {
    const t = performance.now();
    let channel: PledgeChannel;
    try {
      channel = await inner(url, opts);
    } finally {
      add('tls-open (mutual TLS handshake)', performance.now() - t);
    }
    return {
      peerCertificate: () => channel.peerCertificate(),
      exporter: (label, length) => channel.exporter(label, length),
      async call(method, p, o) {
        const t = performance.now();
        try {
          return await channel.call(method, p, o);
        } finally {
          add(`${method} ${p}`, performance.now() - t);
        }
      },
      close: () => channel.close(),
    };
  };
  return { phases, connect };
}

// ---------------------------------------------------------------------------------------

export async function runOnboardingBenchmark(
  opts: OnboardingOptions,
  progress: (msg: string) => void = () => undefined,
): Promise<OnboardingResult> {
  // Before anything is started: an interrupt at any moment ends the bench as interrupted.
  installCleanup();
  const devices = Math.max(1, Math.min(opts.devices, 100_000));
  const concurrency = Math.max(1, Math.min(opts.concurrency, 1024));
  const baselineHandshakes = Math.max(
    1,
    Math.min(opts.baselineHandshakes ?? 2 * Math.max(devices, 2000), 2_000_000),
  );
  const profiling = process.env.BENCH_CPU_PROF_ONBOARDING !== undefined;
  const slices = profiling ? 1 : Math.max(1, Math.min(opts.slices ?? 4, devices, 100));
  /** Handshakes per baseline run: the total over the slices + 1 runs. */
  const perBaseline = Math.max(1, Math.ceil(baselineHandshakes / (slices + 1)));
  const nodes = Math.max(1, Math.min(opts.nodes ?? 1, 64));
  const database = opts.database ?? 'sqlite';
  if (nodes > 1 && database !== 'postgres')
    throw new Error(
      "more than one network node needs --database postgres (a SQLite file is one node's)",
    );
  const guard = setTimeout(() => {
    process.stderr.write(`bench: giving up after ${opts.timeoutMs ?? 1_800_000} ms\n`);
    signalChildren('SIGKILL');
    // The PostgreSQL server, if the bench started one, is stopped by its exit hook; one being
    // started is waited for, so that the hook knows it has a server to stop.
    const deadline = Date.now() + 60_000;
    const exit = () =>
      postgresBusy && Date.now() < deadline ? setTimeout(exit, 50) : process.exit(3);
    exit();
  }, opts.timeoutMs ?? 1_800_000);
  guard.unref();

  const topology = nodes > 1 ? 'separate' : (opts.topology ?? 'colocated');
  const attestation = opts.attestation ?? 'on';
  /** The server processes: the manufacturer's (mints) first, then the network nodes when separate. */
  const servers: Child[] = [];
  let baseline: Child | undefined;
  let postgres: { url: string; stop(): Promise<void> } | undefined;
  try {
    let databaseUrl: string | undefined;
    if (database === 'postgres') {
      const external = process.env.AIRLOCK_DATABASE_URL;
      if (external) {
        await assertNoAirlockSchema(external);
        databaseUrl = external;
      } else {
        postgresBusy = true;
        let started: Awaited<ReturnType<typeof startPostgres>>;
        try {
          started = await startPostgres();
        } finally {
          postgresBusy = false;
        }
        if ('skipped' in started)
          throw new Error(`--database postgres: ${started.skipped}; or set AIRLOCK_DATABASE_URL`);
        postgres = started;
        databaseUrl = await createDatabase(started.url, 'airlock_bench');
      }
      progress(
        `PostgreSQL: ${external ? 'AIRLOCK_DATABASE_URL' : "a server of the bench's own"} (${new URL(databaseUrl).host})`,
      );
    }
    const postgresCpu = databaseUrl ? await postgresCpuReader(databaseUrl) : undefined;
    // Every network node the same key-encryption key: the keys the first node seals, the others open.
    const dbEnv: Record<string, string> = {
      BENCH_ATTESTATION: attestation,
      ...(databaseUrl
        ? {
            BENCH_DATABASE_URL: databaseUrl,
            AIRLOCK_NETWORK_KEK: randomBytes(32).toString('base64'),
          }
        : {}),
    };

    baseline = startChild('tls-baseline-server.ts');
    type Ready = {
      registrarUrl: string;
      manufacturerUrl: string;
      idevidCaPem: string;
      rootPem: string;
      trust: unknown;
      networkOwner: unknown;
      /** With attestation on: the released image the devices measure (manufacturer's process). */
      firmware?: { image: string; name: string; version: string };
      /** With attestation on and the roles apart: the verifier, for the network processes. */
      verifier?: unknown;
    };
    const mfg = startChild('server.ts', {
      BENCH_ROLES: topology === 'separate' ? 'manufacturer' : 'both',
      ...dbEnv,
    });
    servers.push(mfg);
    const mfgReady = JSON.parse(await mfg.firstLine(60_000)) as Ready;
    const nets: Child[] = [mfg];
    const registrarUrls: string[] = [mfgReady.registrarUrl];
    let ready = mfgReady;
    if (topology === 'separate') {
      const startNode = (create: boolean) => {
        const c = startChild('server.ts', {
          BENCH_ROLES: 'network',
          BENCH_MANUFACTURER_TRUST: JSON.stringify(mfgReady.trust),
          BENCH_CREATE: create ? '1' : '0',
          ...(mfgReady.verifier ? { BENCH_VERIFIER: JSON.stringify(mfgReady.verifier) } : {}),
          ...dbEnv,
        });
        servers.push(c);
        return c;
      };
      // The first node creates the network (its keys, in the database); then the others open it.
      const first = startNode(true);
      ready = { ...mfgReady, ...(JSON.parse(await first.firstLine(60_000)) as Ready) };
      const others = Array.from({ length: nodes - 1 }, () => startNode(false));
      const othersReady = await Promise.all(
        others.map(async (c) => JSON.parse(await c.firstLine(60_000)) as Ready),
      );
      nets.splice(0, 1, first, ...others);
      registrarUrls.splice(0, 1, ready.registrarUrl, ...othersReady.map((r) => r.registrarUrl));
    }
    for (const u of registrarUrls)
      if (!new URL(u).hostname.startsWith('127.'))
        throw new Error(`registrar is not on loopback: ${u}`);
    const firmware = mfgReady.firmware;
    if ((attestation === 'on') !== (firmware !== undefined))
      throw new Error(
        `attestation ${attestation}, but the server released ${firmware ? 'a' : 'no'} firmware`,
      );
    progress(
      `roles up (${topology}, ${database}, attestation ${attestation}): registrar${nodes > 1 ? 's' : ''} ${registrarUrls.join(' ')}, MASA ${ready.manufacturerUrl}${firmware ? `; firmware ${firmware.name} ${firmware.version} released, the verifier beside the manufacturer` : ''}`,
    );
    const net = nets[0]!;
    const serversCpu = async () =>
      (await Promise.all(servers.map(childCpu))).reduce((a, b) => a + b, 0);
    const rolesCpu = async () =>
      topology === 'separate'
        ? {
            manufacturer: await childCpu(mfg),
            network: (await Promise.all(nets.map(childCpu))).reduce((a, b) => a + b, 0),
          }
        : undefined;

    // The IDevID CA is an intermediate; OpenSSL (without X509_V_FLAG_PARTIAL_CHAIN, which
    // Node 20 does not expose) only accepts a chain that ends at a self-signed anchor, so the
    // baseline trusts the manufacturer root too: IDevID CA + root, the network's trust bundle.
    const { port: baselinePort } = await baseline.request<{ port: number }>(
      { type: 'start', caPem: ready.idevidCaPem + ready.rootPem },
      'listening',
      60_000,
    );
    progress(`TLS baseline server on 127.0.0.1:${baselinePort}`);

    // A few extra devices warm the onboarding path (JIT, the registrar's MASA pool); not counted.
    const warmups = Math.min(Math.max(2 * concurrency, nodes), 32 * nodes);
    progress(`minting ${devices} + ${warmups} warm-up device(s) (not timed)...`);
    const minted = await mfg.request<{ births: string[]; mintMs: number; export?: unknown }>(
      {
        type: 'mint',
        count: devices + warmups,
        owner: ready.networkOwner,
        declarations: opts.declarations ?? 'installed',
      },
      'births',
      900_000,
    );
    if (minted.births.length !== devices + warmups)
      throw new Error(`minted ${minted.births.length} of ${devices + warmups}`);
    // One import: the nodes share the database.
    if (minted.export !== undefined)
      await net.request({ type: 'import', export: minted.export }, 'imported', 300_000);
    progress(`minted in ${round(minted.mintMs / 1000)} s`);

    const ctx: RoleContext = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
    // The agents' connector: TLS, timed while the onboarding runs are measured with --phases.
    const tls = tlsPledgeConnector();
    let connect: PledgeConnector = tls;
    const connector: PledgeConnector = (url, o) => connect(url, o);
    // With attestation on, every device measures the released image file at each onboarding.
    const measuredBoot = firmware ? fileMeasuredBoot(firmware) : undefined;
    const agents: DeviceAgent[] = [];
    const ids: ClientIdentity[] = [];
    const serials: string[] = [];
    for (const b64 of minted.births) {
      const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
      const store = new MemorySecureStore();
      await store.write('birth', bytes);
      agents.push(
        new DeviceAgent(store, ctx, { connector, ...(measuredBoot ? { measuredBoot } : {}) }),
      );
      const birth = JSON.parse(fromUtf8(bytes)) as BirthCredentials;
      serials.push(birth.serialNumber);
      ids.push({
        cert: birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join(''),
        key: toPem('PRIVATE KEY', fromBase64(birth.idevidKey)!),
      });
    }

    // Warm-up (JIT, TLS contexts): a few handshakes, not counted; they must all succeed.
    const warm = await baselineRun(
      baselinePort,
      ids,
      Math.min(50, baselineHandshakes),
      concurrency,
    );
    if (warm.failures) throw new Error(`the TLS baseline fails: ${warm.firstError}`);

    // The baseline runs, each with the CPU its two sides spent.
    const baselineRuns: Awaited<ReturnType<typeof baselineRun>>[] = [];
    const baselineCpu = { server: 0, client: 0 };
    const measureBaseline = async (label: string) => {
      const c0 = [await childCpu(baseline!), cpuMs(process.cpuUsage())];
      const b = await baselineRun(baselinePort, ids, perBaseline, concurrency);
      const c1 = [await childCpu(baseline!), cpuMs(process.cpuUsage())];
      baselineCpu.server += c1[0]! - c0[0]!;
      baselineCpu.client += c1[1]! - c0[1]!;
      baselineRuns.push(b);
      progress(`baseline ${label}: ${round(b.perSecond)} handshakes/s (${b.failures} failures)`);
    };
    await measureBaseline('before');

    const warmFailures: string[] = [];
    await runPool(warmups, concurrency, async (i) => {
      await agents[devices + i]!.onboard(registrarUrls[i % nodes]!).catch((e: unknown) =>
        warmFailures.push(isAirlockError(e) ? e.code : String(e)),
      );
    });
    if (warmFailures.length) progress(`warm-up onboarding failures: ${warmFailures.join(', ')}`);

    const instr = opts.phases ? timedConnector(tls) : undefined;
    if (instr) connect = instr.connect;
    const latencies: number[] = [];
    const failureCodes: Record<string, number> = {};
    // BENCH_CPU_PROF_ONBOARDING=<dir>: a V8 CPU profile of each server process, and of the devices
    // (this process), during the timed onboarding run only (not start-up, minting or the
    // baseline): <dir>/<role>-<pid>.cpuprofile.
    const profileDir = process.env.BENCH_CPU_PROF_ONBOARDING
      ? path.resolve(process.env.BENCH_CPU_PROF_ONBOARDING)
      : undefined;
    const devicesProfiler = profileDir ? new Session() : undefined;
    const profiled = (action: 'start' | 'stop') =>
      Promise.all([
        (async () => {
          if (!devicesProfiler) return;
          if (action === 'start') {
            devicesProfiler.connect();
            await devicesProfiler.post('Profiler.enable');
            await devicesProfiler.post('Profiler.setSamplingInterval', { interval: 250 });
            await devicesProfiler.post('Profiler.start');
          } else {
            const { profile } = await devicesProfiler.post('Profiler.stop');
            const file = path.join(profileDir!, `devices-${process.pid}.cpuprofile`);
            fs.writeFileSync(file, JSON.stringify(profile));
            devicesProfiler.disconnect();
          }
        })(),
        ...servers.map((c, i) => {
          const role = i > 0 ? 'network' : topology === 'separate' ? 'manufacturer' : 'server';
          return c.request(
            {
              type: 'profile',
              action,
              file: path.join(profileDir!, `${role}-${c.proc.pid}.cpuprofile`),
            },
            'profiled',
            60_000,
          );
        }),
      ]);
    if (profileDir) {
      fs.mkdirSync(profileDir, { recursive: true });
      await profiled('start');
    }
    // The onboarding run, slice by slice, a baseline run after each: CPU and wall time are
    // those of the slices alone.
    const onboardingCpu = { server: 0, client: 0, postgres: 0, network: 0, manufacturer: 0 };
    let onboardingWallMs = 0;
    const sliceRates: number[] = [];
    for (let k = 0; k < slices; k++) {
      const from = Math.floor((k * devices) / slices);
      const to = Math.floor(((k + 1) * devices) / slices);
      const onboarded0 = latencies.length;
      const roles0 = await rolesCpu();
      const cpu0 = [await serversCpu(), cpuMs(process.cpuUsage()), postgresCpu?.() ?? NaN];
      const t0 = performance.now();
      await runPool(to - from, concurrency, async (j) => {
        const i = from + j;
        const t = performance.now();
        try {
          await agents[i]!.onboard(registrarUrls[i % nodes]!);
          latencies.push(performance.now() - t);
        } catch (e) {
          const code = isAirlockError(e) ? e.code : `${(e as Error).name}: ${(e as Error).message}`;
          failureCodes[code] = (failureCodes[code] ?? 0) + 1;
        }
      });
      const wallMs = performance.now() - t0;
      const cpu1 = [await serversCpu(), cpuMs(process.cpuUsage()), postgresCpu?.() ?? NaN];
      const roles1 = await rolesCpu();
      onboardingWallMs += wallMs;
      onboardingCpu.server += cpu1[0]! - cpu0[0]!;
      onboardingCpu.client += cpu1[1]! - cpu0[1]!;
      onboardingCpu.postgres += cpu1[2]! - cpu0[2]!;
      if (roles0 && roles1) {
        onboardingCpu.network += roles1.network - roles0.network;
        onboardingCpu.manufacturer += roles1.manufacturer - roles0.manufacturer;
      }
      sliceRates.push((latencies.length - onboarded0) / (wallMs / 1000));
      if (k === slices - 1 && profileDir) await profiled('stop');
      progress(
        `slice ${k + 1}/${slices}: ${latencies.length - onboarded0}/${to - from} onboarded in ${round(wallMs / 1000, 2)} s`,
      );
      await measureBaseline(k === slices - 1 ? 'after' : `after slice ${k + 1}`);
    }
    connect = tls;
    const failures = devices - latencies.length;
    progress(`onboarded ${latencies.length}/${devices} in ${round(onboardingWallMs / 1000, 2)} s`);

    // What the network's database holds for the benched devices: one live LDevID each.
    const live = databaseUrl
      ? await liveLdevidsInPostgres(databaseUrl)
      : (
          await net.request<{ counts: Record<string, number> }>(
            { type: 'live-ldevids' },
            'live-ldevids',
            60_000,
          )
        ).counts;
    const histogram: Record<string, number> = {};
    let liveMin = Infinity;
    let liveMax = 0;
    for (const serial of serials.slice(0, devices)) {
      const n = live[serial] ?? 0;
      histogram[n] = (histogram[n] ?? 0) + 1;
      liveMin = Math.min(liveMin, n);
      liveMax = Math.max(liveMax, n);
    }
    progress(
      `live LDevIDs per device: min ${liveMin}, max ${liveMax} ${JSON.stringify(histogram)}`,
    );
    // What the network's inventory says of each benched device's attestation.
    const statuses = databaseUrl
      ? await attestationStatusesInPostgres(databaseUrl)
      : (
          await net.request<{ statuses: Record<string, string | null> }>(
            { type: 'attestation-statuses' },
            'attestation-statuses',
            60_000,
          )
        ).statuses;
    const attestationStatuses: Record<string, number> = {};
    for (const serial of serials.slice(0, devices)) {
      const s = statuses[serial] ?? 'none';
      attestationStatuses[s] = (attestationStatuses[s] ?? 0) + 1;
    }
    progress(`attestation status per device: ${JSON.stringify(attestationStatuses)}`);
    const processes: Record<string, string[]> =
      topology === 'separate'
        ? {
            network: ['network'],
            manufacturer: attestation === 'on' ? ['manufacturer', 'verifier'] : ['manufacturer'],
            client: ['devices'],
          }
        : {
            server: ['network', 'manufacturer', ...(attestation === 'on' ? ['verifier'] : [])],
            client: ['devices'],
          };

    latencies.sort((a, b) => a - b);
    const devicesPerSecond = latencies.length / (onboardingWallMs / 1000);
    const handshakesDone = baselineRuns.reduce((a, b) => a + perBaseline - b.failures, 0);
    const baselineRate = handshakesDone / (baselineRuns.reduce((a, b) => a + b.wallMs, 0) / 1000);
    const hs = perBaseline * baselineRuns.length;
    const postgresMs = onboardingCpu.postgres;
    const sliceRatios = sliceRates.map(
      (r, k) => r / ((baselineRuns[k]!.perSecond + baselineRuns[k + 1]!.perSecond) / 2),
    );
    const result: OnboardingResult = {
      benchmark: 'onboarding',
      declarations: opts.declarations ?? 'installed',
      topology,
      nodes,
      database,
      attestation,
      processes,
      devices,
      concurrency,
      devicesPerSecond: round(devicesPerSecond),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      failures,
      ...(failures ? { failureCodes } : {}),
      liveLdevidsPerDevice: { min: liveMin, max: liveMax, histogram },
      attestationStatuses,
      baselineHandshakesPerSecond: round(baselineRate),
      baselineBefore: round(baselineRuns[0]!.perSecond),
      baselineAfter: round(baselineRuns[baselineRuns.length - 1]!.perSecond),
      baselineRuns: baselineRuns.map((b) => round(b.perSecond)),
      baselineFailures: baselineRuns.reduce((a, b) => a + b.failures, 0),
      slices,
      ratio: Math.round((devicesPerSecond / baselineRate) * 1000) / 1000,
      sliceRatios: sliceRatios.map((r) => Math.round(r * 1000) / 1000),
      cpuMsPerOnboarding: {
        server: round(onboardingCpu.server / devices, 2),
        client: round(onboardingCpu.client / devices, 2),
        ...(topology === 'separate'
          ? {
              network: round(onboardingCpu.network / devices, 2),
              manufacturer: round(onboardingCpu.manufacturer / devices, 2),
            }
          : {}),
        ...(Number.isFinite(postgresMs) ? { postgres: round(postgresMs / devices, 2) } : {}),
      },
      coresBusyDuringOnboarding: {
        server: round(onboardingCpu.server / onboardingWallMs, 2),
        client: round(onboardingCpu.client / onboardingWallMs, 2),
        ...(Number.isFinite(postgresMs)
          ? { postgres: round(postgresMs / onboardingWallMs, 2) }
          : {}),
      },
      cpuMsPerHandshake: {
        server: round(baselineCpu.server / hs, 2),
        client: round(baselineCpu.client / hs, 2),
      },
      onboardingWallMs: Math.round(onboardingWallMs),
      mintMs: Math.round(minted.mintMs),
      ...(instr
        ? {
            phases: Object.fromEntries(
              [...instr.phases].map(([k, v]) => [
                k,
                {
                  count: v.count,
                  meanMs: round(v.totalMs / v.count, 2),
                  totalMs: Math.round(v.totalMs),
                },
              ]),
            ),
          }
        : {}),
      git: gitState(),
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      date: new Date().toISOString(),
    };
    return result;
  } finally {
    clearTimeout(guard);
    try {
      await Promise.all([...servers.map((c) => c.stop()), baseline?.stop()]);
    } finally {
      if (postgres) {
        postgresBusy = true;
        try {
          await postgres.stop();
        } finally {
          postgresBusy = false;
        }
      }
    }
  }
}
