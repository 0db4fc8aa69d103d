/**
 * The device agent as a DPP Enrollee, configured by a real wpa_supplicant 2.10 Configurator,
 * both ways (docs/DPP.md): the device scans the Controller's URI and initiates; or it listens
 * and wpa_supplicant, having scanned the device's URI, initiates to it over TCP. Either way the
 * agent keeps in its secure store the SSID and passphrase wpa_supplicant was given, and
 * wpa_supplicant reports DPP-CONF-SENT. Needs root and wpa_supplicant/wpa_cli: elsewhere it
 * says `skipped: <reason>`.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import {
  initiateAsConfigurator,
  startWpaController,
  startWpaSupplicant,
  until,
  wpaSupplicantSkipReason,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const SSID = 'wpa-configured-net';
const PASSPHRASE = 'given-by-wpa-supplicant';

describe.skipIf(skip !== undefined)(
  'the device agent configured by wpa_supplicant over DPP',
  () => {
    let sys: TestSystem;
    let wpa: WpaSupplicant;
    let configurator: string;
    let port: number;
    beforeAll(async () => {
      sys = await startTestSystem();
      const dir = path.join(sys.dir, 'wpa');
      fs.mkdirSync(dir, { mode: 0o700 });
      wpa = await startWpaSupplicant(dir);
      ({ configurator, port } = await startWpaController(wpa, SSID, PASSPHRASE));
    }, 60_000);
    afterAll(async () => {
      await wpa?.stop();
      await sys?.close();
    });

    it('the device scans the Controller’s URI and initiates: it keeps what wpa_supplicant gave', async () => {
      const d = await sys.newDevice();
      const id = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', 'curve=P-256');
      const uri = wpa.cli('DPP_BOOTSTRAP_GET_URI', id);
      const from = wpa.log().length;
      const got = await d.agent.enrollByDpp({ uri, host: '127.0.0.1', port });
      expect(got).toEqual({ kind: 'sta-psk', ssid: SSID, mutual: false, role: 'initiator' });
      expect(await d.agent.dppConfiguration()).toMatchObject({
        kind: 'sta-psk',
        ssid: SSID,
        passphrase: PASSPHRASE,
      });
      await until('DPP-CONF-SENT', () =>
        wpa.log().slice(from).includes('DPP-CONF-SENT') ? 1 : undefined,
      );
    });

    it('the device listens; wpa_supplicant scanned its URI and initiates: it keeps what it was given', async () => {
      const d = await sys.newDevice();
      let shown = '';
      const listening = d.agent.listenForDpp({ port: 0, onListening: (uri) => (shown = uri) });
      await until('the device listening', () => shown || undefined);
      const peer = wpa.cli('DPP_QR_CODE', shown);
      expect(peer).toMatch(/^\d+$/);
      const devicePort = /H:127\.0\.0\.1:(\d+)/.exec(shown)![1]!;
      const from = wpa.log().length;
      expect(initiateAsConfigurator(wpa, peer, devicePort, configurator, SSID, PASSPHRASE)).toBe(
        'OK',
      );
      expect(await listening).toEqual({
        kind: 'sta-psk',
        ssid: SSID,
        mutual: false,
        role: 'responder',
      });
      expect((await d.agent.dppConfiguration())?.passphrase).toBe(PASSPHRASE);
      await until('DPP-CONF-SENT', () =>
        wpa.log().slice(from).includes('DPP-CONF-SENT') ? 1 : undefined,
      );
    });
  },
);
