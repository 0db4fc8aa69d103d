/**
 * `npm run -s bench -- dpp --devices N [--concurrency C] [--rounds R] [--warmup W]
 *  [--auth mutual|responder] [--json]`: Wi-Fi Easy Connect (DPP) onboarding over TCP, Airlock's
 * Configurator against wpa_supplicant 2.10's, with the same enrollee for both (docs/DPP.md).
 *
 * - The enrollee, for both sides: Airlock's (`runDppTcpEnrollee`, src/adapters/dpp/tcp-enrollee.ts)
 *   in this process, each a fresh P-256 bootstrapping key (made before the clock starts, as a
 *   device's is at manufacture) and a fresh exchange: it scanned the configurator's URI, connects
 *   to 127.0.0.1 and initiates. C exchanges in flight (default 4), on both sides alike.
 * - Airlock's side: `startDppTcpController` (src/adapters/dpp/tcp-controller.ts) in a child
 *   process (this file, BENCH_DPP_CHILD=controller), so that, as with wpa_supplicant, the
 *   configurator and the enrollees are two processes on the machine's two cores. It answers
 *   sta-psk with one SSID and passphrase.
 * - wpa_supplicant's side: a wpa_supplicant 2.10 Configurator/Controller, `-Dnone -i lo` (no
 *   radio), `DPP_CONFIGURATOR_ADD`, `SET dpp_configurator_params conf=sta-psk ssid=.. pass=..
 *   configurator=..`, `DPP_CONTROLLER_START tcp_port=..`, its own P-256 key from
 *   `DPP_BOOTSTRAP_GEN`: the same SSID and passphrase.
 *
 * What is compared (what each configurator needs to accept a device is the same on both sides):
 * - `--auth mutual` (the default; what `airlock network serve --dpp-port` does): each configurator
 *   was given, before the clock starts, the URI of every enrollee it will see (the warm-up's and
 *   every round's keys): Airlock through `peers` (a lookup by key hash in a Map, as the network
 *   role looks a hash up in its database) with `onlyKnownEnrollees`; wpa_supplicant through
 *   `DPP_QR_CODE` (a list it walks, comparing hashes). Every exchange authenticates mutually
 *   (L.x on both sides); the enrollee checks that it did (`mutual`).
 * - `--auth responder`: neither configurator knows the enrollees' keys; responder-only
 *   authentication on both sides (the enrollee still names its own key's hash).
 * - Both give the same sta-psk object (one SSID and passphrase for every device: Airlock's
 *   network role would make a per-device PSK in its database, which is not measured here), and
 *   both wait for the enrollee's Configuration Result (DPP 2), which the enrollee sends.
 * - Airlock's controller allows more connections per remote address than its default of 4
 *   (4 x C): every enrollee here comes from 127.0.0.1, where in use each device has an address
 *   of its own; wpa_supplicant's controller has no such cap.
 *
 * Rounds: a warm-up on each side (W devices, default min(N, 50)), then R rounds (default 5),
 * each N devices on Airlock's side and N on wpa_supplicant's, one right after the other (Airlock
 * first, then wpa_supplicant first in the next round, and so on), the machine being shared and
 * noisy. devicesPerSecond and wpaSupplicantPerSecond are the medians of the rounds' rates
 * (devices over the round's wall time, first connect to last exchange settled);
 * ratio = devicesPerSecond / wpaSupplicantPerSecond (goal: at least 1.0). roundRatios: each
 * round's two rates, Airlock's over wpa_supplicant's; medianRoundRatio their median.
 *
 * failures: exchanges, warm-ups included, that did not end configured (the enrollee did not get
 * the SSID and passphrase, or, with --auth mutual, was not mutually authenticated), both sides
 * summed; failuresBySide splits them. configuratorConfirmed: the exchanges each configurator saw
 * end with the enrollee's Configuration Result, status OK (Airlock's `onResult` status ok;
 * wpa_supplicant's `DPP-CONF-SENT` events), out of `exchangesPerSide`.
 *
 * Needs root and wpa_supplicant/wpa_cli for wpa_supplicant's side; without, `skipped: <reason>`
 * is printed (on stderr with --json, which also carries it as `skipped`) and Airlock's side is
 * still measured, with the ratio null.
 *
 * BENCH_CPU_PROF=<dir>: a V8 CPU profile of the Airlock controller's child, its whole life
 * (`node --cpu-prof`), for bench/profile-summary.ts; profile the enrollees with
 * `node --cpu-prof --import tsx bench/run.ts dpp ...`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { performance } from 'node:perf_hooks';
import { NodeCrypto } from '../src/adapters/crypto/node-crypto.js';
import { startDppTcpController } from '../src/adapters/dpp/tcp-controller.js';
import { runDppTcpEnrollee } from '../src/adapters/dpp/tcp-enrollee.js';
import { AirlockError, isAirlockError } from '../src/core/errors.js';
import type { DppOwnBootstrap, DppPeerBootstrap } from '../src/protocols/dpp/authentication.js';
import { encodeBootstrappingKey } from '../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../src/protocols/dpp/crypto.js';
import { formatDppUri, parseDppUri, type BootstrappingKey } from '../src/protocols/dpp/uri.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const projectRoot = path.resolve(here, '..');

const SSID = 'airlock-bench-dpp';
const PASSPHRASE = 'bench-dpp-passphrase-0123';
const CURVE = 'P-256' as const;

export type DppAuthMode = 'mutual' | 'responder';

export interface DppBenchResult {
  benchmark: 'dpp';
  /** Devices per side in each measured round. */
  devices: number;
  rounds: number;
  warmupDevices: number;
  concurrency: number;
  curve: typeof CURVE;
  authentication: 'mutual' | 'responder-only';
  /** Airlock's configurator: the median of its rounds' rates, devices per second. */
  devicesPerSecond: number;
  /** wpa_supplicant's configurator, the same way; null when skipped. */
  wpaSupplicantPerSecond: number | null;
  /** devicesPerSecond / wpaSupplicantPerSecond; null when skipped. */
  ratio: number | null;
  /** Each round's rate, in order. */
  airlockRuns: number[];
  wpaSupplicantRuns: number[];
  /** Each round's Airlock rate over its wpa_supplicant rate. */
  roundRatios: number[];
  medianRoundRatio: number | null;
  /** Exchanges per side, warm-up included. */
  exchangesPerSide: number;
  /** Exchanges that did not end configured, warm-ups included: both sides summed. */
  failures: number;
  failuresBySide: { airlock: number; wpaSupplicant: number | null };
  /** `code:reason` of each failure, counted, per side. */
  failureReasons: { airlock: Record<string, number>; wpaSupplicant: Record<string, number> };
  /** Exchanges each configurator saw end with a Configuration Result, status OK. */
  configuratorConfirmed: { airlock: number; wpaSupplicant: number | null };
  /** Median time of one exchange, first connect to settled, ms (measured rounds). */
  p50Ms: { airlock: number; wpaSupplicant: number | null };
  /**
   * CPU ms per device in the measured rounds: the configurator's process (Airlock's child;
   * wpa_supplicant from /proc, 10 ms ticks), and the enrollees' (this process) on each side.
   */
  cpuMsPerDevice: {
    airlockConfigurator: number;
    wpaSupplicantConfigurator: number | null;
    enrolleeWithAirlock: number;
    enrolleeWithWpaSupplicant: number | null;
  };
  skipped?: string;
  wpaSupplicantVersion?: string;
  git: { commit: string; srcDirty: boolean } | undefined;
  node: string;
  cpus: number;
  cpuModel: string;
  date: string;
}

const crypto = new NodeCrypto();

function newBootstrap(): DppOwnBootstrap {
  const pair = crypto.ecGenerate(dppCurveParams(CURVE).ecCurve);
  const { spkiDer } = encodeBootstrappingKey(CURVE, pair.publicKey);
  return { curve: CURVE, privateKey: pair.privateKey, publicKey: pair.publicKey, spkiDer };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

// ---------------------------------------------------------------------------------------
// The child: Airlock's controller

interface ChildStats {
  ok: number;
  failed: Record<string, number>;
}

async function controllerChild(): Promise<void> {
  const own = newBootstrap();
  const mutual = process.env.BENCH_DPP_AUTH !== 'responder';
  const cap = Number(process.env.BENCH_DPP_PER_ADDRESS ?? 16);
  const peers = new Map<string, DppPeerBootstrap>();
  const stats: ChildStats = { ok: 0, failed: {} };
  const controller = await startDppTcpController({
    crypto,
    bootstrap: own,
    ...(mutual
      ? {
          onlyKnownEnrollees: true,
          peers: (keyHash: string) => Promise.resolve(peers.get(keyHash)),
        }
      : {}),
    configuration: (_request, enrollee) => {
      if (mutual && !enrollee.mutual)
        throw new AirlockError('ERR_DPP_AUTH', 'not an enrollee the bench added', {
          details: { reason: 'unknown-enrollee' },
        });
      return { ssid: SSID, passphrase: PASSPHRASE };
    },
    onResult: (r) => {
      if (r.status === 'ok') stats.ok++;
      else {
        const k = `${r.error ?? 'status'}:${r.reason ?? r.resultStatus ?? ''}`;
        stats.failed[k] = (stats.failed[k] ?? 0) + 1;
      }
    },
    host: '127.0.0.1',
    port: 0,
    maxConnectionsPerAddress: cap,
    maxConnections: Math.max(16, cap),
  });
  process.on('message', (m: { type: string; spki?: string[] }) => {
    switch (m.type) {
      case 'peers':
        for (const b64 of m.spki ?? []) {
          const spkiDer = new Uint8Array(Buffer.from(b64, 'base64'));
          peers.set(Buffer.from(crypto.sha256(spkiDer)).toString('hex'), { spkiDer });
        }
        process.send!({ type: 'peers-added', count: peers.size });
        return;
      case 'cpu':
        process.send!({ type: 'cpu', usage: process.cpuUsage() });
        return;
      case 'stats':
        process.send!({ type: 'stats', stats });
        return;
      case 'stop':
        void controller.close().then(() => process.exit(0));
        return;
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.stdout.write(
    `${JSON.stringify({ port: controller.port, uri: formatDppUri({ version: 2, key: own.spkiDer }) })}\n`,
  );
}

if (process.env.BENCH_DPP_CHILD === 'controller')
  controllerChild().catch((e: unknown) => {
    process.stderr.write(`bench dpp controller: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });

interface Child {
  proc: ChildProcess;
  port: number;
  uri: string;
  request<T>(msg: object, replyType: string): Promise<T>;
  stop(): Promise<void>;
}

async function startControllerChild(auth: DppAuthMode, perAddress: number): Promise<Child> {
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`]
    : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', path.join(here, 'dpp.ts')], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: {
      ...process.env,
      BENCH_DPP_CHILD: 'controller',
      BENCH_DPP_AUTH: auth,
      BENCH_DPP_PER_ADDRESS: String(perAddress),
    },
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8');
    const onData = (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        proc.stdout!.off('data', onData);
        resolve(out.slice(0, nl));
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`the controller child exited (${code})`)));
  });
  const { port, uri } = JSON.parse(first) as { port: number; uri: string };
  return {
    proc,
    port,
    uri,
    request<T>(msg: object, replyType: string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          proc.off('message', onMessage);
          reject(new Error(`the controller child did not answer ${replyType}`));
        }, 30_000);
        const onMessage = (m: { type?: string }) => {
          if (m.type !== replyType) return;
          clearTimeout(timer);
          proc.off('message', onMessage);
          resolve(m as T);
        };
        proc.on('message', onMessage);
        proc.send(msg);
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      if (proc.connected) proc.send({ type: 'stop' });
      const killTimer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

// ---------------------------------------------------------------------------------------
// wpa_supplicant's Configurator/Controller

interface WpaConfigurator {
  port: number;
  uri: string;
  cpuMs(): number;
  confSent(): number;
  addPeers(uris: string[]): Promise<void>;
  stop(): Promise<void>;
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function startWpaConfigurator(): Promise<WpaConfigurator> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-dpp-'));
  const log = path.join(dir, 'configurator.log');
  const ctrl = path.join(dir, 'ctrl');
  const pidFile = path.join(dir, 'configurator.pid');
  const conf = path.join(dir, 'configurator.conf');
  fs.writeFileSync(conf, `ctrl_interface=${ctrl}\n`);
  fs.writeFileSync(log, '');
  const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
  const cli = (...args: string[]) =>
    execFileSync('wpa_cli', ['-p', ctrl, '-i', 'lo', ...args], { encoding: 'utf8' }).trim();
  // wpa_supplicant -B leaves the session: it is ended here on every exit path (Ctrl-C included).
  // Its pid: the pid file's, else the process whose command line names this run's directory.
  const daemonPid = (): number => {
    try {
      return Number(fs.readFileSync(pidFile, 'utf8').trim());
    } catch {
      for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          if (argv[0]?.endsWith('wpa_supplicant') && argv.includes(conf)) return Number(p);
        } catch {
          // gone
        }
      }
      return 0;
    }
  };
  const kill = () => {
    const pid = daemonPid();
    try {
      if (pid > 0) process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    kill();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', kill);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const stop = async () => {
    try {
      cli('DPP_CONTROLLER_STOP');
    } catch {
      // not started
    }
    kill();
    process.off('exit', kill);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await new Promise((r) => setTimeout(r, 200));
  };
  try {
    execFileSync('wpa_supplicant', ['-B', '-Dnone', '-ilo', '-c', conf, '-P', pidFile, '-f', log]);
    // -B: the control socket is made before it forks, the pid file by the daemon after.
    const ready = () => fs.existsSync(path.join(ctrl, 'lo')) && daemonPid() > 0;
    for (let i = 0; i < 100 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
    const pid = daemonPid();
    if (!(pid > 0)) throw new Error('wpa_supplicant did not start');
    const configurator = cli('DPP_CONFIGURATOR_ADD');
    if (!/^\d+$/.test(configurator)) throw new Error(`DPP_CONFIGURATOR_ADD: ${configurator}`);
    const set = cli(
      'SET',
      'dpp_configurator_params',
      ` conf=sta-psk ssid=${hex(SSID)} pass=${hex(PASSPHRASE)} configurator=${configurator}`,
    );
    if (set !== 'OK') throw new Error(`SET dpp_configurator_params: ${set}`);
    const id = cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', `curve=${CURVE}`);
    if (!/^\d+$/.test(id)) throw new Error(`DPP_BOOTSTRAP_GEN: ${id}`);
    const uri = cli('DPP_BOOTSTRAP_GET_URI', id);
    const port = await freePort();
    const started = cli('DPP_CONTROLLER_START', `tcp_port=${port}`);
    if (started !== 'OK') throw new Error(`DPP_CONTROLLER_START: ${started}`);
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    return {
      port,
      uri,
      cpuMs() {
        // /proc/<pid>/stat: utime and stime are fields 14 and 15 (after the command's parentheses).
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
      },
      confSent: () => fs.readFileSync(log, 'utf8').split('DPP-CONF-SENT').length - 1,
      async addPeers(uris) {
        let next = 0;
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < uris.length) {
              const u = uris[next++]!;
              const { stdout } = await run('wpa_cli', ['-p', ctrl, '-i', 'lo', 'DPP_QR_CODE', u]);
              if (!/^\d+$/.test(stdout.trim())) throw new Error(`DPP_QR_CODE: ${stdout.trim()}`);
            }
          }),
        );
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ---------------------------------------------------------------------------------------
// The enrollees

interface SideRun {
  seconds: number;
  latenciesMs: number[];
  failures: Record<string, number>;
  failed: number;
}

/** N exchanges of Airlock's enrollee against one configurator, `concurrency` at a time. */
async function enrol(
  keys: DppOwnBootstrap[],
  peer: BootstrappingKey,
  port: number,
  concurrency: number,
  mutual: boolean,
): Promise<SideRun> {
  const latenciesMs: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, keys.length) }, async () => {
      while (next < keys.length) {
        const i = next++;
        const start = performance.now();
        let why: string | undefined;
        try {
          const r = await runDppTcpEnrollee({
            crypto,
            peer,
            own: keys[i]!,
            name: `bench-${i}`,
            host: '127.0.0.1',
            port,
          });
          if (r.network?.ssid !== SSID || r.network.passphrase !== PASSPHRASE)
            why = 'wrong-network';
          else if (r.mutual !== mutual) why = mutual ? 'not-mutual' : 'mutual';
        } catch (e) {
          why = isAirlockError(e)
            ? `${e.code}:${String(e.details.reason ?? '')}`
            : `ERR_INTERNAL:${(e as Error).message}`;
        }
        latenciesMs.push(performance.now() - start);
        if (why !== undefined) {
          failed++;
          failures[why] = (failures[why] ?? 0) + 1;
        }
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, latenciesMs, failures, failed };
}

function gitState(): DppBenchResult['git'] {
  try {
    const git = (...args: string[]) =>
      execFileSync('git', args, {
        cwd: projectRoot,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('--no-optional-locks', 'status', '--porcelain', '--', 'src') !== '';
    return { commit, srcDirty: dirty };
  } catch {
    return undefined;
  }
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'wpa_supplicant is run as root here';
  return ['wpa_supplicant', 'wpa_cli']
    .map((t) => (onPath(t) ? undefined : `${t} is not installed`))
    .find(Boolean);
}

export async function runDppBenchmark(
  o: {
    devices: number;
    concurrency: number;
    rounds: number;
    warmup?: number;
    auth: DppAuthMode;
  },
  progress?: (m: string) => void,
): Promise<DppBenchResult> {
  const mutual = o.auth === 'mutual';
  const warmup = o.warmup ?? Math.min(o.devices, 50);
  const skipped = skipReason();
  const exchangesPerSide = warmup + o.rounds * o.devices;
  // Fresh keys for every exchange on each side, made before any clock starts.
  const keysFor = () => Array.from({ length: exchangesPerSide }, newBootstrap);
  const airlockKeys = keysFor();
  const wpaKeys = skipped ? [] : keysFor();
  const uriOf = (k: DppOwnBootstrap) => formatDppUri({ version: 2, key: k.spkiDer });

  const child = await startControllerChild(o.auth, Math.max(4, 4 * o.concurrency));
  let wpa: WpaConfigurator | undefined;
  try {
    if (mutual)
      await child.request(
        { type: 'peers', spki: airlockKeys.map((k) => Buffer.from(k.spkiDer).toString('base64')) },
        'peers-added',
      );
    if (!skipped) {
      wpa = await startWpaConfigurator();
      if (mutual) {
        progress?.(`wpa_supplicant: DPP_QR_CODE of ${wpaKeys.length} enrollees`);
        await wpa.addPeers(wpaKeys.map(uriOf));
      }
    }
    const airlockPeer = parseDppUri(child.uri).key;
    const wpaPeer = wpa ? parseDppUri(wpa.uri).key : undefined;
    const slice = (keys: DppOwnBootstrap[], r: number) =>
      r < 0
        ? keys.slice(0, warmup)
        : keys.slice(warmup + r * o.devices, warmup + (r + 1) * o.devices);

    const childCpu = async () =>
      cpuMs((await child.request<{ usage: NodeJS.CpuUsage }>({ type: 'cpu' }, 'cpu')).usage);
    const totals = {
      airlock: { failed: 0, reasons: {} as Record<string, number> },
      wpa: { failed: 0, reasons: {} as Record<string, number> },
    };
    const tally = (t: { failed: number; reasons: Record<string, number> }, r: SideRun) => {
      t.failed += r.failed;
      for (const [k, v] of Object.entries(r.failures)) t.reasons[k] = (t.reasons[k] ?? 0) + v;
    };
    const airlockRuns: number[] = [];
    const wpaRuns: number[] = [];
    const airlockLatencies: number[] = [];
    const wpaLatencies: number[] = [];
    const cpu = { airlockConf: 0, wpaConf: 0, enrolleeAirlock: 0, enrolleeWpa: 0 };

    const airlockRound = async (r: number, label: string) => {
      const keys = slice(airlockKeys, r);
      const c0 = [await childCpu(), cpuMs(process.cpuUsage())];
      const result = await enrol(keys, airlockPeer, child.port, o.concurrency, mutual);
      const c1 = [await childCpu(), cpuMs(process.cpuUsage())];
      tally(totals.airlock, result);
      if (r >= 0) {
        airlockRuns[r] = keys.length / result.seconds;
        airlockLatencies.push(...result.latenciesMs);
        cpu.airlockConf += c1[0]! - c0[0]!;
        cpu.enrolleeAirlock += c1[1]! - c0[1]!;
      }
      progress?.(
        `${label}: Airlock ${round(keys.length / result.seconds)}/s, ${result.failed} failed`,
      );
    };
    const wpaRound = async (r: number, label: string) => {
      if (!wpa || !wpaPeer) return;
      const keys = slice(wpaKeys, r);
      const c0 = [wpa.cpuMs(), cpuMs(process.cpuUsage())];
      const result = await enrol(keys, wpaPeer, wpa.port, o.concurrency, mutual);
      const c1 = [wpa.cpuMs(), cpuMs(process.cpuUsage())];
      tally(totals.wpa, result);
      if (r >= 0) {
        wpaRuns[r] = keys.length / result.seconds;
        wpaLatencies.push(...result.latenciesMs);
        cpu.wpaConf += c1[0]! - c0[0]!;
        cpu.enrolleeWpa += c1[1]! - c0[1]!;
      }
      progress?.(
        `${label}: wpa_supplicant ${round(keys.length / result.seconds)}/s, ${result.failed} failed`,
      );
    };
    // Round r (-1: the warm-up) runs both sides, one right after the other; which goes first
    // alternates (Airlock first in even rounds), so that a drift of the machine's load within a
    // pair of rounds falls on both sides alike.
    for (let r = -1; r < o.rounds; r++) {
      const label = r < 0 ? 'warm-up' : `round ${r + 1}/${o.rounds}`;
      if (r % 2 === 0 || r < 0) {
        await airlockRound(r, label);
        await wpaRound(r, label);
      } else {
        await wpaRound(r, label);
        await airlockRound(r, label);
      }
    }

    // The configurators' own view: wait briefly for the last Results to be read.
    await new Promise((r) => setTimeout(r, 300));
    const stats = (await child.request<{ stats: ChildStats }>({ type: 'stats' }, 'stats')).stats;
    const measured = o.rounds * o.devices;
    const devicesPerSecond = median(airlockRuns);
    const wpaSupplicantPerSecond = wpa ? median(wpaRuns) : null;
    const roundRatios = wpa ? airlockRuns.map((a, i) => a / wpaRuns[i]!) : [];
    return {
      benchmark: 'dpp',
      devices: o.devices,
      rounds: o.rounds,
      warmupDevices: warmup,
      concurrency: o.concurrency,
      curve: CURVE,
      authentication: mutual ? 'mutual' : 'responder-only',
      devicesPerSecond: round(devicesPerSecond),
      wpaSupplicantPerSecond:
        wpaSupplicantPerSecond === null ? null : round(wpaSupplicantPerSecond),
      ratio:
        wpaSupplicantPerSecond === null
          ? null
          : round(devicesPerSecond / wpaSupplicantPerSecond, 3),
      airlockRuns: airlockRuns.map((x) => round(x)),
      wpaSupplicantRuns: wpaRuns.map((x) => round(x)),
      roundRatios: roundRatios.map((x) => round(x, 3)),
      medianRoundRatio: wpa ? round(median(roundRatios), 3) : null,
      exchangesPerSide,
      failures: totals.airlock.failed + totals.wpa.failed,
      failuresBySide: {
        airlock: totals.airlock.failed,
        wpaSupplicant: wpa ? totals.wpa.failed : null,
      },
      failureReasons: { airlock: totals.airlock.reasons, wpaSupplicant: totals.wpa.reasons },
      configuratorConfirmed: { airlock: stats.ok, wpaSupplicant: wpa ? wpa.confSent() : null },
      p50Ms: {
        airlock: round(median(airlockLatencies), 2),
        wpaSupplicant: wpa ? round(median(wpaLatencies), 2) : null,
      },
      cpuMsPerDevice: {
        airlockConfigurator: round(cpu.airlockConf / measured, 3),
        wpaSupplicantConfigurator: wpa ? round(cpu.wpaConf / measured, 3) : null,
        enrolleeWithAirlock: round(cpu.enrolleeAirlock / measured, 3),
        enrolleeWithWpaSupplicant: wpa ? round(cpu.enrolleeWpa / measured, 3) : null,
      },
      ...(skipped ? { skipped } : {}),
      ...(wpa
        ? {
            wpaSupplicantVersion: execFileSync('wpa_supplicant', ['-v'], { encoding: 'utf8' })
              .split('\n')[0]!
              .trim(),
          }
        : {}),
      git: gitState(),
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      date: new Date().toISOString(),
    };
  } finally {
    await child.stop();
    await wpa?.stop();
  }
}
