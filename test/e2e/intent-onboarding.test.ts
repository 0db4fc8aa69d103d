/**
 * Steps 11 to 13 in a whole onboarding, enforced with packets: the device's birth certificate
 * names its MUD URL and its CSR asks for it again; the network fetches the file from the
 * manufacturer (HTTPS), verifies it, gives the device an address in its segment, and installs
 * its rules in the gateway's nftables before the credentials are delivered. Then quarantine,
 * release and removal, and the attacks: a file signed by another key than the one first seen
 * for its URL is refused, and the device gets nothing.
 * Needs root, ip and nft: elsewhere it says `skipped: <reason>`; CI installs them.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../src/adapters/enforcement/nftables.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/errors.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
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

describe.skipIf(skip !== undefined)(
  'device intent in the onboarding, enforced with packets',
  () => {
    let t: Topology;
    let nft: Nftables;
    let sys: TestSystem;
    beforeAll(async () => {
      t = makeTopology(`o${process.pid % 1000}`);
      nft = new Nftables({ netns: t.gateway });
      await t.serveCloud();
      sys = await startTestSystem({
        intent: {
          settings: {
            // The gateway is host 1 of the device segment; the first device gets host 2 (DEVICE).
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
      await sys?.close();
      t?.close();
    });

    /** The table as nft lists it, without the denied flows' countdowns (they tick between two listings). */
    const tableText = async () => JSON.stringify(await nft.table()).replace(/"expires":\d+,/g, '');

    it('the device is onboarded with its rules in force: it reaches its controller and nothing else', async () => {
      // Before: the address is in the segment's pool and no device's: dropped (fail closed).
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
      const { agent, serial } = await sys.newDevice({ model: 'sensor-s1' });
      const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
      const report = await agent.onboard(sys.registrarUrl);
      expect(report.serialNumber).toBe(serial);
      expect((await agent.onboardingCredentials())!.wifi.address).toBe(DEVICE);

      const steps = (await sys.network.inventory.events(serial)).filter(
        (e) => e.step !== null && e.step >= 11 && e.step <= 13,
      );
      expect(steps.map((e) => [e.step, e.action, e.outcome])).toEqual([
        [11, 'intent locator', 'ok'],
        [12, 'intent forwarded', 'ok'],
        [13, 'intent enforced', 'ok'],
      ]);
      expect(JSON.parse(steps[0]!.detail!)).toMatchObject({
        'mud-url': mudUrl,
        source: 'birth certificate',
      });
      expect(JSON.parse(steps[2]!.detail!)).toMatchObject({ address: DEVICE });
      // The steps come before the credentials in the audit trail.
      const actions = (await sys.network.inventory.events(serial)).map((e) => e.action);
      expect(actions.indexOf('intent enforced')).toBeLessThan(actions.indexOf('simpleenroll'));

      // The manufacturer's file for the model: my-controller (CLOUD_A), nothing else.
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
      const denied = await nft.deniedFlows();
      expect(denied.some((f) => f.source === DEVICE && f.destination === CLOUD_B)).toBe(true);

      const view = await sys.network.intent!.show(serial);
      expect(view).toMatchObject({
        address: DEVICE,
        segment: 'default',
        mudUrl,
        quarantined: null,
      });
      expect(view.installed).not.toBeNull();
    });

    it('quarantine cuts everything but the remediation server; release restores the profile', async () => {
      const serial = (await sys.network.intent!.show(await onlySerial())).serial;
      await sys.network.intent!.quarantine(serial, 'test: suspicious traffic');
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
      await sys.network.intent!.release(serial);
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    });

    it("airlock intent show, quarantine and release act on the running network's table and record", async () => {
      const serial = await onlySerial();
      const file = path.join(sys.dir, 'intent.json');
      fs.writeFileSync(
        file,
        JSON.stringify({
          segments: {
            default: { prefix: '10.1.0.0/24', reservedHosts: [1], myController: [CLOUD_A] },
          },
          remediation: [CLOUD_B],
          netns: t.gateway,
        }),
      );
      const cli = (...args: string[]) =>
        run(process.execPath, [
          bin,
          'intent',
          ...args,
          '--data-dir',
          path.join(sys.dir, 'data'),
          '--intent',
          file,
        ]);
      const shown = JSON.parse((await cli('show', serial, '--json')).stdout) as Record<
        string,
        unknown
      >;
      expect(shown).toMatchObject({
        serial,
        address: DEVICE,
        segment: 'default',
        quarantined: null,
      });
      expect((await cli('quarantine', serial, '--reason', 'cli test')).stdout).toContain(
        'quarantined',
      );
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
      expect((await sys.network.intent!.show(serial)).quarantined).toBe('cli test');
      await cli('release', serial);
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
      // An unknown device: exit 1, its code on stderr, nothing changed.
      const refused = await cli('quarantine', 'no-such-serial', '--reason', 'x').catch(
        (e: { code: number; stderr: string }) => e,
      );
      expect(refused).toMatchObject({ code: 1 });
      expect((refused as { stderr: string }).stderr).toContain('ERR_DEVICE_NOT_FOUND');
    });

    it('the table is rebuilt from the record at start, and the same rules hold', async () => {
      await nft.apply({ nftables: [{ delete: { table: { family: 'inet', name: 'airlock' } } }] });
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
      await sys.network.intent!.start();
      sys.network.intent!.stop();
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    });

    it('onboarding again changes nothing in the table, and keeps the address', async () => {
      const serial = await onlySerial();
      const before = await tableText();
      const { agent } = await sys.newDevice({ model: 'sensor-s1' });
      // A second device of the same model: the next address, the same profile chains.
      await agent.onboard(sys.registrarUrl);
      expect((await agent.onboardingCredentials())!.wifi.address).toBe('10.1.0.3');
      // The same chains and rules: only the maps' elements grew.
      const shape = (text: string) =>
        (JSON.parse(text) as Array<Record<string, { handle?: number }>>)
          .filter((o) => o.chain || o.rule)
          .map((o) => JSON.stringify({ ...o, rule: o.rule && { ...o.rule, expr: undefined } }));
      expect(shape(await tableText())).toEqual(shape(before));
      expect((await sys.network.intent!.show(serial)).address).toBe(DEVICE);
    });

    it("the manufacturer publishes a model's new file; the network takes it when its copy expires, for every device of the model at once", async () => {
      const mudUrl = (await sys.network.intent!.show(await onlySerial())).mudUrl!;
      const published = await sys.manufacturer.intent.publish('sensor-s1', updatedFile());
      expect(published.warnings).toEqual([]);
      // Not before its copy's cache-validity ends: the rules stay.
      expect(await sys.network.intent!.refresh()).toContainEqual({ url: mudUrl, updated: false });
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
      const held = (await sys.network.store.run((r) => r.intent.mudFile(mudUrl)))!;
      await sys.network.store.run((r) =>
        r.intent.saveMudFile({ ...held, expiresAt: new Date(Date.now() - 1000).toISOString() }),
      );
      expect(await sys.network.intent!.refresh()).toContainEqual({ url: mudUrl, updated: true });
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
      // The stored copy is the file the manufacturer serves now, and it verified.
      expect((await sys.network.store.run((r) => r.intent.mudFile(mudUrl)))!.mud).toBe(
        new TextDecoder().decode(published.bytes),
      );
    });

    it('a device whose birth certificate points its MUD URL inside the network gets nothing: the network does not fetch it', async () => {
      const base = sys.manufacturer.config.mudBaseUrl;
      sys.manufacturer.config.mudBaseUrl = 'https://10.255.0.1/mud';
      let minted;
      try {
        minted = await sys.newDevice({ model: 'sensor-s1' });
      } finally {
        sys.manufacturer.config.mudBaseUrl = base;
      }
      const before = await tableText();
      expect(await errorCode(() => minted.agent.onboard(sys.registrarUrl))).toBe('ERR_MUD_FETCH');
      expect(await minted.agent.onboardingCredentials()).toBeUndefined();
      expect((await sys.network.inventory.device(minted.serial)).ldevid_serial).toBeNull();
      const refusal = (await sys.network.inventory.events(minted.serial)).at(-1)!;
      expect(refusal).toMatchObject({
        action: 'device intent',
        outcome: 'refused',
        code: 'ERR_MUD_FETCH',
      });
      expect(JSON.parse(refusal.detail!)).toMatchObject({ reason: 'forbidden-address' });
      expect(await sys.network.store.run((r) => r.intent.device(minted.serial))).toBeUndefined();
      expect(await tableText()).toBe(before);
    });

    it('a MUD file signed by another key than the one first seen for its URL is refused: no credentials, no rules', async () => {
      const { agent, serial } = await sys.newDevice({ model: 'lamp-l1' });
      const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
      // The network first saw this URL signed by another key: the manufacturer's file now looks
      // like a changed signer (RFC 8520 section 13.2), as an impostor's would.
      await sys.network.store.run((r) =>
        r.mudSigners.pin(mudUrl, { signer: 'another-key', subject: 'CN=Someone Else' }, new Date()),
      );
      const before = await tableText();
      expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_MUD_SIGNER_CHANGED');
      expect(await agent.onboardingCredentials()).toBeUndefined();
      expect((await sys.network.inventory.device(serial)).ldevid_serial).toBeNull();
      const refusal = (await sys.network.inventory.events(serial)).at(-1)!;
      expect(refusal).toMatchObject({
        action: 'device intent',
        outcome: 'refused',
        code: 'ERR_MUD_SIGNER_CHANGED',
      });
      expect(await sys.network.store.run((r) => r.intent.device(serial))).toBeUndefined();
      expect(await tableText()).toBe(before);
    });

    it('decommissioning removes every trace of the device from the ruleset', async () => {
      const serial = await onlySerial();
      await sys.network.intent!.quarantine(serial, 'test');
      await sys.network.intent!.forget(serial);
      // Nothing names its address but the pool it was given from.
      const table = (await nft.table())!.filter(
        (o) => (o as { set?: { name: string } }).set?.name !== 'device_pool4',
      );
      expect(JSON.stringify(table)).not.toContain(`"${DEVICE}"`);
      expect(await sys.network.store.run((r) => r.intent.device(serial))).toBeUndefined();
      expect(await errorCode(() => sys.network.intent!.show(serial))).toBe('ERR_DEVICE_NOT_FOUND');
      // Its address is no device's again: nothing passes, not even to the remediation server.
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    });

    /** sensor-s1's update: its controller, and now CLOUD_B on 443 too (connections it opens). */
    function updatedFile(): string {
      const ace = (name: string, matches: unknown) => ({
        name,
        matches,
        actions: { forwarding: 'accept' },
      });
      return JSON.stringify({
        'ietf-mud:mud': {
          'mud-version': 1,
          'cache-validity': 1,
          'is-supported': true,
          systeminfo: 'sensor-s1, update 2',
          'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
          'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'in' }] } },
        },
        'ietf-access-control-list:acls': {
          acl: [
            {
              name: 'out',
              type: 'ipv4-acl-type',
              aces: {
                ace: [
                  ace('controller', { 'ietf-mud:mud': { 'my-controller': [null] } }),
                  ace('b', {
                    ipv4: { protocol: 6, 'destination-ipv4-network': `${CLOUD_B}/32` },
                    tcp: {
                      'ietf-mud:direction-initiated': 'from-device',
                      'destination-port': { operator: 'eq', port: 443 },
                    },
                  }),
                ],
              },
            },
            {
              name: 'in',
              type: 'ipv4-acl-type',
              aces: { ace: [ace('controller', { 'ietf-mud:mud': { 'my-controller': [null] } })] },
            },
          ],
        },
      });
    }

    /** The serial of the device at DEVICE. */
    async function onlySerial(): Promise<string> {
      const rows = await sys.network.store.run((r) => r.intent.all());
      return rows.find((r) => r.address === DEVICE)!.serial;
    }
  },
);
