/**
 * MUD files written by others (test/fixtures/interop/mud, with their sources): RFC 8520 files
 * of NIST's and osmud's test suites, real device profiles in the pre-RFC form, and two signed
 * files (RFC 8520 section 13). Each is read by Airlock's reader; the signed ones are verified
 * with a test clock against their manufacturer's CA.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { AirlockError } from '../../src/core/errors.js';
import { fromPem } from '../../src/core/bytes.js';
import { parseMud } from '../../src/protocols/mud/parse.js';
import { verifyMudSignature } from '../../src/protocols/mud/signature.js';
import { compileProfile, shortName } from '../../src/protocols/mud/compile.js';
import { baseCommands, fullRuleset } from '../../src/protocols/nftables/intent-ruleset.js';
import type { MudAce } from '../../src/protocols/mud/model.js';
import { parseCertificate } from '../../src/protocols/x509/certificate.js';
import { codeOf } from '../support/errors.js';
import { interopPath } from '../support/interop.js';

const crypto = new NodeCrypto();
const read = (...p: string[]) => new Uint8Array(fs.readFileSync(interopPath('mud', ...p)));
const files = (dir: string) =>
  fs.readdirSync(interopPath('mud', dir)).filter((f) => f.endsWith('.json'));
const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof AirlockError) return e.message;
    throw e;
  }
  throw new Error('expected an AirlockError');
};

/**
 * Written by AnimaGUS-minerva/fountain with the toaster's non-standard key
 * `ietf-acldns:s:qrc-dnsname` (a typo of src-dnsname): refused like the toaster, see below.
 */
const FOUNTAIN_THERMOSTAT = 'fountain-thermostat-example.json';

describe('the MUD corpus', () => {
  it.each(files('rfc8520').filter((f) => f !== FOUNTAIN_THERMOSTAT))(
    'rfc8520/%s is read without a warning but for extensions of other modules',
    (f) => {
      const { mud, warnings } = parseMud(read('rfc8520', f));
      expect(mud.url).toMatch(/^https:\/\//);
      expect(mud.fromDevice.length + mud.toDevice.length).toBeGreaterThan(0);
      for (const w of warnings) expect(w).toMatch(/an extension Airlock does not implement/);
      for (const acl of [...mud.fromDevice, ...mud.toDevice])
        for (const ace of acl.aces) expect(['accept', 'drop', 'reject']).toContain(ace.action);
    },
  );

  it.each(files('legacy'))('legacy/%s (the drafts before RFC 8520) is read, with warnings', (f) => {
    const { mud, warnings } = parseMud(read('legacy', f));
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.some((w) => /pre-RFC|drafts/.test(w))).toBe(true);
    expect(mud.fromDevice.length).toBeGreaterThan(0);
  });

  it('every file read compiles to one rule set whose size does not grow with the devices', () => {
    const ctx = {
      controllers: { 'urn:ietf:params:mud:gateway': ['10.0.0.1'] },
      myController: ['10.0.0.3', 'fd00::3'],
      localNetworks: ['10.0.0.0/8', 'fd00::/8'],
    };
    const profiles = [...files('rfc8520'), ...files('legacy'), 'cisco_Luminaire_150.json'].flatMap(
      (f) => {
        const dir = f.startsWith('cisco')
          ? 'signed'
          : files('rfc8520').includes(f)
            ? 'rfc8520'
            : 'legacy';
        if (f === FOUNTAIN_THERMOSTAT) return [];
        const { mud } = parseMud(read(dir, f));
        return [compileProfile(mud, shortName(`${dir}/${f}`), ctx)];
      },
    );
    expect(profiles).toHaveLength(34);
    const rulesOf = (devices: number) =>
      fullRuleset(
        profiles,
        Array.from({ length: devices }, (_, i) => ({
          address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          profile: profiles[i % profiles.length]!,
        })),
      ).nftables.filter((c) => 'add' in c && 'rule' in (c.add as object)).length;
    expect(rulesOf(1_000)).toBe(rulesOf(10));
    const base = baseCommands().filter((c) => 'add' in c && 'rule' in (c.add as object)).length;
    // The profiles' rules, four dispatch rules each (a packet from or to one of its devices,
    // either family), and the base chains'.
    expect(rulesOf(10)).toBe(profiles.reduce((n, p) => n + p.rules + 4, 0) + base);
  });

  it("reads each of MUD's abstractions, DNS names, ports and direction-initiated as written", () => {
    const first = (f: string, policy: 'fromDevice' | 'toDevice' = 'fromDevice'): MudAce =>
      parseMud(read('rfc8520', f)).mud[policy][0]!.aces[0]!;
    expect(first('mudfile-dns-test.json')).toMatchObject({
      family: 'ipv4',
      protocol: 6,
      destination: { kind: 'dnsname', name: 'www.nist.local' },
      destinationPort: { op: 'eq', port: 80 },
      directionInitiated: 'from-device',
      action: 'accept',
    });
    const kinds = [
      'mudfile-mfg-test.json',
      'mudfile-same-manufacturer-test.json',
      'mudfile-model-test.json',
      'mudfile-local-networks-test.json',
      'mudfile-controllerclass-test.json',
      'mudfile-mycontrollerclass-test.json',
    ].map((f) =>
      parseMud(read('rfc8520', f))
        .mud.fromDevice.flatMap((a) => a.aces)
        .map((a) => a.abstraction?.kind)
        .find((k) => k !== undefined),
    );
    expect(kinds).toEqual([
      'manufacturer',
      'same-manufacturer',
      'model',
      'local-networks',
      'controller',
      'my-controller',
    ]);
  });

  it('the toaster, and fountain\'s thermostat, carry a key no RFC defines: refused, the place named, rather than read as "ICMP to anywhere"', () => {
    for (const [dir, f] of [
      ['signed', 'spec_files_mud_toaster_mud.json'],
      ['rfc8520', FOUNTAIN_THERMOSTAT],
    ] as const) {
      expect(codeOf(() => parseMud(read(dir, f)))).toBe('ERR_MUD_MALFORMED');
      expect(messageOf(() => parseMud(read(dir, f)))).toContain(
        '/ietf-access-control-list:acls/acl[0]/aces/ace[0]/matches/ipv4/ietf-acldns:s:qrc-dnsname',
      );
    }
  });

  describe("the luminaire's detached CMS signature (RFC 8520 section 13)", () => {
    const ca = parseCertificate(
      fromPem(
        fs.readFileSync(interopPath('mud', 'signed', 'cisco_luminaire-cacert.pem'), 'utf8'),
      )[0]!,
    );
    const mud = read('signed', 'cisco_Luminaire_150.json');
    const signature = read('signed', 'cisco_Luminaire_150.p7s');
    const verify = (bytes: Uint8Array, at: string, anchors = [ca], sig = signature) =>
      verifyMudSignature(crypto, { mud: bytes, signature: sig, anchors, at: new Date(at) });

    it('verifies against its CA with a clock before 2019-07-12, and the file it signs is read', () => {
      expect(verify(mud, '2019-01-01T00:00:00Z').subject).toBe(
        'O=Demo Luminaire Manufacturer, CN=luminaire.example.com',
      );
      expect(parseMud(mud).mud.url).toBe('https://luminaire.example.com/Luminaire_150');
    });

    it('fails once its CA has expired (2019-07-12), and with one byte of the file changed', () => {
      expect(codeOf(() => verify(mud, '2019-07-13T00:00:00Z'))).toBe('ERR_MUD_SIGNER_UNTRUSTED');
      const changed = mud.slice();
      changed[100] = changed[100]! ^ 0x01;
      expect(codeOf(() => verify(changed, '2019-01-01T00:00:00Z'))).toBe('ERR_MUD_SIGNATURE');
    });

    it("fails for a signer the anchors do not name: the toaster's signature verifies over its bytes, its signer is not the luminaire's CA", () => {
      const toaster = read('signed', 'spec_files_mud_toaster_mud.json');
      const sig = read('signed', 'spec_files_mud_toaster_mud.json.sig');
      expect(codeOf(() => verify(toaster, '2019-01-01T00:00:00Z', [ca], sig))).toBe(
        'ERR_MUD_SIGNER_UNTRUSTED',
      );
      // The toaster's signature over the luminaire's file: not these bytes.
      expect(codeOf(() => verify(mud, '2019-01-01T00:00:00Z', [ca], sig))).toBe(
        'ERR_MUD_SIGNATURE',
      );
      // Not a SignedData at all; a SignedData with its content inside (a CMS voucher), not detached.
      expect(codeOf(() => verify(mud, '2019-01-01T00:00:00Z', [ca], mud))).toBe(
        'ERR_CMS_MALFORMED',
      );
      const voucher = new Uint8Array(
        fs.readFileSync(interopPath('vouchers', 'cms', 'voucher_00-D0-E5-F2-00-02.pkcs')),
      );
      expect(codeOf(() => verify(mud, '2019-01-01T00:00:00Z', [ca], voucher))).toBe(
        'ERR_CMS_MALFORMED',
      );
    });
  });
});
