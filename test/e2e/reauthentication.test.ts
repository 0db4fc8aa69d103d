/**
 * A change to a device's access reaches its port without the device's help (docs/RADIUS.md,
 * src/roles/network/access-watch.ts). Two wired 802.1X ports, each hostapd (`driver=wired`)
 * with FreeRADIUS run by the network behind it:
 * - port A is reached through hostapd's control interface: a device moved to another segment
 *   is re-authenticated in place, and the new Access-Accept carries the new VLAN;
 * - port B is an RFC 5176 Dynamic Authorization Server: a device decommissioned has its session
 *   ended by the network's Disconnect-Request, which hostapd verifies (Message-Authenticator and
 *   Event-Timestamp required); one sent without the shared secret is ignored.
 * The Wi-Fi key file is rewritten by the same watch. Needs root, ip, hostapd, hostapd_cli,
 * wpa_supplicant and freeradius: elsewhere it says `skipped: <reason>`.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { movedTo } from '../support/policies.js';
import { freeUdpPort, radiusSkipReason } from '../support/radius.js';
import { onPath } from '../support/tools.js';
import { errorCode } from '../support/errors.js';
import { startWiredPort, type WiredPort } from '../support/wired-port.js';
import type { FreeRadius } from '../../src/adapters/radius/freeradius.js';
import { sendDisconnect } from '../../src/adapters/radius/disconnect.js';

const skip =
  radiusSkipReason() ??
  ['ip', 'hostapd', 'hostapd_cli', 'wpa_supplicant']
    .map((t) => (onPath(t) ? undefined : `${t} is not installed`))
    .find(Boolean);
if (skip) console.log(`skipped: ${skip}`);

const SECRET = 'a-radius-secret-of-the-reauth-test';
const run = promisify(execFile);

describe.skipIf(skip !== undefined)('re-authentication when access changes', () => {
  let sys: TestSystem;
  let radius: FreeRadius;
  let portA: WiredPort;
  let portB: WiredPort;
  let das: number;
  const tag = process.pid % 10000;
  const netns = `al-r${tag}-dev`;
  const keyFile = () => path.join(sys.dir, 'wpa_psk');

  beforeAll(async () => {
    sys = await startTestSystem();
    const udp = await freeUdpPort();
    das = await freeUdpPort();
    radius = await sys.network.startRadius({
      dir: path.join(sys.dir, 'raddb'),
      listen: { address: '127.0.0.1', port: udp },
      clients: ['127.0.0.1'],
      secret: SECRET,
      vlans: { default: 101, video: 303 },
      authenticators: [
        { hostapd: { ctrl: path.join(sys.dir, 'port-a', 'ctrl'), interface: `ala${tag}` } },
        { das: { address: '127.0.0.1', port: das } },
      ],
      wifiKeyFile: keyFile(),
      watchIntervalMs: 200,
    });
    const common = { netns, radiusPort: udp, secret: SECRET };
    portA = await startWiredPort({
      ...common,
      name: `ala${tag}`,
      deviceInterface: 'da',
      dir: path.join(sys.dir, 'port-a'),
      control: true,
    });
    portB = await startWiredPort({
      ...common,
      name: `alb${tag}`,
      deviceInterface: 'db',
      dir: path.join(sys.dir, 'port-b'),
      das,
      control: true,
    });
  }, 60_000);
  afterAll(async () => {
    portA?.stop();
    portB?.stop();
    try {
      execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
    } catch {
      // gone
    }
    await radius?.stop();
    await sys?.close();
  });

  const requested = async (serial: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = (await sys.network.inventory.events(serial)).filter(
        (x) => x.action === 're-authentication requested',
      );
      if (e.length > 0 || Date.now() > deadline)
        return e.map((x) => ({ outcome: x.outcome, ...JSON.parse(x.detail!) }));
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('moved to another segment: hostapd re-authenticates it in place, and the new Access-Accept carries the new VLAN', async () => {
    const d = await sys.newDevice();
    await d.agent.onboard(sys.registrarUrl);
    portA.newStation();
    const connection = await d.agent.connectWired({
      interface: 'da',
      netns,
      dir: path.join(sys.dir, 'wired', d.serial),
    });
    try {
      const before = portA.log().length;
      await sys.network.authorization.apply(movedTo(d.serial, 'video'));
      // hostapd asks the station for its identity again; FreeRADIUS answers with VLAN 303.
      const seen = await portA.waitFor(
        /External reauthentication trigger[\s\S]*Access-Accept[\s\S]*Tunnel-Private-Group-Id\)[^\n]*\n\s*Value: 333033/,
        before,
      );
      expect(seen).toMatch(/Tunnel-Private-Group-Id\)[^\n]*\n\s*Value: 333033/);
      expect(await requested(d.serial)).toEqual([
        {
          outcome: 'ok',
          reason: 'moved to VLAN 303',
          [`hostapd ala${tag}`]: 'reauthenticating',
          [`das 127.0.0.1:${das}`]: 'not connected',
        },
      ]);
    } finally {
      await connection.stop();
    }
  });

  it("decommissioned: its session ends by the network's RFC 5176 Disconnect-Request, and its key leaves the Wi-Fi key file; a Disconnect-Request without the secret is ignored", async () => {
    const d = await sys.newDevice();
    await d.agent.onboard(sys.registrarUrl);
    const keyed = await sys.newDevice();
    await keyed.agent.onboard(sys.registrarUrl);
    portB.newStation();
    const connection = await d.agent.connectWired({
      interface: 'db',
      netns,
      dir: path.join(sys.dir, 'wired', d.serial),
    });
    try {
      // The watch writes the key file as devices come and go: both devices' keys are in it.
      const deadline = Date.now() + 10_000;
      const lines = () =>
        fs.existsSync(keyFile())
          ? fs
              .readFileSync(keyFile(), 'utf8')
              .split('\n')
              .filter((l) => l.startsWith('keyid='))
          : [];
      while (lines().length < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const keysBefore = lines();
      expect(keysBefore).toHaveLength(3); // the first test's device too
      expect(fs.statSync(keyFile()).mode & 0o777).toBe(0o600);

      // Without the secret: hostapd drops it unanswered, and the session stays.
      const before = portB.log().length;
      expect(
        await errorCode(() =>
          sendDisconnect(
            { address: '127.0.0.1', port: das },
            'not-the-secret-of-this-network',
            { userName: d.serial },
            { timeoutMs: 300, attempts: 2 },
          ),
        ),
      ).toBe('ERR_TRANSPORT');
      expect(portB.log().slice(before)).toMatch(/Invalid authenticator or Message-Authenticator/);
      expect(portB.log().slice(before)).not.toMatch(/AP-STA-DISCONNECTED/);

      await sys.network.decommission(d.serial);
      expect(await portB.waitFor(/AP-STA-DISCONNECTED/, before)).toMatch(
        /Found a matching session[\s\S]*AP-STA-DISCONNECTED/,
      );
      expect(await requested(d.serial)).toEqual([
        {
          outcome: 'ok',
          reason: 'no longer admitted',
          [`hostapd ala${tag}`]: 'not connected',
          [`das 127.0.0.1:${das}`]: 'ended',
        },
      ]);
      while (lines().length > 2 && Date.now() < deadline + 10_000)
        await new Promise((r) => setTimeout(r, 100));
      expect(lines()).toHaveLength(2);
      expect(keysBefore.filter((l) => !lines().includes(l))).toHaveLength(1);
    } finally {
      await connection.stop();
    }
  });

  it('port control: the port passes only EAPOL until the station is authorized, and closes again when the network ends its session', async () => {
    // An address on each end of port B; a server on the network's end.
    execFileSync('ip', ['addr', 'add', '10.77.0.1/30', 'dev', portB.name]);
    execFileSync('ip', ['-n', netns, 'addr', 'add', '10.77.0.2/30', 'dev', 'db']);
    const server = net.createServer((s) => {
      s.on('error', () => {}); // the probe may reset it
      s.end('hi');
    });
    await new Promise<void>((resolve) => server.listen(0, '10.77.0.1', resolve));
    const tcp = (server.address() as net.AddressInfo).port;
    const reaches = () => reachesFrom(netns, '10.77.0.1', tcp);
    const port = await sys.network.controlPort({
      ctrl: portB.ctrl!,
      interface: portB.name,
      dir: path.join(sys.dir, 'port-b-control'),
    });
    try {
      const d = await sys.newDevice();
      await d.agent.onboard(sys.registrarUrl);
      portB.newStation();
      // Not authenticated: nothing but EAPOL passes (not even ARP).
      expect(await reaches()).toBe(false);
      const before = portB.log().length;
      const connection = await d.agent.connectWired({
        interface: 'db',
        netns,
        dir: path.join(sys.dir, 'wired', d.serial),
      });
      try {
        await portB.waitFor(/AP-STA-CONNECTED/, before);
        await waitUntil(reaches, true);
        expect(await reaches()).toBe(true);
        // Decommissioned: the network's Disconnect-Request ends the session, and the port closes.
        await sys.network.decommission(d.serial);
        await portB.waitFor(/AP-STA-DISCONNECTED/, before);
        await waitUntil(reaches, false);
        expect(await reaches()).toBe(false);
      } finally {
        await connection.stop();
      }
      await port.stop();
      // Stopped, the port no longer filters: the device reaches the server again.
      expect(await reaches()).toBe(true);
    } finally {
      await port.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 60_000);
});

/** Whether a TCP connection from namespace `ns` to `address:port` opens within 1.5 s. */
async function reachesFrom(ns: string, address: string, port: number): Promise<boolean> {
  const script = `const s = require('node:net').connect({ host: '${address}', port: ${port}, timeout: 1500 }); s.on('connect', () => { process.stdout.write('yes'); s.destroy(); }); s.on('timeout', () => s.destroy()); s.on('error', () => {});`;
  try {
    const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '-e', script], {
      timeout: 5_000,
    });
    return stdout === 'yes';
  } catch {
    return false;
  }
}

async function waitUntil(probe: () => Promise<boolean>, want: boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await probe()) !== want && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
}
