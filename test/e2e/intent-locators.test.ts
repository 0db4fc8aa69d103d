/**
 * A device whose onboarding carries no MUD URL still gets intent (report section 5.1.1 step 4):
 * a real DHCP client (busybox udhcpc) sends the URL in option 161 (RFC 8520 section 9.1); the
 * network reads it from the captured message and installs that file's rules for the device's
 * address, proved with packets. A later message naming another URL changes nothing.
 * Needs root, ip, nft and udhcpc: elsewhere it says `skipped: <reason>`; CI installs them.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../src/adapters/enforcement/nftables.js';
import { dhcpv4MudUrl } from '../../src/protocols/mud/locators.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/errors.js';
import { onPath } from '../support/tools.js';
import {
  CLOUD_A,
  CLOUD_B,
  DEVICE,
  makeTopology,
  netnsSkipReason,
  type Topology,
} from '../support/netns.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const skip = netnsSkipReason() ?? (onPath('udhcpc') ? undefined : 'udhcpc is not installed');
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip !== undefined)('a MUD URL from DHCP, enforced with packets', () => {
  let t: Topology;
  let sys: TestSystem;
  beforeAll(async () => {
    t = makeTopology(`l${process.pid % 1000}`);
    await t.serveCloud();
    sys = await startTestSystem({
      attestation: false,
      intent: {
        settings: {
          segments: {
            default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
          },
        },
        enforcement: new Nftables({ netns: t.gateway }),
      },
    });
  }, 60_000);
  afterAll(async () => {
    await sys?.close();
    t?.close();
  });

  /** The first DHCPv4 message the device's udhcpc broadcasts, as the gateway receives it. */
  async function dhcpDiscover(mudUrl: string): Promise<Uint8Array> {
    const script = `const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true });
      s.on('message', (m) => { process.stdout.write(m.toString('hex')); process.exit(0); });
      s.bind(67, '0.0.0.0', () => console.error('up'));
      setTimeout(() => process.exit(3), 10000);`;
    const capture = spawn('ip', ['netns', 'exec', t.gateway, process.execPath, '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    capture.stdout!.on('data', (b: Buffer) => out.push(b));
    await new Promise<void>((resolve) => capture.stderr!.once('data', () => resolve()));
    const done = new Promise<number | null>((resolve) => capture.on('close', resolve));
    const hex = Buffer.from(mudUrl).toString('hex');
    await run('ip', [
      'netns',
      'exec',
      t.device,
      'udhcpc',
      '-i',
      'd0',
      '-n',
      '-q',
      '-t',
      '2',
      '-T',
      '1',
      '-s',
      '/bin/true',
      '-x',
      `0xa1:${hex}`,
    ]).catch(() => undefined); // no server answers: it fails, having sent its DISCOVER
    expect(await done).toBe(0);
    return new Uint8Array(Buffer.from(Buffer.concat(out).toString('utf8'), 'hex'));
  }

  it("reads the URL a real DHCP client sends, and the device's address gets that file's rules", async () => {
    // A device minted, never onboarded here (a DPP enrollee, say): its MUD URL is its model's.
    const { agent } = await sys.newDevice({ model: 'sensor-s1' });
    const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
    const packet = await dhcpDiscover(mudUrl);
    const read = dhcpv4MudUrl(packet);
    expect(read).toMatchObject({ mudUrl, messageType: 1 });
    expect(read.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);

    // Before: its address is in the segment's pool and no device's, so dropped (fail closed).
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
    const r = await sys.network.intent!.reported({
      source: 'dhcpv4',
      address: DEVICE,
      mudUrl: read.mudUrl!,
      link: read.mac,
    });
    expect(r).toMatchObject({ serial: `dhcpv4:${read.mac}`, address: DEVICE, changed: true });
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    const events = await sys.network.inventory.events(r.serial);
    expect(events.map((e) => [e.step, e.action])).toEqual([
      [11, 'intent locator'],
      [13, 'intent enforced'],
    ]);

    // The same again: nothing changes. Another URL for that address: refused, the rules stay.
    expect(
      (await sys.network.intent!.reported({ source: 'dhcpv4', address: DEVICE, mudUrl })).changed,
    ).toBe(false);
    expect(
      await errorCode(() =>
        sys.network.intent!.reported({
          source: 'dhcpv4',
          address: DEVICE,
          mudUrl: 'https://elsewhere.example/x.json',
        }),
      ),
    ).toBe('ERR_MUD_LOCATOR_CONFLICT');
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);

    // The CLI reads the captured message the same way.
    const file = path.join(sys.dir, 'discover.bin');
    fs.writeFileSync(file, packet);
    const settings = path.join(sys.dir, 'intent.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        segments: {
          default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
        },
        netns: t.gateway,
      }),
    );
    const args = ['--data-dir', path.join(sys.dir, 'data'), '--intent', settings];
    const { stdout } = await run(process.execPath, [
      bin,
      'intent',
      'report',
      '--address',
      DEVICE,
      '--dhcpv4',
      file,
      ...args,
    ]);
    // A process of its own does not know what the table holds: it installs the same rules again.
    expect(stdout).toContain(`dhcpv4:${read.mac} at ${DEVICE}: rules installed for ${mudUrl}`);
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    // An address outside every segment's pool: refused, nothing installed.
    const refused = await run(process.execPath, [
      bin,
      'intent',
      'report',
      '--address',
      '192.0.2.9',
      '--dhcpv4',
      file,
      ...args,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toContain('ERR_ENFORCEMENT_FAILED');
  });
});
