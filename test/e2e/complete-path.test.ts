/**
 * The complete path, one device, every part real (NIST IR 8350 sections 3 and 5):
 * 1. the manufacturer mints it (its birth identity, its MUD URL) and sells it to the owner;
 * 2. it onboards zero-touch: the network and the device authenticate each other through the
 *    voucher, the device attests its firmware, the policy admits it into a segment, its MUD
 *    rules are enforced in the gateway's nftables, and its credentials are delivered;
 * 3. it connects with them through 802.1X: wpa_supplicant in its namespace, hostapd
 *    (`driver=wired`) on the gateway's port, FreeRADIUS run by the network behind it, which
 *    answers with its segment's VLAN;
 * 4. it is in its segment: it reaches its controller and nothing else;
 * 5. it reports the connection to the onboarding component, which keeps it in its audit trail.
 * Needs root, ip, nft, hostapd, wpa_supplicant and freeradius: elsewhere `skipped: <reason>`.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../src/adapters/enforcement/nftables.js';
import type { FreeRadius } from '../../src/adapters/radius/freeradius.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import {
  CLOUD_A,
  CLOUD_B,
  DEVICE,
  makeTopology,
  netnsSkipReason,
  type Topology,
} from '../support/netns.js';
import { freeUdpPort, radiusSkipReason } from '../support/radius.js';
import { onPath } from '../support/tools.js';
import { startHostapd, type WiredPort } from '../support/wired-port.js';

const skip =
  netnsSkipReason() ??
  radiusSkipReason() ??
  ['hostapd', 'wpa_supplicant']
    .map((t) => (onPath(t) ? undefined : `${t} is not installed`))
    .find(Boolean);
if (skip) console.log(`skipped: ${skip}`);

const SECRET = 'a-radius-secret-of-the-complete-path';
/** The link between the gateway (hostapd) and FreeRADIUS, here. */
const RADIUS_HOST = '10.9.0.1';
const GATEWAY_TO_RADIUS = '10.9.0.2';

describe.skipIf(skip !== undefined)(
  'the complete path: minted, sold, onboarded, connected, in its segment, reported',
  () => {
    let t: Topology;
    let sys: TestSystem;
    let radius: FreeRadius;
    let port: WiredPort;
    const link = `alp${process.pid % 10000}`;

    beforeAll(async () => {
      t = makeTopology(`p${process.pid % 1000}`);
      await t.serveCloud();
      sys = await startTestSystem({
        intent: {
          settings: {
            segments: {
              default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
            },
            remediation: [CLOUD_B],
          },
          enforcement: new Nftables({ netns: t.gateway }),
        },
      });
      // The gateway reaches FreeRADIUS over a link of its own.
      execFileSync('ip', [
        'link',
        'add',
        link,
        'type',
        'veth',
        'peer',
        'name',
        'r0',
        'netns',
        t.gateway,
      ]);
      execFileSync('ip', ['addr', 'add', `${RADIUS_HOST}/30`, 'dev', link]);
      execFileSync('ip', ['link', 'set', link, 'up']);
      execFileSync('ip', ['-n', t.gateway, 'addr', 'add', `${GATEWAY_TO_RADIUS}/30`, 'dev', 'r0']);
      execFileSync('ip', ['-n', t.gateway, 'link', 'set', 'r0', 'up']);
      const udp = await freeUdpPort();
      radius = await sys.network.startRadius({
        dir: path.join(sys.dir, 'raddb'),
        listen: { address: RADIUS_HOST, port: udp },
        clients: [GATEWAY_TO_RADIUS],
        secret: SECRET,
        vlans: { default: 101, quarantine: 999 },
      });
      port = await startHostapd({
        name: 'g0',
        netns: t.gateway,
        radius: { address: RADIUS_HOST, port: udp, secret: SECRET },
        ownAddress: GATEWAY_TO_RADIUS,
        dir: path.join(sys.dir, 'hostapd'),
        station: { netns: t.device, interface: 'd0' },
      });
    }, 90_000);
    afterAll(async () => {
      port?.stop();
      await radius?.stop();
      await sys?.close();
      try {
        execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      } catch {
        // gone with the gateway
      }
      t?.close();
    });

    it('goes the whole way', async () => {
      // 1. Minted and sold: its birth certificate names its MUD URL.
      const { agent, serial } = await sys.newDevice({ model: 'sensor-s1' });
      const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl;
      expect(mudUrl).toMatch(/^https:\/\//);
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false); // nobody's address yet

      // 2. Zero-touch onboarding, attested, admitted, its intent enforced, credentials delivered.
      const report = await agent.onboard(sys.registrarUrl);
      expect(report.serialNumber).toBe(serial);
      expect(await sys.network.inventory.device(serial)).toMatchObject({
        state: 'onboarded',
        attestation_status: 'affirming',
        decision: 'allow',
        segment: 'default',
      });
      expect((await agent.onboardingCredentials())!.wifi.address).toBe(DEVICE);

      // 3. 802.1X with the LDevID it received: authorized, with its segment's VLAN.
      const before = port.log().length;
      const connection = await agent.connectWired({
        interface: 'd0',
        netns: t.device,
        dir: path.join(sys.dir, 'wired'),
      });
      try {
        const seen = await port.waitFor(/AP-STA-CONNECTED/, before);
        expect(seen).toMatch(/AP-STA-CONNECTED/);
        expect(seen).toMatch(/Attribute 81 \(Tunnel-Private-Group-Id\)[^\n]*\n\s*Value: 313031/);

        // 4. In its segment: its controller, and nothing else.
        expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
        expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);

        // 5. It reports, by its LDevID; the report closes its audit trail.
        await agent.reportConnection(sys.registrarUrl, {
          result: 'authorized',
          medium: 'wired',
          method: 'eap-tls',
          authenticator: connection.peer,
        });
      } finally {
        await connection.stop();
      }
      const trail = (await sys.network.inventory.events(serial)).map((e) => e.action);
      const order = ['intent enforced', 'simpleenroll', 'connection report'].map((a) =>
        trail.indexOf(a),
      );
      expect(order.every((i) => i >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      const steps = new Set(
        (await sys.network.inventory.events(serial)).flatMap((e) =>
          e.step === null ? [] : [e.step],
        ),
      );
      for (const step of [3, 4, 11, 12, 13]) expect(steps.has(step), `step ${step}`).toBe(true);
    });
  },
);
