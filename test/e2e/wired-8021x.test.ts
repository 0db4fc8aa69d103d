/**
 * The device joins the real network (report section 5.3, docs/RADIUS.md): onboarded by
 * Airlock, it connects on a wired port through hostapd (`driver=wired`, the 802.1X
 * authenticator) and FreeRADIUS run by the network, with wpa_supplicant and the LDevID it
 * received; the port is authorized and the Access-Accept hostapd gets carries its segment's
 * VLAN; it reports so to the onboarding component with its LDevID (report section 5.3).
 * Decommissioned, the same device is refused on the same port, and can no longer report.
 * Needs root, ip, hostapd, wpa_supplicant and freeradius: elsewhere it says `skipped: <reason>`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { freeUdpPort, radiusSkipReason } from '../support/radius.js';
import { onPath } from '../support/tools.js';
import { errorCode } from '../support/errors.js';
import type { FreeRadius } from '../../src/adapters/radius/freeradius.js';

const skip =
  radiusSkipReason() ??
  ['ip', 'hostapd', 'wpa_supplicant']
    .map((t) => (onPath(t) ? undefined : `${t} is not installed`))
    .find(Boolean);
if (skip) console.log(`skipped: ${skip}`);

const SECRET = 'a-radius-secret-of-the-wired-test';
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

describe.skipIf(skip !== undefined)(
  '802.1X on a wired port: hostapd, FreeRADIUS, wpa_supplicant',
  () => {
    let sys: TestSystem;
    let radius: FreeRadius;
    let hostapd: ChildProcess;
    let hostapdLog = '';
    const tag = process.pid % 10000;
    const netns = `al-w${tag}-dev`;
    const port = `alw${tag}`;
    beforeAll(async () => {
      sys = await startTestSystem();
      const udp = await freeUdpPort();
      radius = await sys.network.startRadius({
        dir: path.join(sys.dir, 'raddb'),
        listen: { address: '127.0.0.1', port: udp },
        clients: ['127.0.0.1'],
        secret: SECRET,
        vlans: { default: 101 },
      });
      // The device's port: a veth pair, the authenticator's end here, the device's in its namespace.
      try {
        execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
      } catch {
        // not there
      }
      execFileSync('ip', ['netns', 'add', netns]);
      execFileSync('ip', [
        'link',
        'add',
        port,
        'type',
        'veth',
        'peer',
        'name',
        'd0',
        'netns',
        netns,
      ]);
      execFileSync('ip', ['link', 'set', port, 'up']);
      execFileSync('ip', ['-n', netns, 'link', 'set', 'd0', 'up']);
      const conf = path.join(sys.dir, 'hostapd-wired.conf');
      fs.writeFileSync(
        conf,
        [
          `interface=${port}`,
          'driver=wired',
          'ieee8021x=1',
          'eap_reauth_period=0',
          'use_pae_group_addr=1',
          'own_ip_addr=127.0.0.1',
          'auth_server_addr=127.0.0.1',
          `auth_server_port=${udp}`,
          `auth_server_shared_secret=${SECRET}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      // -dd: hostapd prints the RADIUS attributes it receives, the VLAN among them.
      hostapd = spawn('hostapd', ['-dd', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
      const onData = (b: Buffer) => (hostapdLog += b.toString('utf8'));
      hostapd.stdout!.on('data', onData);
      hostapd.stderr!.on('data', onData);
      const deadline = Date.now() + 10_000;
      while (!hostapdLog.includes('ENABLED') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      if (!hostapdLog.includes('ENABLED'))
        throw new Error(`hostapd did not start:\n${hostapdLog.slice(-2000)}`);
    }, 60_000);
    afterAll(async () => {
      hostapd?.kill('SIGKILL');
      try {
        execFileSync('ip', ['link', 'del', port], { stdio: 'ignore' });
        execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
      } catch {
        // gone
      }
      await radius?.stop();
      await sys?.close();
    });

    /**
     * A new station on the port: hostapd keeps a station it authorized, and holds one it
     * refused for its quiet period, by MAC address; each device here gets its own.
     */
    let stations = 0;
    const newStation = () => {
      stations++;
      const mac = `02:00:00:00:${(tag >> 8).toString(16).padStart(2, '0')}:${((tag + stations) & 255).toString(16).padStart(2, '0')}`;
      execFileSync('ip', ['-n', netns, 'link', 'set', 'd0', 'address', mac]);
    };

    it('`airlock device connect` joins the port, reports to the registrar, and keeps the port until interrupted', async () => {
      const d = await sys.newDevice();
      await d.agent.onboard(sys.registrarUrl);
      newStation();
      const child = spawn(
        process.execPath,
        [
          bin,
          'device',
          'connect',
          '--store',
          d.storeDir,
          '--interface',
          'd0',
          '--netns',
          netns,
          '--registrar',
          sys.registrarUrl,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
      const deadline = Date.now() + 30_000;
      while (!out.includes('"authorized"') && Date.now() < deadline && child.exitCode === null)
        await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('"authorized": true');
      const reported = (await sys.network.inventory.events(d.serial)).filter(
        (e) => e.action === 'connection report',
      );
      expect(reported.map((e) => [e.outcome, JSON.parse(e.detail!).result])).toEqual([
        ['ok', 'authorized'],
      ]);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    });

    it("an onboarded device's port is authorized, in its segment's VLAN; decommissioned, it is refused", async () => {
      const d = await sys.newDevice();
      await d.agent.onboard(sys.registrarUrl);
      const dir = path.join(sys.dir, 'wired', d.serial);
      newStation();
      const before = hostapdLog.length;
      const connection = await d.agent.connectWired({ interface: 'd0', netns, dir });
      try {
        // The authenticator's view: the station connected (its port authorized), with the
        // Access-Accept's Tunnel-Private-Group-Id "101".
        const deadline = Date.now() + 5_000;
        while (!hostapdLog.slice(before).includes('AP-STA-CONNECTED') && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        const seen = hostapdLog.slice(before);
        expect(seen).toMatch(/AP-STA-CONNECTED/);
        expect(seen).toMatch(/Attribute 81 \(Tunnel-Private-Group-Id\)[^\n]*\n\s*Value: 313031/);
        expect(fs.statSync(path.join(dir, 'credentials', 'ldevid.key')).mode & 0o777).toBe(0o600);
        expect(fs.statSync(path.join(dir, 'supplicant', 'wpa_supplicant.conf')).mode & 0o777).toBe(
          0o600,
        );
        // Report section 5.3: the device tells the onboarding component how it went, by its LDevID.
        await d.agent.reportConnection(sys.registrarUrl, {
          result: 'authorized',
          medium: 'wired',
          method: 'eap-tls',
          authenticator: connection.peer,
        });
        const reported = (await sys.network.inventory.events(d.serial)).filter(
          (e) => e.action === 'connection report',
        );
        expect(reported.map((e) => e.outcome)).toEqual(['ok']);
        expect(JSON.parse(reported[0]!.detail!)).toEqual({
          result: 'authorized',
          medium: 'wired',
          method: 'eap-tls',
          authenticator: connection.peer,
        });
      } finally {
        await connection.stop();
      }

      await sys.network.decommission(d.serial);
      newStation();
      // Its LDevID revoked, it can no longer report either.
      expect(
        await errorCode(() =>
          d.agent.reportConnection(sys.registrarUrl, {
            result: 'authorized',
            medium: 'wired',
            method: 'eap-tls',
          }),
        ),
      ).toBe('ERR_CERT_REVOKED');
      expect(
        await errorCode(() =>
          d.agent.connectWired({ interface: 'd0', netns, dir: `${dir}-after`, timeoutMs: 15_000 }),
        ),
      ).toBe('ERR_NETWORK_ACCESS_REFUSED');
    });
  },
);
