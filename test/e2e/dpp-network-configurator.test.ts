/**
 * Wi-Fi Easy Connect in the network role (docs/DPP.md): the owner adds devices by their DPP
 * URI with `airlock network dpp add`; the network runs the DPP Configurator (Network.serveDpp)
 * with its own bootstrapping key; a real wpa_supplicant 2.10 enrollee, on the host's loopback
 * (`-Dnone -i lo`), scans the network's URI and initiates with its own key (`own=`). An added
 * device gets the network's SSID and its own PSK, the one hostapd's key file holds for it, and
 * is in the inventory with its audit trail; an enrollee not added gets nothing, and nothing is
 * stored for it. Needs root and wpa_supplicant/wpa_cli: elsewhere it says `skipped: <reason>`.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { silentLogger } from '../../src/adapters/log/logger.js';
import { systemClock } from '../../src/core/ports.js';
import { openNetwork } from '../../src/app/system.js';
import type { Network } from '../../src/roles/network/index.js';
import type { DppConfiguratorHandle, DppExchangeOutcome } from '../../src/roles/network/dpp.js';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import { DppAttributeId } from '../../src/protocols/dpp/attributes.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppFrameType,
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
} from '../../src/protocols/dpp/frames.js';
import { encodeDppAttributes } from '../../src/protocols/dpp/attributes.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams, wrapDppData } from '../../src/protocols/dpp/crypto.js';
import { initiateAuth, readAuthResponse } from '../../src/protocols/dpp/initiation.js';
import { formatDppUri } from '../../src/protocols/dpp/uri.js';
import { airlock } from '../support/cli.js';
import { tempDir } from '../support/wire.js';
import {
  initiateAsEnrollee,
  startWpaSupplicant,
  until,
  wpaSupplicantSkipReason,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const crypto = new NodeCrypto();
const SSID = 'airlock-dpp-net';

describe.skipIf(skip !== undefined)(
  'the network configures the devices its owner added, over DPP',
  () => {
    const root = tempDir('airlock-dpp-net-');
    const data = path.join(root, 'data');
    const keyFile = path.join(root, 'wpa_psk_file');
    let wpa: WpaSupplicant;
    let network: Network;
    let dpp: DppConfiguratorHandle;
    const outcomes: DppExchangeOutcome[] = [];
    /** The enrollees' bootstrapping keys in wpa_supplicant: A and B are added, C is not. */
    const ids: Record<'A' | 'B' | 'C', string> = { A: '', B: '', C: '' };
    const uris: Record<'A' | 'B' | 'C', string> = { A: '', B: '', C: '' };
    let networkPeer = '';

    const keyHashOf = (uri: string) =>
      Buffer.from(crypto.sha256(parseDppUri(uri).key.spkiDer)).toString('hex');

    beforeAll(async () => {
      expect((await airlock('network', 'init', '--data-dir', data)).code).toBe(0);
      wpa = await startWpaSupplicant(root);
      for (const [name, extra] of [
        ['A', ['info=SN=dpp-e2e-A']],
        ['B', []],
        ['C', []],
      ] as const) {
        ids[name] = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', 'curve=P-256', ...extra);
        expect(ids[name]).toMatch(/^\d+$/);
        uris[name] = wpa.cli('DPP_BOOTSTRAP_GET_URI', ids[name]);
      }
      // The owner's part: add A and B by their URIs.
      for (const name of ['A', 'B'] as const) {
        const added = await airlock(
          'network',
          'dpp',
          'add',
          uris[name],
          '--data-dir',
          data,
          '--json',
        );
        expect(added.code, added.stderr).toBe(0);
      }
      network = await openNetwork(
        { crypto, clock: systemClock, logger: silentLogger },
        data,
        [],
        { ssid: SSID }, // as `airlock network serve --ssid` gives it
        { create: false },
      );
      dpp = await network.serveDpp({
        port: 0,
        host: '127.0.0.1',
        onExchange: (o) => outcomes.push(o),
        idleTimeoutMs: 5_000,
      });
      networkPeer = wpa.cli('DPP_QR_CODE', dpp.uri);
      expect(networkPeer).toMatch(/^\d+$/);
    }, 120_000);

    afterAll(async () => {
      await dpp?.close();
      await network?.close();
      await wpa?.stop();
    });

    /** The enrollee initiates to the network's controller with its own key `own`. */
    async function enroll(own: string) {
      const from = wpa.log().length;
      const seen = outcomes.length;
      expect(initiateAsEnrollee(wpa, networkPeer, dpp.port, own)).toBe('OK');
      const outcome = await until('the exchange recorded', () => outcomes[seen]);
      return { outcome, since: () => wpa.log().slice(from) };
    }

    const passes: Record<string, string> = {};

    it.each(['A', 'B'] as const)(
      'device %s, added by its URI, receives the SSID and its own PSK, the one in the Wi-Fi key file',
      async (name) => {
        const { outcome, since } = await enroll(ids[name]);
        const serial = name === 'A' ? 'dpp-e2e-A' : `dpp-${keyHashOf(uris.B).slice(0, 16)}`;
        expect(outcome).toMatchObject({
          serial,
          authenticated: true,
          mutual: true,
          configurationDelivered: true,
          resultStatus: 0,
          status: 'ok',
          enrolleeBootstrapKeyHash: keyHashOf(uris[name]),
        });
        const events = await until('DPP-CONF-RECEIVED', () =>
          since().includes('DPP-CONF-RECEIVED') ? since() : undefined,
        );
        expect(events).toContain('DPP-AUTH-SUCCESS init=1');
        expect(/DPP-CONFOBJ-SSID (.*)/.exec(events)?.[1]?.trim()).toBe(SSID);
        const hex = /DPP-CONFOBJ-PASS ([0-9a-f]+)/.exec(events)?.[1];
        expect(hex).toBeDefined();
        const pass = Buffer.from(hex!, 'hex').toString('utf8');
        passes[name] = pass;

        const device = await network.inventory.device(serial);
        expect(device).toMatchObject({ state: 'onboarded', onboardings: 1, manufacturer: null });
        expect(device.psk_id).toMatch(/^psk-/);
        await network.writeWifiKeyFile(keyFile);
        const line = fs
          .readFileSync(keyFile, 'utf8')
          .split('\n')
          .find((l) => l.startsWith(`keyid=${device.psk_id} `));
        expect(line?.split(' ').at(-1)).toBe(pass);

        const trail = await network.inventory.events(serial);
        const byAction = (a: string) => trail.find((e) => e.action === a);
        expect(byAction('dpp bootstrapping key added')?.outcome).toBe('ok');
        expect(byAction('attestation')).toMatchObject({ step: 4, outcome: 'skipped' });
        expect(byAction('intent')).toMatchObject({ step: 13, outcome: 'skipped' });
        expect(byAction('authorization policy')).toMatchObject({ step: 8, outcome: 'skipped' });
        expect(
          trail.find((e) => e.step === 7 && e.action.startsWith('dpp mutual authentication'))
            ?.outcome,
        ).toBe('ok');
        const delivered = byAction('dpp configuration delivered (sta-psk)');
        expect(delivered).toMatchObject({ step: 15, outcome: 'ok' });
        expect(JSON.parse(delivered!.detail!)).toMatchObject({ psk: device.psk_id, ssid: SSID });
        // Recorded once the response was sent: after authentication, before the Result.
        expect(trail.indexOf(delivered!)).toBeGreaterThan(
          trail.indexOf(byAction('dpp: configuration protocol keyed (ke)')!),
        );
        const result = byAction('dpp configuration result');
        expect(result?.outcome).toBe('ok');
        expect(JSON.parse(result!.detail!)).toMatchObject({ status: 0, mutual: true });
        // The passphrase is in no event, and not in the database in plain text.
        expect(JSON.stringify(trail)).not.toContain(pass);
        for (const f of fs.readdirSync(data).filter((f) => f.startsWith('network.db')))
          expect(fs.readFileSync(path.join(data, f)).includes(Buffer.from(pass))).toBe(false);
      },
    );

    it('two devices get two different PSKs', () => {
      expect(passes.A).toBeDefined();
      expect(passes.B).toBeDefined();
      expect(passes.A).not.toBe(passes.B);
    });

    it('an enrollee whose URI was not added gets no configuration, and nothing is stored for it', async () => {
      const devicesBefore = (await network.inventory.devices()).length;
      const { outcome, since } = await enroll(ids.C);
      expect(outcome).toMatchObject({
        authenticated: false,
        configurationDelivered: false,
        status: 'failed',
        error: 'ERR_DPP_AUTH',
        reason: 'unknown-enrollee',
        claimedKeyHash: keyHashOf(uris.C),
      });
      expect(outcome.enrolleeBootstrapKeyHash).toBeUndefined();
      expect(outcome.serial).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300));
      expect(since()).not.toContain('DPP-AUTH-SUCCESS');
      expect(since()).not.toContain('DPP-CONF-RECEIVED');
      expect((await network.inventory.devices()).length).toBe(devicesBefore);
      expect((await network.dpp.list()).map((e) => e.keyHash)).not.toContain(keyHashOf(uris.C));
      // The refusal is recorded, with no serial: the key hash it named.
      const refused = await network.db
        .selectFrom('net_events')
        .selectAll()
        .where('device_serial', 'is', null)
        .where('action', '=', 'dpp authentication')
        .execute();
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({ outcome: 'refused', code: 'ERR_DPP_AUTH' });
      expect(JSON.parse(refused[0]!.detail!)).toMatchObject({
        keyHash: keyHashOf(uris.C),
        reason: 'unknown-enrollee',
      });
    });

    it('bogus Requests naming a real device’s key hash write nothing under its serial, and at most one refusal', async () => {
      const serial = 'dpp-e2e-A';
      const trailBefore = (await network.inventory.events(serial)).length;
      const ownHash = crypto.sha256(parseDppUri(dpp.uri).key.spkiDer);
      const bogus = frameDppTcpMessage(
        encodeDppTcpMessage({
          kind: 'dpp',
          frameType: DppFrameType.AUTHENTICATION_REQUEST,
          attributes: [
            { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: ownHash },
            {
              id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH,
              value: Buffer.from(keyHashOf(uris.A), 'hex'),
            },
          ],
        }),
      );
      const seen = outcomes.length;
      const N = 6;
      for (let i = 0; i < N; i++) {
        const socket = net.connect(dpp.port, '127.0.0.1');
        await new Promise<void>((resolve) => {
          socket.on('connect', () => socket.write(bogus));
          socket.on('close', () => resolve());
          socket.on('error', () => resolve());
        });
      }
      await until('the bogus exchanges', () => (outcomes.length >= seen + N ? true : undefined));
      for (const o of outcomes.slice(seen, seen + N)) {
        expect(o).toMatchObject({ authenticated: false, status: 'failed' });
        expect(o.serial).toBeUndefined();
        expect(o.enrolleeBootstrapKeyHash).toBeUndefined();
      }
      expect((await network.inventory.events(serial)).length).toBe(trailBefore);
      const refused = await network.db
        .selectFrom('net_events')
        .selectAll()
        .where('device_serial', 'is', null)
        .where('detail', 'like', `%${keyHashOf(uris.A)}%`)
        .execute();
      expect(refused.length).toBeLessThanOrEqual(1);
    });

    it('a Configuration Request for wi-fi_tech other than infra: Configure Failure, and nothing changes in the database', async () => {
      const pair = crypto.ecGenerate(dppCurveParams('P-256').ecCurve);
      const { spkiDer } = encodeBootstrappingKey('P-256', pair.publicKey);
      const serial = 'dpp-e2e-mesh';
      await network.dpp.add(formatDppUri({ version: 2, key: spkiDer, info: `SN=${serial}` }));
      const trailBefore = (await network.inventory.events(serial)).length;
      const { request, initiation } = initiateAuth(crypto, parseDppUri(dpp.uri).key, {
        own: { curve: 'P-256', privateKey: pair.privateKey, publicKey: pair.publicKey, spkiDer },
      });
      const seen = outcomes.length;
      const socket = net.connect(dpp.port, '127.0.0.1');
      const decoder = new DppTcpDecoder(65535);
      const inbox: DppMessage[] = [];
      socket.on('data', (c: Buffer) => {
        for (const f of decoder.push(new Uint8Array(c))) inbox.push(decodeDppTcpMessage(f));
      });
      socket.on('error', () => undefined);
      const send = (m: DppMessage) => socket.write(frameDppTcpMessage(encodeDppTcpMessage(m)));
      await new Promise((r) => socket.once('connect', r));
      send(request);
      const response = await until('the Authentication Response', () => inbox[0]);
      const { confirm, session } = readAuthResponse(crypto, initiation, response);
      expect(session.mutual).toBe(true);
      send(confirm);
      const eNonce = crypto.bytes(dppCurveParams('P-256').nonceLength);
      const object = JSON.stringify({ name: 'mesh', 'wi-fi_tech': 'mesh', netRole: 'sta' });
      send({
        kind: 'gas-initial-request',
        dialogToken: 7,
        advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
        query: [
          {
            id: DppAttributeId.WRAPPED_DATA,
            value: wrapDppData(
              session.ke,
              [],
              encodeDppAttributes([
                { id: DppAttributeId.ENROLLEE_NONCE, value: eNonce },
                {
                  id: DppAttributeId.CONFIGURATION_ATTRIBUTES_OBJECT,
                  value: new TextEncoder().encode(object),
                },
              ]),
            ),
          },
        ],
      });
      const outcome = await until('the exchange recorded', () => outcomes[seen]);
      // The controller records the exchange as it sends the response: the response may reach
      // this socket a moment later.
      await until('the Configuration Response', () => inbox[1]);
      socket.destroy();
      expect(outcome).toMatchObject({
        serial,
        authenticated: true,
        mutual: true,
        configurationDelivered: false,
        status: 'failed',
      });
      expect(inbox[1]?.kind).toBe('gas-initial-response');
      // No device provisioned, no PSK issued, nothing delivered: only the exchange's error.
      expect((await network.inventory.devices()).map((d) => d.serial)).not.toContain(serial);
      const trail = await network.inventory.events(serial);
      expect(trail.slice(trailBefore).map((e) => e.action)).toEqual(['dpp exchange']);
    });

    it('a device decommissioned gets nothing when it comes back, and its key leaves the key file', async () => {
      await network.decommission('dpp-e2e-A');
      const { outcome, since } = await enroll(ids.A);
      expect(outcome).toMatchObject({
        serial: 'dpp-e2e-A',
        authenticated: true,
        configurationDelivered: false,
        status: 'failed',
        error: 'ERR_REGISTRAR_SEQUENCE',
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(since()).not.toContain('DPP-CONF-RECEIVED');
      expect((await network.inventory.device('dpp-e2e-A')).state).toBe('decommissioned');
      await network.writeWifiKeyFile(keyFile);
      const file = fs.readFileSync(keyFile, 'utf8');
      expect(file).not.toContain(passes.A!);
      expect(file).toContain(passes.B!);
      const trail = await network.inventory.events('dpp-e2e-A');
      expect(trail.at(-1)).toMatchObject({
        action: 'dpp exchange',
        code: 'ERR_REGISTRAR_SEQUENCE',
      });
    });

    it('`airlock network dpp list` names both devices added, and the same key twice is refused', async () => {
      const list = await airlock('network', 'dpp', 'list', '--data-dir', data, '--json');
      expect(list.code).toBe(0);
      expect((JSON.parse(list.stdout) as Array<{ serial: string }>).map((e) => e.serial)).toEqual([
        'dpp-e2e-A',
        `dpp-${keyHashOf(uris.B).slice(0, 16)}`,
        'dpp-e2e-mesh', // added in-process for the wi-fi_tech test
      ]);
      const again = await airlock('network', 'dpp', 'add', uris.A, '--data-dir', data);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('ERR_DPP_DUPLICATE');
    });
  },
);
