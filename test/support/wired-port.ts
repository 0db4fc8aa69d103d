/**
 * A wired 802.1X port for the tests: a veth pair, the authenticator's end in this namespace with
 * hostapd (`driver=wired`) on it, FreeRADIUS behind it; the device's end in the device's
 * namespace. hostapd runs with -dd, so its log shows the RADIUS attributes it receives.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WiredPort {
  /** The authenticator's interface. */
  name: string;
  /** Everything hostapd printed so far. */
  log(): string;
  /** Waits until its log, after `from`, matches; the part after `from`. */
  waitFor(pattern: RegExp, from: number, timeoutMs?: number): Promise<string>;
  /** hostapd's control directory, when it has one. */
  ctrl: string | undefined;
  /** Gives the device's end a new MAC address (hostapd keeps stations by MAC). */
  newStation(): void;
  stop(): void;
}

let stations = 0;

export interface HostapdOptions {
  /** The interface hostapd authenticates on (15 characters at most). */
  name: string;
  /** The namespace hostapd runs in (default: this one). */
  netns?: string;
  /** FreeRADIUS: its address (default 127.0.0.1), port and shared secret. */
  radius: { address?: string; port: number; secret: string };
  /** hostapd's own address towards FreeRADIUS (default 127.0.0.1). */
  ownAddress?: string;
  /** Where its configuration (and control socket) go. */
  dir: string;
  /** RFC 5176: the UDP port of its Dynamic Authorization Server (the network on 127.0.0.1). */
  das?: number;
  /** Its control interface, for `EAPOL_REAUTH`. */
  control?: boolean;
  /** The device's namespace and interface, for newStation(). */
  station: { netns: string; interface: string };
}

/** hostapd (`driver=wired`) on an interface that exists. */
export async function startHostapd(o: HostapdOptions): Promise<WiredPort> {
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const ctrl = o.control ? path.join(o.dir, 'ctrl') : undefined;
  const conf = path.join(o.dir, 'hostapd.conf');
  fs.writeFileSync(
    conf,
    [
      `interface=${o.name}`,
      'driver=wired',
      'ieee8021x=1',
      'eap_reauth_period=0',
      'use_pae_group_addr=1',
      `own_ip_addr=${o.ownAddress ?? '127.0.0.1'}`,
      `auth_server_addr=${o.radius.address ?? '127.0.0.1'}`,
      `auth_server_port=${o.radius.port}`,
      `auth_server_shared_secret=${o.radius.secret}`,
      ...(o.das !== undefined
        ? [
            `radius_das_port=${o.das}`,
            `radius_das_client=127.0.0.1 ${o.radius.secret}`,
            'radius_das_require_event_timestamp=1',
            'radius_das_require_message_authenticator=1',
          ]
        : []),
      ...(ctrl ? [`ctrl_interface=${ctrl}`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const hostapd: ChildProcess =
    o.netns === undefined
      ? spawn('hostapd', ['-dd', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', o.netns, 'hostapd', '-dd', conf], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  let log = '';
  const onData = (b: Buffer) => (log += b.toString('utf8'));
  hostapd.stdout!.on('data', onData);
  hostapd.stderr!.on('data', onData);
  const waitFor = async (pattern: RegExp, from: number, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(log.slice(from)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return log.slice(from);
  };
  if (!/ENABLED/.test(await waitFor(/ENABLED/, 0))) {
    hostapd.kill('SIGKILL');
    throw new Error(`hostapd did not start:\n${log.slice(-2000)}`);
  }
  return {
    name: o.name,
    log: () => log,
    waitFor,
    ctrl,
    newStation() {
      stations++;
      const n = (process.pid * 64 + stations) & 0xffffff;
      const mac = `02:00:00:${[n >> 16, (n >> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
      execFileSync('ip', [
        '-n',
        o.station.netns,
        'link',
        'set',
        o.station.interface,
        'address',
        mac,
      ]);
    },
    stop() {
      hostapd.kill('SIGKILL');
    },
  };
}

/** A veth pair, its own end with hostapd on it, the device's end in the device's namespace. */
export async function startWiredPort(o: {
  /** The authenticator's interface name (15 characters at most). */
  name: string;
  /** The device's namespace (made if missing) and its interface there. */
  netns: string;
  deviceInterface: string;
  /** FreeRADIUS's port on 127.0.0.1, and the shared secret. */
  radiusPort: number;
  secret: string;
  dir: string;
  das?: number;
  control?: boolean;
}): Promise<WiredPort> {
  try {
    execFileSync('ip', ['netns', 'add', o.netns], { stdio: 'ignore' });
  } catch {
    // there already
  }
  try {
    execFileSync('ip', ['link', 'del', o.name], { stdio: 'ignore' });
  } catch {
    // not there
  }
  execFileSync('ip', [
    'link',
    'add',
    o.name,
    'type',
    'veth',
    'peer',
    'name',
    o.deviceInterface,
    'netns',
    o.netns,
  ]);
  execFileSync('ip', ['link', 'set', o.name, 'up']);
  execFileSync('ip', ['-n', o.netns, 'link', 'set', o.deviceInterface, 'up']);
  const port = await startHostapd({
    name: o.name,
    radius: { port: o.radiusPort, secret: o.secret },
    dir: o.dir,
    ...(o.das !== undefined ? { das: o.das } : {}),
    ...(o.control ? { control: true } : {}),
    station: { netns: o.netns, interface: o.deviceInterface },
  });
  return {
    ...port,
    stop() {
      port.stop();
      try {
        execFileSync('ip', ['link', 'del', o.name], { stdio: 'ignore' });
      } catch {
        // gone
      }
    },
  };
}
