/**
 * Airlock's Configurator as the DPP Initiator over TCP, and a real wpa_supplicant 2.10 Enrollee
 * that listens (`DPP_CONTROLLER_START tcp_port=<p> role=enrollee`, its key made by
 * `DPP_BOOTSTRAP_GEN type=qrcode`): Airlock scanned the Enrollee's URI (with an `H:` token naming
 * where it listens), connects, authenticates it, and configures it, sta-psk. wpa_supplicant, with
 * `dpp_config_processing=2` and `update_config=1`, reports DPP-CONF-RECEIVED and writes a network
 * block with the SSID and passphrase Airlock chose to its configuration file. wpa_supplicant runs
 * with `-Dnone -i lo` (no radio) on the host's loopback, its control socket, configuration file
 * and log in a private temporary directory. Needs root and wpa_supplicant/wpa_cli: elsewhere it
 * says `skipped: <reason>`.
 */
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDppTcpConfigurator } from '../../src/adapters/dpp/tcp-initiator.js';
import type { DppOwnBootstrap } from '../../src/protocols/dpp/authentication.js';
import { bootstrappingKeyHash, type DppCurve } from '../../src/protocols/dpp/bootstrapping-key.js';
import type { DppConfigurationRequest } from '../../src/protocols/dpp/configuration.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { bootstrap, crypto, failure, freePort } from '../support/dpp.js';
import {
  startWpaSupplicantInTemp,
  until,
  wpaSupplicantSkipReason,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

/** The network blocks of a wpa_supplicant configuration file, each as its key=value lines. */
function networkBlocks(text: string): Record<string, string>[] {
  const blocks: Record<string, string>[] = [];
  for (const m of text.matchAll(/^network=\{\n([\s\S]*?)^\}/gm)) {
    const block: Record<string, string> = {};
    for (const line of m[1]!.split('\n')) {
      const kv = /^\s*([a-z_]+)=(.*)$/.exec(line);
      if (kv) block[kv[1]!] = kv[2]!;
    }
    blocks.push(block);
  }
  return blocks;
}

describe.skipIf(skip !== undefined)(
  'DPP over TCP: Airlock’s Configurator initiates to a listening wpa_supplicant Enrollee',
  () => {
    let wpa: WpaSupplicant;
    let port: number;

    /** A bootstrapping key of the wpa_supplicant Enrollee on `curve`: its URI, with `H:`. */
    function enrolleeUri(curve: DppCurve): string {
      const id = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', `curve=${curve}`);
      expect(id).toMatch(/^\d+$/);
      const uri = parseDppUri(wpa.cli('DPP_BOOTSTRAP_GET_URI', id));
      // wpa_supplicant 2.10 writes no H: token; the URI the Configurator scans names the host.
      return formatDppUri({ ...uri, host: { address: '127.0.0.1', port } });
    }

    beforeAll(async () => {
      wpa = await startWpaSupplicantInTemp('dppci-', [
        'update_config=1',
        'dpp_config_processing=2',
      ]);
      port = await freePort();
      expect(wpa.cli('DPP_CONTROLLER_START', `tcp_port=${port}`, 'role=enrollee')).toBe('OK');
    });

    afterAll(async () => {
      try {
        wpa.cli('DPP_CONTROLLER_STOP');
      } catch {
        // not started
      }
      await wpa?.stop();
    });

    async function configure(curve: DppCurve, own?: DppOwnBootstrap, uri = enrolleeUri(curve)) {
      const ssid = `airlock-init-${curve}${own ? '-mutual' : ''}`;
      const passphrase = `pass-${curve}-${Math.random().toString(36).slice(2, 10)}`;
      const from = wpa.log().length;
      const asked: DppConfigurationRequest[] = [];
      const result = await runDppTcpConfigurator({
        crypto,
        enrollee: parseDppUri(uri),
        ...(own ? { own } : {}),
        configuration: (request) => {
          asked.push(request);
          return { ssid, passphrase };
        },
      });
      return { result, ssid, passphrase, asked, uri, since: () => wpa.log().slice(from) };
    }

    async function savedNetwork(ssid: string) {
      return until(`the network block of ${ssid}`, () =>
        networkBlocks(fs.readFileSync(wpa.conf, 'utf8')).find((b) => b.ssid === `"${ssid}"`),
      );
    }

    it.each(['P-256', 'P-384', 'P-521', 'BP-256'] as const)(
      'on %s: the Enrollee is authenticated, configured, and saves the network Airlock chose',
      async (curve) => {
        const { result, ssid, passphrase, asked, uri, since } = await configure(curve);
        expect(result.status).toBe('ok');
        expect(result.resultStatus).toBe(0);
        expect(result.configurationDelivered).toBe(true);
        expect(result.enrollee.mutual).toBe(false);
        expect(result.enrollee.keyHash).toBe(
          Buffer.from(bootstrappingKeyHash(crypto, parseDppUri(uri).key.spkiDer)).toString('hex'),
        );
        // wpa_supplicant's Controller names its Enrollee "Test" (conn->name is unset there).
        expect(asked).toHaveLength(1);
        expect(asked[0]).toMatchObject({ netRole: 'sta', wifiTech: 'infra' });
        const events = await until('DPP-CONF-RECEIVED', () =>
          since().includes('DPP-CONF-RECEIVED') ? since() : undefined,
        );
        expect(events).toContain('DPP-AUTH-SUCCESS init=0');
        expect(events).toContain(`DPP-CONFOBJ-SSID ${ssid}`);
        const block = await savedNetwork(ssid);
        expect(block.psk).toBe(`"${passphrase}"`);
        expect(block.key_mgmt).toMatch(/WPA-PSK/);
      },
    );

    it.each(['P-256', 'P-384'] as const)(
      'mutual on %s: the Enrollee scanned the network’s URI and asks for it',
      async (curve) => {
        const own = bootstrap(curve);
        expect(wpa.cli('DPP_QR_CODE', formatDppUri({ version: 2, key: own.spkiDer }))).toMatch(
          /^\d+$/,
        );
        const { result, ssid, passphrase } = await configure(curve, own);
        expect(result.enrollee.mutual).toBe(true);
        expect(result.status).toBe('ok');
        const block = await savedNetwork(ssid);
        expect(block.psk).toBe(`"${passphrase}"`);
      },
    );

    it('a network key on another curve: responder-only, still configured', async () => {
      // The network's key is P-256; this Enrollee's is P-384: no mutual authentication possible.
      const own = bootstrap('P-256');
      expect(wpa.cli('DPP_QR_CODE', formatDppUri({ version: 2, key: own.spkiDer }))).toMatch(
        /^\d+$/,
      );
      const { result } = await configure('P-384', own);
      expect(result.enrollee.mutual).toBe(false);
      expect(result.status).toBe('ok');
    });

    it('a URI of a key the Enrollee does not hold: refused, nothing configured', async () => {
      const other = bootstrap('P-256');
      const uri = formatDppUri({
        version: 2,
        key: other.spkiDer,
        host: { address: '127.0.0.1', port },
      });
      const before = fs.readFileSync(wpa.conf, 'utf8');
      const from = wpa.log().length;
      let asked = false;
      const outcome = await failure(
        runDppTcpConfigurator({
          crypto,
          enrollee: parseDppUri(uri),
          configuration: () => {
            asked = true;
            return { ssid: 'never-given', passphrase: 'never-given-passphrase' };
          },
          idleTimeoutMs: 3_000,
        }),
      );
      // wpa_supplicant ignores a Request for a key it does not hold and closes the connection.
      expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'closed' });
      expect(asked).toBe(false);
      expect(wpa.log().slice(from)).not.toContain('DPP-CONF-RECEIVED');
      expect(fs.readFileSync(wpa.conf, 'utf8')).toBe(before);
    });

    it('nothing to give: Configure Failure, and the Enrollee saves nothing', async () => {
      const uri = enrolleeUri('P-256');
      const before = networkBlocks(fs.readFileSync(wpa.conf, 'utf8')).length;
      const from = wpa.log().length;
      const outcome = await failure(
        runDppTcpConfigurator({
          crypto,
          enrollee: parseDppUri(uri),
          configuration: () => undefined,
        }),
      );
      expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'configure-failure' });
      // wpa_supplicant 2.10's Enrollee reports a failure Status as DPP-FAIL (dpp_conf_resp_rx).
      await until('DPP-FAIL', () =>
        wpa.log().slice(from).includes('DPP-FAIL Configurator rejected configuration')
          ? true
          : undefined,
      );
      expect(wpa.log().slice(from)).not.toContain('DPP-CONF-RECEIVED');
      expect(networkBlocks(fs.readFileSync(wpa.conf, 'utf8'))).toHaveLength(before);
    });
  },
);
