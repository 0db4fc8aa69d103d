/**
 * The credential the network gives each DPP device (docs/DPP.md), taken by a real
 * wpa_supplicant 2.10 enrollee (`-Dnone -i lo`, `dpp_config_processing=1`, `update_config=1`:
 * it writes the network block it is given to its configuration file):
 *
 * - sta-sae: the SSID and the device's own SAE password: key_mgmt SAE, the password stored;
 * - sta-dpp: a Connector for the enrollee's protocol key, signed by the network's C-sign key:
 *   it verifies with jose against the C-sign JWK the object carries; key_mgmt DPP;
 * - sta-dot1x: the enrollee is asked for a CSR (CSR Needed), sends one bound to the exchange,
 *   and receives an LDevID from the domain CA in a certBag; the certificate and key it saved
 *   pass EAP-TLS against FreeRADIUS (eapol_test with the saved network block);
 * - on P-256, P-384, P-521 and brainpoolP256r1: the network authenticates each enrollee
 *   mutually with its own key on the enrollee's curve.
 *
 * Needs root, wpa_supplicant/wpa_cli, freeradius and eapol_test: elsewhere it says
 * `skipped: <reason>`.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jose from 'jose';
import type { FreeRadius } from '../../src/adapters/radius/freeradius.js';
import { toPem } from '../../src/core/bytes.js';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import { decodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { parseCertificate } from '../../src/protocols/x509/certificate.js';
import type { DppConfiguratorHandle, DppExchangeOutcome } from '../../src/roles/network/dpp.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { eapolTestConfig, freeUdpPort, radiusSkipReason } from '../support/radius.js';
import {
  initiateAsEnrollee,
  startWpaSupplicant,
  until,
  networkBlocks,
  wpaSupplicantSkipReason,
  writeSavedEapolConfig,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = radiusSkipReason() ?? wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const SSID = 'airlock-dpp-creds';
const SECRET = 'a-radius-secret-of-the-dpp-test';

describe.skipIf(skip !== undefined)(
  'the credential the network chooses per DPP device, taken by wpa_supplicant',
  () => {
    let sys: TestSystem;
    let dpp: DppConfiguratorHandle;
    let radius: FreeRadius;
    let radiusPort: number;
    let root: string;
    let wpa: WpaSupplicant;
    const outcomes: DppExchangeOutcome[] = [];
    /** wpa_supplicant's peer id of the network's URI, per curve. */
    const networkPeers = new Map<string, string>();

    beforeAll(async () => {
      sys = await startTestSystem();
      root = path.join(sys.dir, 'dpp-creds');
      fs.mkdirSync(root, { mode: 0o700 });
      radiusPort = await freeUdpPort();
      radius = await sys.network.startRadius({
        dir: path.join(sys.dir, 'raddb'),
        listen: { address: '127.0.0.1', port: radiusPort },
        clients: ['127.0.0.1'],
        secret: SECRET,
        vlans: { default: 101, quarantine: 999 },
      });
      dpp = await sys.network.serveDpp({
        port: 0,
        host: '127.0.0.1',
        ssid: SSID,
        onExchange: (o) => outcomes.push(o),
        idleTimeoutMs: 5_000,
      });
      wpa = await startWpaSupplicant(root, ['update_config=1', 'dpp_config_processing=1']);
    }, 120_000);

    afterAll(async () => {
      await wpa?.stop();
      await dpp?.close();
      await radius?.stop();
      await sys?.close();
    });

    /**
     * A new enrollee key on `curve` in wpa_supplicant, added to the network with `akm`; the
     * enrollee initiates with it to the network's controller, on the network's key of its
     * curve. Returns the exchange as the network recorded it, the log since, and the block.
     */
    async function enroll(curve: string, akm: 'psk' | 'sae' | 'dpp' | 'dot1x', serial: string) {
      const own = wpa.cli(
        'DPP_BOOTSTRAP_GEN',
        'type=qrcode',
        `curve=${curve}`,
        `info=SN=${serial}`,
      );
      expect(own).toMatch(/^\d+$/);
      const uri = wpa.cli('DPP_BOOTSTRAP_GET_URI', own);
      const added = await sys.network.dpp.add(uri, { akm });
      expect(added).toMatchObject({ serial, akm, curve });
      let peer = networkPeers.get(curve);
      if (!peer) {
        peer = wpa.cli('DPP_QR_CODE', await sys.network.dpp.uri(curve as never));
        expect(peer).toMatch(/^\d+$/);
        networkPeers.set(curve, peer);
      }
      const from = wpa.log().length;
      const seen = outcomes.length;
      const blocksBefore = networkBlocks(fs.readFileSync(wpa.conf, 'utf8')).length;
      expect(initiateAsEnrollee(wpa, peer, dpp.port, own)).toBe('OK');
      const outcome = await until('the exchange recorded', () => outcomes[seen]);
      const since = await until('DPP-CONF-RECEIVED', () => {
        const t = wpa.log().slice(from);
        return t.includes('DPP-CONF-RECEIVED') || t.includes('DPP-CONF-FAILED') ? t : undefined;
      });
      const text = await until('the network block saved', () => {
        const t = fs.readFileSync(wpa.conf, 'utf8');
        return networkBlocks(t).length > blocksBefore ? t : undefined;
      });
      const block = networkBlocks(text).at(-1)!;
      return { outcome, since, text, block, uri };
    }

    const unquote = (v: string | undefined) => v?.replace(/^"(.*)"$/, '$1');

    it("sta-sae on P-256: the SSID and the device's own SAE password, key_mgmt SAE", async () => {
      const { outcome, since, block } = await enroll('P-256', 'sae', 'dpp-sae-1');
      expect(outcome).toMatchObject({
        serial: 'dpp-sae-1',
        mutual: true,
        configurationDelivered: true,
        resultStatus: 0,
      });
      expect(since).toContain('DPP-CONF-RECEIVED');
      expect(since).toMatch(/DPP-CONFOBJ-AKM sae/);
      expect(unquote(block.get('ssid'))).toBe(SSID);
      expect(block.get('key_mgmt')).toContain('SAE');
      expect(block.get('key_mgmt')).not.toContain('WPA-PSK');
      const pass = unquote(block.get('sae_password') ?? block.get('psk'));
      expect(pass).toMatch(/^[\x20-\x7e]{8,63}$/);
      const device = await sys.network.inventory.device('dpp-sae-1');
      expect(device).toMatchObject({ state: 'onboarded' });
      expect(device.psk_id).toMatch(/^psk-/);
      const trail = await sys.network.inventory.events('dpp-sae-1');
      expect(trail.find((e) => e.action === 'dpp configuration delivered (sta-sae)')?.outcome).toBe(
        'ok',
      );
      expect(JSON.stringify(trail)).not.toContain(pass!);
    });

    for (const curve of ['P-256', 'BP-256'] as const)
      it(`sta-dpp on ${curve}: a Connector for the enrollee's protocol key that verifies with the C-sign key (jose)`, async () => {
        const serial = `dpp-connector-${curve}`;
        const { outcome, since, block } = await enroll(curve, 'dpp', serial);
        expect(outcome).toMatchObject({
          serial,
          mutual: true,
          configurationDelivered: true,
          resultStatus: 0,
        });
        const connector = /DPP-CONNECTOR (\S+)/.exec(since)?.[1];
        const csignDer = /DPP-C-SIGN-KEY ([0-9a-f]+)/.exec(since)?.[1];
        const netAccessKey = /DPP-NET-ACCESS-KEY ([0-9a-f]+)/.exec(since)?.[1];
        expect(connector).toBeDefined();
        expect(csignDer).toBeDefined();
        expect(netAccessKey).toBeDefined();
        expect(block.get('key_mgmt')).toBe('DPP');
        expect(unquote(block.get('ssid'))).toBe(SSID);
        expect(unquote(block.get('dpp_connector'))).toBe(connector);
        // jose verifies the Connector with the C-sign key wpa_supplicant stored (DER SPKI).
        const csign = await jose.importSPKI(
          toPem('PUBLIC KEY', Buffer.from(csignDer!, 'hex')),
          'ES256',
        );
        const { payload, protectedHeader } = await jose.compactVerify(connector!, csign);
        expect(protectedHeader).toMatchObject({ typ: 'dppCon', alg: 'ES256' });
        const body = JSON.parse(Buffer.from(payload).toString('utf8')) as {
          groups: unknown;
          netAccessKey: { crv: string; x: string; y: string };
        };
        expect(body.groups).toEqual([{ groupId: '*', netRole: 'sta' }]);
        expect(body.netAccessKey.crv).toBe(curve);
        // The netAccessKey is the key wpa_supplicant keeps as its own (dpp_netaccesskey).
        const own = createPublicKey(
          createPrivateKey({ key: Buffer.from(netAccessKey!, 'hex'), format: 'der', type: 'sec1' }),
        ).export({ type: 'spki', format: 'der' });
        const point = Buffer.concat([
          Buffer.of(4),
          Buffer.from(body.netAccessKey.x, 'base64url'),
          Buffer.from(body.netAccessKey.y, 'base64url'),
        ]);
        expect(own.subarray(-point.length)).toEqual(point);
        const signedBy = (await sys.network.dpp.csign()).key.publicKey;
        const stored = createPublicKey({
          key: Buffer.from(csignDer!, 'hex'),
          format: 'der',
          type: 'spki',
        }).export({ format: 'jwk' });
        expect(Buffer.from(stored.x!, 'base64url')).toEqual(Buffer.from(signedBy.subarray(1, 33)));
        expect(Buffer.from(stored.y!, 'base64url')).toEqual(Buffer.from(signedBy.subarray(33)));
        // A Connector with one payload octet changed does not verify.
        const [h, p, s] = connector!.split('.');
        const other = Buffer.from(p!, 'base64url');
        other[other.length - 2] = other[other.length - 2]! ^ 1;
        await expect(
          jose.compactVerify(`${h}.${other.toString('base64url')}.${s}`, csign),
        ).rejects.toThrow();
        expect(await sys.network.inventory.device(serial)).toMatchObject({ state: 'onboarded' });
      });

    it('sta-dot1x on P-256: a CSR is asked for and answered with an LDevID; the saved block passes EAP-TLS against FreeRADIUS', async () => {
      const serial = 'dpp-dot1x-1';
      const { outcome, since, block, text } = await enroll('P-256', 'dot1x', serial);
      expect(outcome).toMatchObject({
        serial,
        mutual: true,
        configurationDelivered: true,
        resultStatus: 0,
      });
      expect(since).toContain('DPP-CONF-RECEIVED');
      const certBag = /DPP-CERTBAG (\S+)/.exec(since)?.[1];
      expect(certBag).toBeDefined();
      const certs = decodeCertsOnly(certBag!).map((d) => parseCertificate(d));
      expect(certs).toHaveLength(2);
      const device = await sys.network.inventory.device(serial);
      expect(device).toMatchObject({ state: 'onboarded' });
      expect(certs[0]!.serial).toBe(device.ldevid_serial);
      expect(certs[1]!.der).toEqual(sys.network.pki.domainCa.cert.der);
      expect(block.get('key_mgmt')).toContain('WPA-EAP');
      expect(unquote(block.get('client_cert'))).toMatch(/^blob:\/\/dpp-certs-\d+$/);
      expect(unquote(block.get('private_key'))).toMatch(/^blob:\/\/dpp-key-\d+$/);

      // eapol_test with the saved configuration, but for the two lines 2.10 leaves to the operator.
      const ca = path.join(root, 'domain-ca.pem');
      fs.writeFileSync(ca, toPem('CERTIFICATE', sys.network.pki.domainCa.cert.der));
      const saved = path.join(root, 'eapol-dot1x.conf');
      writeSavedEapolConfig(saved, text, block, { identity: serial, caFile: ca });
      const ok = await eapolTestConfig(saved, radiusPort, SECRET);
      expect(ok.output).toMatch(/SUCCESS/);
      expect(ok.vlan).toBe('101');

      // Under another device's name the same certificate is refused.
      const other = saved.replace('.conf', '-other.conf');
      fs.writeFileSync(
        other,
        fs.readFileSync(saved, 'utf8').replace(`identity="${serial}"`, 'identity="dpp-sae-1"'),
        { mode: 0o600 },
      );
      expect((await eapolTestConfig(other, radiusPort, SECRET)).ok).toBe(false);
    });

    it('P-384 and P-521 enrollees are configured too (sta-psk), each on the network key of its curve', async () => {
      for (const curve of ['P-384', 'P-521']) {
        const serial = `dpp-psk-${curve}`;
        const { outcome, block } = await enroll(curve, 'psk', serial);
        expect(outcome).toMatchObject({
          serial,
          mutual: true,
          configurationDelivered: true,
          resultStatus: 0,
        });
        expect(block.get('key_mgmt')).toContain('WPA-PSK');
        expect(unquote(block.get('ssid'))).toBe(SSID);
        expect(parseDppUri(await sys.network.dpp.uri(curve as never)).key.curve).toBe(curve);
      }
    });
  },
);
