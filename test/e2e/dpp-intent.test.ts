/**
 * A DPP device's intent, enforced with packets (docs/DPP.md): a DPP enrollee conveys no MUD
 * URL, so the network takes it from the device's declaration, installed from the
 * manufacturer's export file, which also pre-registered the device (its `dpp-uri`): the owner
 * scans nothing. The device enrolls over DPP with its birth key; before it is given its
 * credential, the network fetches and verifies the MUD file and installs its rules: it reaches
 * its controller and nothing else. The audit trail says where the MUD URL came from.
 * Needs root, ip and nft: elsewhere it says `skipped: <reason>`; CI installs them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../src/adapters/enforcement/nftables.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import type { DppConfiguratorHandle } from '../../src/roles/network/dpp.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import {
  CLOUD_A,
  CLOUD_B,
  DEVICE,
  makeTopology,
  netnsSkipReason,
  type Topology,
} from '../support/netns.js';

const skip = netnsSkipReason();
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip !== undefined)('a DPP device’s intent, from its declaration, enforced', () => {
  let t: Topology;
  let sys: TestSystem;
  let dpp: DppConfiguratorHandle;
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
    dpp = await sys.network.serveDpp({ port: 0, host: '127.0.0.1' });
  }, 60_000);
  afterAll(async () => {
    await dpp?.close();
    await sys?.close();
    t?.close();
  });

  it('pre-registered by its declaration, enrolled over DPP: it reaches its controller and nothing else', async () => {
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
    const { agent, serial } = await sys.newDevice({ model: 'sensor-s1' });
    const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
    const exported = await sys.manufacturer.declarations.exportFor(sys.network.owner.id);
    const { dppAdded } = await sys.network.importDeclarations(exported);
    expect(dppAdded).toEqual([serial]);

    const got = await agent.enrollByDpp({ uri: dpp.uri, host: '127.0.0.1', port: dpp.port });
    expect(got).toMatchObject({ kind: 'sta-psk', mutual: true });
    await sys.network.dpp.idle();

    const trail = await sys.network.inventory.events(serial);
    const steps = trail.filter((e) => e.step !== null && e.step >= 11 && e.step <= 13);
    expect(steps.map((e) => [e.step, e.action, e.outcome])).toEqual([
      [11, 'intent locator', 'ok'],
      [12, 'intent forwarded', 'ok'],
      [13, 'intent enforced', 'ok'],
    ]);
    expect(JSON.parse(steps[0]!.detail!)).toEqual({ 'mud-url': mudUrl, source: 'declaration' });
    expect(JSON.parse(steps[2]!.detail!)).toMatchObject({ address: DEVICE, segment: 'default' });
    // Enforced before the credential was delivered.
    const actions = trail.map((e) => e.action);
    expect(actions.indexOf('intent enforced')).toBeLessThan(
      actions.indexOf('dpp configuration delivered (sta-psk)'),
    );
    expect(await sys.network.intent!.show(serial)).toMatchObject({
      address: DEVICE,
      segment: 'default',
      mudUrl,
    });
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
  });
});
