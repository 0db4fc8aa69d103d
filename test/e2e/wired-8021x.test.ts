/**
 * The device joins the real network (report section 5.3, docs/RADIUS.md): onboarded by
 * Airlock, it connects on a wired port through hostapd (`driver=wired`, the 802.1X
 * authenticator) and FreeRADIUS run by the network, with wpa_supplicant and the LDevID it
 * received; the port is authorized and the Access-Accept hostapd gets carries its segment's
 * VLAN; it reports so to the onboarding component with its LDevID (report section 5.3).
 * Decommissioned, the same device is refused on the same port, and can no longer report.
 * Needs root, ip, hostapd, wpa_supplicant and freeradius: elsewhere it says `skipped: <reason>`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { freeUdpPort, radiusSkipReason } from '../support/radius.js';
import { onPath } from '../support/tools.js';
import { startWiredPort, type WiredPort } from '../support/wired-port.js';
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
    let wired: WiredPort;
    const tag = process.pid % 10000;
    const netns = `al-w${tag}-dev`;
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
      wired = await startWiredPort({
        name: `alw${tag}`,
        netns,
        deviceInterface: 'd0',
        radiusPort: udp,
        secret: SECRET,
        dir: path.join(sys.dir, 'hostapd'),
      });
    }, 60_000);
    afterAll(async () => {
      wired?.stop();
      try {
        execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
      } catch {
        // gone
      }
      await radius?.stop();
      await sys?.close();
    });
    const newStation = () => wired.newStation();

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
      const before = wired.log().length;
      const connection = await d.agent.connectWired({ interface: 'd0', netns, dir });
      try {
        // The authenticator's view: the station connected (its port authorized), with the
        // Access-Accept's Tunnel-Private-Group-Id "101".
        const seen = await wired.waitFor(/AP-STA-CONNECTED/, before);
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
