/**
 * The manufacturer's intent file server (report section 5.1.1 step 4): the MUD URL a device's
 * birth certificate carries resolves to its model's MUD file, fetched by the network's hardened
 * client, and the file's detached signature verifies against the manufacturer's MUD CA, a CA
 * of that purpose alone.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { MudFetcher } from '../../src/adapters/http/mud-fetcher.js';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toPem } from '../../src/core/bytes.js';
import { parseMud } from '../../src/protocols/mud/parse.js';
import { verifyMudSignature } from '../../src/protocols/mud/signature.js';
import { compileProfile } from '../../src/protocols/mud/compile.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { AirlockError } from '../../src/core/errors.js';
import { codeOf } from '../support/errors.js';
import { decodeTrustFile, encodeTrustFile } from '../../src/roles/shared/trust.js';

const crypto = new NodeCrypto();
const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

describe("the manufacturer's MUD files", () => {
  let sys: TestSystem;
  let fetcher: MudFetcher;
  beforeAll(async () => {
    sys = await startTestSystem();
    fetcher = new MudFetcher({
      ca: toPem('CERTIFICATE', sys.manufacturer.pki.root.cert.der),
      allowedPrefixes: ['127.0.0.1/32'],
    });
  });
  afterAll(async () => sys?.close());

  it("the birth certificate's MUD URL resolves to its model's file, signed by the MUD signer", async () => {
    const { agent } = await sys.newDevice({ model: 'sensor-s1' });
    const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
    expect(mudUrl).toMatch(/\/mud\/sensor-s1\.json$/);
    const file = await fetcher.fetchMud(mudUrl);
    const { mud, warnings } = parseMud(file.bytes);
    expect(warnings).toEqual([]);
    expect(mud).toMatchObject({
      url: mudUrl,
      modelName: 'sensor-s1',
      signature: mudUrl.replace(/\.json$/, '.p7s'),
    });
    const signature = await fetcher.fetchSignature(mud.signature!);
    // The anchor a network holds: the MUD CA of the manufacturer's trust file.
    const trust = decodeTrustFile(
      crypto,
      JSON.parse(JSON.stringify(encodeTrustFile(sys.manufacturer.trustBundle()))),
      new Date(),
    );
    const signer = verifyMudSignature(crypto, {
      mud: file.bytes,
      signature: signature.bytes,
      anchors: [trust.mudCa!],
      at: new Date(),
    });
    expect(signer.subject).toMatch(/MUD$/);
    // Its purpose alone: the MASA's and the declarations' CAs do not vouch for it.
    for (const ca of [sys.manufacturer.pki.masaCa.cert, sys.manufacturer.pki.declarationsCa.cert])
      expect(
        codeOf(() =>
          verifyMudSignature(crypto, {
            mud: file.bytes,
            signature: signature.bytes,
            anchors: [ca],
            at: new Date(),
          }),
        ),
      ).toBe('ERR_MUD_SIGNER_UNTRUSTED');
    // The same bytes on every fetch, so that the signature stays theirs.
    expect((await fetcher.fetchMud(mudUrl)).bytes).toEqual(file.bytes);
    // What it says: the network's own controller, and nothing else.
    const profile = compileProfile(mud, 'sensor', {
      controllers: {},
      myController: ['10.0.0.1'],
      localNetworks: [],
    });
    // my-controller each way, and each chain's default deny (the flow recorded, then dropped).
    expect(profile.rules).toBe(8);
  });

  it('airlock intent check fetches it by its URL as the network would, and verifies its signature', async () => {
    const { agent } = await sys.newDevice({ model: 'sensor-s2' });
    const mudUrl = parseCertificateBase64((await agent.birth()).idevidChain[0]!).mudUrl!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-intent-cli-'));
    try {
      const pem = (name: string, der: Uint8Array) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, toPem('CERTIFICATE', der));
        return file;
      };
      const tlsCa = pem('root.pem', sys.manufacturer.pki.root.cert.der);
      const mudCa = pem('mud-ca.pem', sys.manufacturer.pki.mudCa.cert.der);
      const { stdout } = await run(process.execPath, [
        bin,
        'intent',
        'check',
        mudUrl,
        '--ca',
        mudCa,
        '--tls-ca',
        tlsCa,
        '--allow-prefix',
        '127.0.0.1/32',
      ]);
      expect(stdout).toMatch(/^signature: valid, signed by ".* MUD"/);
      expect(stdout).toContain(`valid MUD file for ${mudUrl}`);
      // Without the lab's prefix, loopback is inside the network: not fetched.
      const refused = await run(process.execPath, [
        bin,
        'intent',
        'check',
        mudUrl,
        '--tls-ca',
        tlsCa,
      ]).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(refused?.code).toBe(1);
      expect(refused?.stderr).toMatch(/ERR_MUD_FETCH/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a model never minted, or a name that is not one, is 404', async () => {
    const base = sys.manufacturer.config.mudBaseUrl;
    for (const name of ['never-made.json', 'sensor-s1.txt', '..%2Fkeys.json'])
      try {
        await fetcher.fetchMud(`${base}/${name}`);
        throw new Error(`${name} was served`);
      } catch (e) {
        expect(e, name).toBeInstanceOf(AirlockError);
        expect((e as AirlockError).details.reason, name).toBe('status');
      }
  });
});
