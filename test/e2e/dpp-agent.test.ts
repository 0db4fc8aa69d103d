/**
 * The device agent onboarded over Wi-Fi Easy Connect by the network (docs/DPP.md), both ways,
 * with the DPP key it was minted with:
 *
 * - pre-registered: the network installs the manufacturer's declaration export; the device's
 *   declaration carries its DPP URI, so the owner scans nothing; the device scans the network's
 *   URI and initiates (mutual), receives its own PSK and keeps it in its secure store; the
 *   network records it as its manufacturer's device;
 * - the device listens (`listenForDpp`) and the onboarder gives the network its URI with the
 *   address it listens on (`dpp.onboard`): the network's Configurator initiates and gives it a
 *   Connector, which the device verified and keeps, and which jose verifies with the C-sign key;
 * - a declaration that names another owner pre-registers nothing; a device that is not the one
 *   its URI names (another key) is refused, and nothing is stored on either side.
 * In one process, on loopback: no root needed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import type { DppConfiguratorHandle } from '../../src/roles/network/dpp.js';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { formatDppUri } from '../../src/protocols/dpp/uri.js';
import { errorCode } from '../support/errors.js';

const crypto = new NodeCrypto();

describe('the device agent onboarded over DPP, both ways', () => {
  let sys: TestSystem;
  let dpp: DppConfiguratorHandle;
  beforeAll(async () => {
    sys = await startTestSystem();
    dpp = await sys.network.serveDpp({ port: 0, host: '127.0.0.1', ssid: 'airlock-dpp-agent' });
  }, 60_000);
  afterAll(async () => {
    await dpp?.close();
    await sys?.close();
  });

  it('a device pre-registered from its declaration enrolls by scanning the network’s URI, and keeps its PSK', async () => {
    const d = await sys.newDevice();
    const exported = await sys.manufacturer.declarations.exportFor(sys.network.owner.id);
    const { dppAdded } = await sys.network.importDeclarations({
      ...exported,
      devices: exported.devices.filter((x) => x['serial-number'] === d.serial),
    });
    expect(dppAdded).toEqual([d.serial]);
    const added = (await sys.network.dpp.list()).find((e) => e.serial === d.serial);
    expect(added?.uri).toBe(await d.agent.dppUri());

    const got = await d.agent.enrollByDpp({ uri: dpp.uri, host: '127.0.0.1', port: dpp.port });
    expect(got).toEqual({
      kind: 'sta-psk',
      ssid: 'airlock-dpp-agent',
      mutual: true,
      role: 'initiator',
    });
    const kept = await d.agent.dppConfiguration();
    expect(kept?.passphrase).toMatch(/^[\x20-\x7e]{8,63}$/);
    await sys.network.dpp.idle();
    const device = await sys.network.inventory.device(d.serial);
    expect(device).toMatchObject({ state: 'onboarded', segment: 'default' });
    const trail = await sys.network.inventory.events(d.serial);
    const authenticated = trail.find((e) => e.action.startsWith('dpp mutual authentication'));
    expect(JSON.parse(authenticated!.detail!)).toMatchObject({
      declaredBy: sys.manufacturer.party.name,
    });
    // This network enforces no intent: the step is skipped, and says why.
    expect(JSON.parse(trail.find((e) => e.action === 'intent')!.detail!)).toMatchObject({
      reason: 'the network enforces no device intent',
    });
    expect(JSON.stringify(trail)).not.toContain(kept!.passphrase!);
  });

  it('a DPP device follows the policy’s default segment when a policy is applied', async () => {
    const dppDevices = (await sys.network.inventory.devices()).filter(
      (x) => x.manufacturer === null && x.state === 'onboarded',
    );
    expect(dppDevices.length).toBeGreaterThan(0);
    const applied = await sys.network.authorization.apply(
      'version: 1\ndefaults:\n  segment: iot\nrules:\n  - name: all\n    require:\n      attestation: [affirming, warning, none]\n',
    );
    for (const x of dppDevices) {
      expect(applied.changes).toContainEqual(
        expect.objectContaining({
          serial: x.serial,
          to: { decision: 'allow', segment: 'iot', rule: 'dpp-added-by-owner' },
        }),
      );
      expect(await sys.network.inventory.device(x.serial)).toMatchObject({ segment: 'iot' });
    }
  });

  it('a listening device is configured by the network’s Configurator with a Connector (jose verifies it)', async () => {
    const d = await sys.newDevice();
    let shown = '';
    const listening = d.agent.listenForDpp({
      port: 0,
      onListening: (uri) => (shown = uri),
    });
    while (!shown) await new Promise((r) => setTimeout(r, 10));
    expect(parseDppUri(shown).host?.address).toBe('127.0.0.1');
    const { enrollee, exchange } = await sys.network.dpp.onboard(shown, { akm: 'dpp' });
    expect(enrollee).toMatchObject({ serial: d.serial, akm: 'dpp' });
    expect(exchange).toMatchObject({
      status: 'ok',
      serial: d.serial,
      configurationDelivered: true,
    });
    expect(await listening).toMatchObject({ kind: 'sta-dpp', role: 'responder' });
    const kept = (await d.agent.dppConfiguration())!;
    expect(kept.netAccessKey).toBeDefined();
    const csign = await jose.importJWK({ ...kept.csign, kid: undefined }, 'ES256');
    const { protectedHeader } = await jose.compactVerify(kept.signedConnector!, csign);
    expect(protectedHeader.typ).toBe('dppCon');
    expect(await sys.network.inventory.device(d.serial)).toMatchObject({ state: 'onboarded' });
  });

  it('a declaration naming another owner pre-registers nothing', async () => {
    const d = await sys.newDevice({ sell: false });
    const exported = await sys.manufacturer.declarations.exportFor(sys.manufacturer.party.id);
    const mine = exported.devices.filter((x) => x['serial-number'] === d.serial);
    expect(mine).toHaveLength(1);
    const { dppAdded } = await sys.network.importDeclarations({ ...exported, devices: mine });
    expect(dppAdded).toEqual([]);
    expect((await sys.network.dpp.list()).some((e) => e.serial === d.serial)).toBe(false);
  });

  it('a listener with another key than its URI names is refused: nothing is configured or stored', async () => {
    const d = await sys.newDevice();
    let shown = '';
    const stop = new AbortController();
    const listening = d.agent.listenForDpp({
      port: 0,
      signal: stop.signal,
      onListening: (uri) => (shown = uri),
    });
    while (!shown) await new Promise((r) => setTimeout(r, 10));
    // The onboarder is given a URI with the device's address but another key.
    const other = crypto.ecGenerate('P-256');
    const forged = formatDppUri({
      ...parseDppUri(shown),
      key: encodeBootstrappingKey('P-256', other.publicKey).spkiDer,
      info: 'SN=forged-dpp-device',
    });
    expect(await errorCode(() => sys.network.dpp.onboard(forged, { akm: 'psk' }))).toBe(
      'ERR_DPP_AUTH',
    );
    expect(await d.agent.dppConfiguration()).toBeUndefined();
    await expect(sys.network.inventory.device('forged-dpp-device')).rejects.toThrow();
    // The device is still listening, unconfigured; stopped, it says so.
    stop.abort();
    expect(await errorCode(() => listening)).toBe('ERR_TRANSPORT');
    expect(await d.agent.dppConfiguration()).toBeUndefined();
  });
});
