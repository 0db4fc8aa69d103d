/**
 * What the table says of a device follows the record, through its changes: a device whose
 * address changes leaves its manufacturer's set at the old address (another device of that
 * manufacturer could otherwise reach whoever takes it next); removal from the CLI, a process
 * that did not build the table, takes it out of every set; a device that re-attestation marks
 * for quarantine is confined in the table, and packets prove it. A device the network did not
 * onboard gets the rules of the MUD URL its declaration carries.
 * Needs root, ip and nft: elsewhere it says `skipped: <reason>`; CI installs them.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../src/adapters/enforcement/nftables.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/errors.js';
import { latestDeclared } from '../../src/protocols/declaration/verify.js';
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
const skip = netnsSkipReason();
if (skip) console.log(`skipped: ${skip}`);

/** A port nothing listens on now (the device says where it will listen before it does). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A model's file: its controller, and devices of its own manufacturer, both ways. */
function peersFile(): string {
  const acl = (name: string) => ({
    name,
    type: 'ipv4-acl-type',
    aces: {
      ace: [
        {
          name: 'controller',
          matches: { 'ietf-mud:mud': { 'my-controller': [null] } },
          actions: { forwarding: 'accept' },
        },
        {
          name: 'peers',
          matches: { 'ietf-mud:mud': { 'same-manufacturer': [null] } },
          actions: { forwarding: 'accept' },
        },
      ],
    },
  });
  return JSON.stringify({
    'ietf-mud:mud': {
      'mud-version': 1,
      'cache-validity': 48,
      'is-supported': true,
      systeminfo: 'a device that talks to its peers',
      'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
      'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'in' }] } },
    },
    'ietf-access-control-list:acls': { acl: [acl('out'), acl('in')] },
  });
}

describe.skipIf(skip !== undefined)("the table follows the device's record", () => {
  let t: Topology;
  let nft: Nftables;
  let sys: TestSystem;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    t = makeTopology(`m${process.pid % 1000}`);
    nft = new Nftables({ netns: t.gateway });
    await t.serveCloud();
    sys = await startTestSystem({
      intent: {
        settings: {
          segments: {
            default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
          },
          remediation: [CLOUD_B],
        },
        enforcement: nft,
      },
    });
  }, 60_000);
  afterAll(async () => {
    for (const c of closers) await c();
    await sys?.close();
    t?.close();
  });

  /** The elements of the table's sets whose names start with `prefix`, by set. */
  async function setElements(prefix: string): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {};
    for (const o of (await nft.table()) ?? []) {
      const set = (o as { set?: { name: string; elem?: unknown[] } }).set;
      if (set?.name.startsWith(prefix)) out[set.name] = (set.elem ?? []).map(String);
    }
    return out;
  }

  it('a device that moves leaves its manufacturer set at the old address; removal from the CLI leaves none', async () => {
    await sys.newDevice({ model: 'peer-p1' });
    await sys.manufacturer.intent.publish('peer-p1', peersFile());
    const url = `${sys.manufacturer.config.mudBaseUrl}/peer-p1.json`;
    const report = (address: string) =>
      sys.network.intent!.reported({
        source: 'dhcpv4',
        address,
        mudUrl: url,
        link: '02:00:00:00:00:51',
      });
    const first = await report('10.1.0.51');
    expect(first).toMatchObject({ serial: 'dhcpv4:02:00:00:00:00:51', changed: true });
    const [mfg] = Object.keys(await setElements('mfg4_'));
    expect(mfg).toBeDefined();
    expect((await setElements(mfg!))[mfg!]).toEqual(['10.1.0.51']);

    // The same link, a new lease: one member, at the new address; the old one is no device's.
    expect(await report('10.1.0.52')).toMatchObject({ serial: first.serial, changed: true });
    expect((await setElements(mfg!))[mfg!]).toEqual(['10.1.0.52']);
    expect((await setElements('devices4')).devices4).toEqual(['10.1.0.52']);
    const profileSets = await setElements('dev4_');
    expect(Object.values(profileSets).flat()).toEqual(['10.1.0.52']);

    // Removal by a process of its own (the CLI beside the server), which built no table.
    const settings = path.join(sys.dir, 'intent-membership.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        segments: {
          default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
        },
        remediation: [CLOUD_B],
        netns: t.gateway,
      }),
    );
    await run(process.execPath, [
      bin,
      'intent',
      'remove',
      first.serial,
      '--data-dir',
      path.join(sys.dir, 'data'),
      '--intent',
      settings,
    ]);
    expect((await setElements(mfg!))[mfg!]).toEqual([]);
    expect((await setElements('devices4')).devices4).toEqual([]);
    expect(Object.values(await setElements('dev4_')).flat()).toEqual([]);
  });

  it('a device that re-attestation marks for quarantine is confined in the table: the remediation server only', async () => {
    const port = await freePort();
    const base = await sys.firmwareOf('sensor-s1');
    const image = `${base.image}.${port}`;
    fs.copyFileSync(base.image, image);
    const d = await sys.newDevice({
      measuredBoot: fileMeasuredBoot({ ...base, image }),
      agent: { attestationUrl: `https://127.0.0.1:${port}` },
    });
    const mudUrl = parseCertificateBase64((await d.agent.birth()).idevidChain[0]!).mudUrl!;
    await d.agent.onboard(sys.registrarUrl);
    const responder = await d.agent.serveAttestation({ port });
    closers.push(() => responder.close());
    // The first device of the segment: the device namespace's address.
    expect((await sys.network.intent!.show(d.serial)).address).toBe(DEVICE);
    expect((await sys.network.intent!.show(d.serial)).mudUrl).toBe(mudUrl);
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);

    const bytes = fs.readFileSync(image);
    bytes[100] = bytes[100]! ^ 0xff;
    fs.writeFileSync(image, bytes);
    const [outcome] = await sys.network.reattest(d.serial);
    expect(outcome).toMatchObject({ status: 'contraindicated', quarantined: true });
    expect((await sys.network.intent!.show(d.serial)).quarantined).toBe(
      're-attestation: contraindicated',
    );
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
  });

  it('a device the network did not onboard gets the rules of the MUD URL its declaration carries; without its declaration, nothing', async () => {
    const { agent, serial } = await sys.newDevice({ model: 'sensor-s1' });
    const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
    // The manufacturer's signed word: every declaration of the device carries its URL.
    const chain = await sys.manufacturer.declarations.chain(serial);
    expect(chain.length).toBeGreaterThan(1);
    expect(latestDeclared(chain)?.['mud-url']).toBe(mudUrl);

    const subject = { serial, segment: 'default', address: '10.1.0.70' };
    expect(await errorCode(() => sys.network.intent!.declared(subject))).toBe(
      'ERR_DECLARATION_NOT_FOUND',
    );
    expect(await sys.network.store.run((r) => r.intent.device(serial))).toBeUndefined();

    const file = await sys.manufacturer.declarations.exportFor(sys.network.owner.id);
    await sys.network.declarations.importExport({
      ...file,
      devices: file.devices.filter((d) => d['serial-number'] === serial),
    });
    expect(await sys.network.intent!.declared(subject)).toMatchObject({
      address: '10.1.0.70',
      mudUrl,
      changed: true,
    });
    const located = (await sys.network.inventory.events(serial)).find(
      (e) => e.action === 'intent locator',
    );
    expect(JSON.parse(located!.detail!)).toEqual({ 'mud-url': mudUrl, source: 'declaration' });
    expect((await setElements('devices4')).devices4).toContain('10.1.0.70');

    // The CLI, a process of its own, says the same of it.
    const settings = path.join(sys.dir, 'intent-declared.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        segments: {
          default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
        },
        netns: t.gateway,
      }),
    );
    const { stdout } = await run(process.execPath, [
      bin,
      'intent',
      'declared',
      serial,
      '--segment',
      'default',
      '--address',
      '10.1.0.70',
      '--data-dir',
      path.join(sys.dir, 'data'),
      '--intent',
      settings,
    ]);
    expect(stdout).toContain(`device ${serial} at 10.1.0.70:`);
    expect(stdout).toContain(mudUrl);
  });
});
