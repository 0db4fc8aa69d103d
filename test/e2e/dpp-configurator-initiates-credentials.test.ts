/**
 * The network's Configurator initiating (docs/DPP.md: `airlock dpp onboard`) to a real
 * wpa_supplicant 2.10 Enrollee that listens over TCP (`DPP_CONTROLLER_START role=enrollee`),
 * with the credentials that take more than a passphrase: sta-dot1x (CSR Needed, then the
 * enrollee's certificate request, answered with an LDevID whose saved certificate and key pass
 * EAP-TLS against FreeRADIUS) and sta-dpp on P-384 (a Connector for its protocol key). The
 * enrollee's URI gives no H: (2.10 writes none); the onboarder gives its address.
 * Needs root, wpa_supplicant/wpa_cli, freeradius and eapol_test: elsewhere it says
 * `skipped: <reason>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FreeRadius } from '../../src/adapters/radius/freeradius.js';
import { toPem } from '../../src/core/bytes.js';
import { decodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { parseCertificate } from '../../src/protocols/x509/certificate.js';
import { freePort } from '../support/dpp.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { eapolTestConfig, freeUdpPort, radiusSkipReason } from '../support/radius.js';
import {
  startWpaSupplicant,
  until,
  networkBlocks,
  wpaSupplicantSkipReason,
  writeSavedEapolConfig,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = radiusSkipReason() ?? wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const SSID = 'airlock-dpp-initiates';
const SECRET = 'a-radius-secret-of-the-initiator-test';

describe.skipIf(skip !== undefined)(
  'the network’s Configurator initiates to a listening wpa_supplicant: sta-dot1x and sta-dpp',
  () => {
    let sys: TestSystem;
    let wpa: WpaSupplicant;
    let radius: FreeRadius;
    let radiusPort: number;
    let port: number;
    beforeAll(async () => {
      sys = await startTestSystem();
      radiusPort = await freeUdpPort();
      radius = await sys.network.startRadius({
        dir: path.join(sys.dir, 'raddb'),
        listen: { address: '127.0.0.1', port: radiusPort },
        clients: ['127.0.0.1'],
        secret: SECRET,
        vlans: { default: 101, quarantine: 999 },
      });
      const dir = path.join(sys.dir, 'wpa');
      fs.mkdirSync(dir, { mode: 0o700 });
      wpa = await startWpaSupplicant(dir, ['update_config=1', 'dpp_config_processing=1']);
      port = await freePort();
      expect(wpa.cli('DPP_CONTROLLER_START', `tcp_port=${port}`, 'role=enrollee')).toBe('OK');
    }, 60_000);
    afterAll(async () => {
      await wpa?.stop();
      await radius?.stop();
      await sys?.close();
    });

    /** A new key of the listening enrollee; the onboarder gives the network its URI and address. */
    async function onboard(curve: string, akm: 'dpp' | 'dot1x', serial: string) {
      const id = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', `curve=${curve}`, `info=SN=${serial}`);
      const uri = wpa.cli('DPP_BOOTSTRAP_GET_URI', id);
      const from = wpa.log().length;
      const before = networkBlocks(fs.readFileSync(wpa.conf, 'utf8')).length;
      const { enrollee, exchange } = await sys.network.dpp.onboard(uri, {
        akm,
        host: '127.0.0.1',
        port,
        ssid: SSID,
      });
      expect(enrollee).toMatchObject({ serial, akm, curve });
      expect(exchange).toMatchObject({ serial, status: 'ok', configurationDelivered: true });
      const events = await until('DPP-CONF-RECEIVED', () =>
        wpa.log().slice(from).includes('DPP-CONF-RECEIVED') ? wpa.log().slice(from) : undefined,
      );
      const text = await until('the block saved', () => {
        const t = fs.readFileSync(wpa.conf, 'utf8');
        return networkBlocks(t).length > before ? t : undefined;
      });
      return { events, text };
    }

    it('sta-dot1x: the listening enrollee sends a CSR when asked; its LDevID passes EAP-TLS', async () => {
      const serial = 'dpp-init-dot1x';
      const { events, text } = await onboard('P-256', 'dot1x', serial);
      const certBag = /DPP-CERTBAG (\S+)/.exec(events)?.[1];
      expect(certBag).toBeDefined();
      const [ldevid, ca] = decodeCertsOnly(certBag!).map((d) => parseCertificate(d));
      const device = await sys.network.inventory.device(serial);
      expect(device).toMatchObject({ state: 'onboarded' });
      expect(ldevid!.serial).toBe(device.ldevid_serial);
      expect(ca!.der).toEqual(sys.network.pki.domainCa.cert.der);

      const block = networkBlocks(text).at(-1)!;
      expect(block.get('client_cert')).toMatch(/blob:\/\/dpp-certs-\d+/);
      const caFile = path.join(sys.dir, 'wpa', 'domain-ca.pem');
      fs.writeFileSync(caFile, toPem('CERTIFICATE', sys.network.pki.domainCa.cert.der));
      // As wpa_supplicant saved it, with the two lines 2.10 leaves to the operator (identity, CA).
      const saved = path.join(sys.dir, 'wpa', 'eapol.conf');
      writeSavedEapolConfig(saved, text, block, { identity: serial, caFile });
      const r = await eapolTestConfig(saved, radiusPort, SECRET);
      expect(r.ok, r.output.slice(-2000)).toBe(true);
      expect(r.vlan).toBe('101');
    });

    it('sta-dpp on P-384: a Connector for the listening enrollee’s protocol key', async () => {
      const serial = 'dpp-init-p384';
      const { events } = await onboard('P-384', 'dpp', serial);
      expect(events).toMatch(/DPP-CONNECTOR \S+/);
      expect(events).toMatch(/DPP-C-SIGN-KEY [0-9a-f]+/);
      expect(await sys.network.inventory.device(serial)).toMatchObject({ state: 'onboarded' });
    });
  },
);
