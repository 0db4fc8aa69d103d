/**
 * `npm run -s bench -- connect --devices N [--clients P] [--auths A] [--changes C] [--json]`:
 * 802.1X through FreeRADIUS (docs/RADIUS.md), with N provisioned devices in the network's
 * database and P eapol_test clients in parallel (each a device of its own, EAP-TLS).
 *
 * - authPerSecond: Airlock's FreeRADIUS, reading the view `radius_devices` through rlm_sql;
 * - staticAuthPerSecond: the reference, measured in the same run: FreeRADIUS with the same
 *   devices in a static rlm_files allowlist (what needs a reload for every change). The two are
 *   measured in alternating slices, so the machine's drift falls on both;
 *   ratio = authPerSecond / staticAuthPerSecond;
 * - authMs: the median time of one authentication alone (eapol_test's process included);
 * - changeLiveMs: from a change to one device committed (provisioned again after being
 *   decommissioned) to the end of the first authentication, which sees it: the median of 5,
 *   the authentication's own time included; refusalsAfterChange counts authentications after a
 *   change that did not see it (0 expected);
 * - radiusRssGrowthKb: FreeRADIUS's resident memory after C changes (each followed by an
 *   authentication every 10), less before;
 * - watchLookMs: one look of the network's access watch (access-watch.ts) when nothing changed,
 *   the median of 5; watchCpuShare = watchLookMs / its interval (2 s), the share of one core it
 *   takes; watchLookOneChangeMs: a look after one device changed; watchFullLookMs, the
 *   reference: the whole view read, what a look would cost without the change numbering. The
 *   watch runs during the rates above, as it does in use.
 *
 * Needs root, freeradius and eapol_test.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Network } from '../src/roles/network/index.js';
import { FreeRadius } from '../src/adapters/radius/freeradius.js';
import { NodeCrypto, generateP256Key, exportPkcs8 } from '../src/adapters/crypto/node-crypto.js';
import { toPem } from '../src/core/bytes.js';
import { systemClock } from '../src/core/ports.js';
import { silentLogger } from '../src/adapters/log/logger.js';
import { softwareKeyStore } from '../src/adapters/crypto/software-key-store.js';
import { freeUdpPort } from '../test/support/radius.js';

const run = promisify(execFile);
const SECRET = 'bench-connect-radius-secret';

export interface ConnectBenchResult {
  benchmark: 'connect';
  devices: number;
  clients: number;
  auths: number;
  authPerSecond: number;
  staticAuthPerSecond: number;
  ratio: number;
  authMs: number;
  changeLiveMs: number;
  /** Authentications that did not yet see a change (0: every first one did). */
  refusalsAfterChange: number;
  radiusRssGrowthKb: number;
  changes: number;
  watchLookMs: number;
  watchCpuShare: number;
  watchLookOneChangeMs: number;
  watchFullLookMs: number;
  node: string;
  date: string;
}

interface Client {
  serial: string;
  conf: string;
}

/**
 * One eapol_test process: 1 + `again` full EAP-TLS authentications (its -r: re-authentications;
 * FreeRADIUS's TLS session cache is off, so each is a whole handshake). True if all succeeded.
 */
async function authenticate(c: Client, port: number, again = 0): Promise<boolean> {
  try {
    const { stdout } = await run(
      'eapol_test',
      [
        '-c',
        c.conf,
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '-s',
        SECRET,
        // -t bounds the whole run, every re-authentication included.
        '-t',
        String(10 * (1 + again)),
        ...(again > 0 ? [`-r${again}`] : []),
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    return /\nSUCCESS\s*$/.test(stdout);
  } catch (e) {
    if (process.env.BENCH_CONNECT_DEBUG)
      process.stderr.write(`${String((e as { stdout?: string }).stdout ?? e).slice(-1500)}\n`);
    return false;
  }
}

/** Authentications per eapol_test process in the rate runs: its start-up is not the server's cost. */
const PER_PROCESS = 10;

/**
 * `total` authentications (rounded up to whole processes of PER_PROCESS), `clients` at a time,
 * each client its own device: authentications per second.
 */
async function rate(clients: Client[], port: number, total: number): Promise<number> {
  const processes = Math.ceil(total / PER_PROCESS);
  let next = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (next < processes) {
        next++;
        if (!(await authenticate(c, port, PER_PROCESS - 1))) failed++;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  if (failed > 0)
    throw new Error(`${failed} of ${processes} eapol_test runs failed (port ${port})`);
  return (processes * PER_PROCESS) / seconds;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function runConnectBenchmark(o: {
  devices: number;
  clients: number;
  auths: number;
  changes: number;
}): Promise<ConnectBenchResult> {
  if (process.getuid?.() !== 0) throw new Error('bench connect runs FreeRADIUS as root');
  const devices = Math.max(o.clients, Math.min(o.devices, 1_000_000));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-connect-'));
  const crypto = new NodeCrypto();
  const ctx = { crypto, clock: systemClock, logger: silentLogger, keys: softwareKeyStore };
  const network = await Network.open({
    ctx,
    databaseFile: path.join(dir, 'network.db'),
    kek: crypto.bytes(32),
    manufacturers: [],
    config: { ownerName: 'Bench Owner' },
  });
  const servers: FreeRadius[] = [];
  try {
    // N provisioned devices: the first P with a certificate and key each (the clients), the
    // rest rows of the allowlist only.
    const decision = {
      decision: 'allow',
      segment: 'default',
      rule: 'bench',
      policyId: 'bench',
    } as const;
    const clients: Client[] = [];
    const staticLines: string[] = [];
    const domainCa = network.domainCaPem();
    fs.writeFileSync(path.join(dir, 'ca.pem'), domainCa);
    const at = new Date();
    for (let start = 0; start < devices; start += 5000) {
      await network.store.transaction(async (r) => {
        for (let i = start; i < Math.min(devices, start + 5000); i++) {
          const serial = `bench-${String(i).padStart(7, '0')}`;
          let certificateSerial: string;
          if (i < o.clients) {
            const key = generateP256Key();
            const cert = network.credentials.signLdevid(serial, key.spki);
            certificateSerial = cert.serial;
            const base = path.join(dir, serial);
            fs.writeFileSync(`${base}.pem`, toPem('CERTIFICATE', cert.der));
            fs.writeFileSync(`${base}.key`, toPem('PRIVATE KEY', exportPkcs8(key)), {
              mode: 0o600,
            });
            const conf = `${base}.conf`;
            fs.writeFileSync(
              conf,
              `network={\n  key_mgmt=WPA-EAP\n  eap=TLS\n  identity="${serial}"\n  ca_cert="${dir}/ca.pem"\n  client_cert="${base}.pem"\n  private_key="${base}.key"\n  eapol_flags=0\n}\n`,
            );
            clients.push({ serial, conf });
          } else
            certificateSerial = crypto
              .bytes(16)
              .reduce((h, b) => h + b.toString(16).padStart(2, '0'), '');
          const der = new Uint8Array([
            0x30,
            0x06,
            0x02,
            0x04,
            i >>> 24,
            (i >>> 16) & 255,
            (i >>> 8) & 255,
            i & 255,
          ]);
          await r.devices.vouched(
            { serial, idevidDer: der, manufacturer: 'bench', nonce: 'n', decision },
            at,
          );
          await r.devices.update(
            serial,
            { state: 'provisioned', ldevidSerial: certificateSerial },
            at,
          );
          staticLines.push(
            `${serial}\tTLS-Client-Cert-Serial == "${certificateSerial}"\n\tTunnel-Type := VLAN, Tunnel-Medium-Type := IEEE-802, Tunnel-Private-Group-Id := "101"`,
          );
        }
      });
    }
    const allowlist = path.join(dir, 'static-allowlist');
    fs.writeFileSync(allowlist, `${staticLines.join('\n')}\n`);

    const livePort = await freeUdpPort();
    const debug = (name: string) =>
      process.env.BENCH_CONNECT_DEBUG
        ? (line: string) => {
            if (/Auth:|ERROR|WARN/.test(line)) process.stderr.write(`radius ${name}: ${line}\n`);
          }
        : undefined;
    const live = await network.startRadius({
      dir: path.join(dir, 'raddb-live'),
      listen: { address: '127.0.0.1', port: livePort },
      clients: ['127.0.0.1'],
      secret: SECRET,
      vlans: { default: 101 },
      ...(debug('live') ? { onLog: debug('live')! } : {}),
    });
    servers.push(live);
    const staticPort = await freeUdpPort();
    const pki = network.pki;
    const staticServer = await FreeRadius.start({
      dir: path.join(dir, 'raddb-static'),
      listen: { address: '127.0.0.1', port: staticPort },
      clients: ['127.0.0.1'],
      secret: SECRET,
      certificateChainPem: toPem('CERTIFICATE', pki.radius.cert.der) + domainCa,
      keyPkcs8: await ctx.keys.exportPkcs8(pki.radius.key),
      caPem: domainCa,
      database: { sqlite: network.databaseFile },
      staticAllowlist: allowlist,
      ...(debug('static') ? { onLog: debug('static')! } : {}),
    });
    servers.push(staticServer);

    // Warm both, then alternate slices.
    for (const port of [livePort, staticPort])
      if (!(await authenticate(clients[0]!, port))) throw new Error(`no authentication on ${port}`);
    const slices = 3;
    const perSlice = Math.max(o.clients, Math.ceil(o.auths / slices));
    const liveRates: number[] = [];
    const staticRates: number[] = [];
    for (let s = 0; s < slices; s++) {
      staticRates.push(await rate(clients, staticPort, perSlice));
      liveRates.push(await rate(clients, livePort, perSlice));
    }
    const authPerSecond = liveRates.reduce((a, b) => a + b, 0) / slices;
    const staticAuthPerSecond = staticRates.reduce((a, b) => a + b, 0) / slices;

    const alone: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await authenticate(clients[0]!, livePort);
      alone.push(performance.now() - t);
    }

    // A change is live at the next authentication. Decommissioned: the first authentication
    // after is refused (FreeRADIUS holds an Access-Reject back for reject_delay, 1 s). Then
    // provisioned again: changeLiveMs is from that commit to the end of the first
    // authentication, which succeeds (it must be the first: `refusalsAfterChange` counts any other).
    const probe = clients[0]!;
    const liveTimes: number[] = [];
    let refusalsAfterChange = 0;
    for (let i = 0; i < 5; i++) {
      const cert = (await network.store.run((r) => r.devices.get(probe.serial)))!.ldevidSerial!;
      await network.store.run((r) =>
        r.devices.update(probe.serial, { state: 'decommissioned' }, new Date()),
      );
      if (await authenticate(probe, livePort)) throw new Error('admitted once decommissioned');
      const t = performance.now();
      await network.store.run((r) =>
        r.devices.update(probe.serial, { state: 'provisioned', ldevidSerial: cert }, new Date()),
      );
      while (!(await authenticate(probe, livePort))) {
        refusalsAfterChange++;
        if (performance.now() - t > 10_000) throw new Error('never admitted again');
      }
      liveTimes.push(performance.now() - t);
    }

    // Memory over many changes: the segment of one device moved back and forth.
    const before = rssKb(live.pid!);
    for (let i = 0; i < o.changes; i++) {
      await network.store.run((r) =>
        r.radius.setVlans(i % 2 === 0 ? { default: 101 } : { default: 102 }),
      );
      if (i % 10 === 0) await authenticate(clients[i % clients.length]!, livePort);
    }
    const after = rssKb(live.pid!);

    await network.checkAccess(); // what the VLAN changes above left
    const looks: number[] = [];
    const oneChange: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      await network.checkAccess();
      looks.push(performance.now() - t);
      const moved = clients[1]!.serial;
      const cert = (await network.store.run((r) => r.devices.get(moved)))!.ldevidSerial!;
      await network.store.run((r) =>
        r.devices.update(
          moved,
          i % 2 === 0 ? { state: 'decommissioned' } : { state: 'provisioned', ldevidSerial: cert },
          new Date(),
        ),
      );
      t = performance.now();
      await network.checkAccess();
      oneChange.push(performance.now() - t);
      t = performance.now();
      await network.store.run((r) => r.radius.devices());
      full.push(performance.now() - t);
    }

    return {
      benchmark: 'connect',
      devices,
      clients: o.clients,
      auths: Math.ceil(perSlice / PER_PROCESS) * PER_PROCESS * slices,
      authPerSecond: round(authPerSecond),
      staticAuthPerSecond: round(staticAuthPerSecond),
      ratio: round(authPerSecond / staticAuthPerSecond, 3),
      authMs: round(median(alone)),
      changeLiveMs: round(median(liveTimes)),
      refusalsAfterChange,
      radiusRssGrowthKb: after - before,
      changes: o.changes,
      watchLookMs: round(median(looks)),
      watchCpuShare: round(median(looks) / 2000, 4),
      watchLookOneChangeMs: round(median(oneChange)),
      watchFullLookMs: round(median(full)),
      node: process.version,
      date: new Date().toISOString(),
    };
  } finally {
    for (const s of servers) await s.stop();
    await network.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
