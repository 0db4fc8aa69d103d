/**
 * The birth DPP bootstrapping key (docs/DPP.md): minted with the IDevID, its private scalar in
 * the device's birth credentials, its URI (I:SN=<serial>, V:2, K:) in the birth credentials and
 * in every declaration, so the purchaser receives it signed. The device agent reads the key back
 * and it authenticates mutually against a Configurator given the URI from the declaration. A
 * device minted before (no key) says so, ERR_DPP_NO_KEY; a key that does not match its URI is
 * ERR_SECURE_STORE. Declarations without the URI (older ones) still verify.
 */
import * as fs from 'node:fs';
import * as nodeCrypto from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { silentLogger } from '../../src/adapters/log/logger.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { fromBase64, fromUtf8, toBase64, toHex, utf8 } from '../../src/core/bytes.js';
import { SecureStoreEntry, type BirthCredentials } from '../../src/core/credentials.js';
import { systemClock } from '../../src/core/ports.js';
import { decodeCompact, payloadJson } from '../../src/protocols/jws/compact.js';
import { signDeclaration } from '../../src/protocols/declaration/sign.js';
import type { DeclarationBody } from '../../src/protocols/declaration/schema.js';
import { verifyDeclarationChain } from '../../src/protocols/declaration/verify.js';
import {
  checkAuthConfirm,
  respondToAuthRequest,
  type DppOwnBootstrap,
} from '../../src/protocols/dpp/authentication.js';
import {
  bootstrappingKeyHash,
  encodeBootstrappingKey,
} from '../../src/protocols/dpp/bootstrapping-key.js';
import { initiateAuth, readAuthResponse } from '../../src/protocols/dpp/initiation.js';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { dppSerial } from '../../src/roles/network/dpp.js';
import { codeOf, errorCode } from '../support/errors.js';
import { filesUnder, startTestSystem, type TestSystem } from '../support/harness.js';
import { randomKek, secretForms, tempDir } from '../support/wire.js';

const crypto = new NodeCrypto();
const ctx = { crypto, clock: systemClock, logger: silentLogger };
const buyer = { id: 'b'.repeat(43), name: 'Doe Family' };

const bodyOf = (jws: string) =>
  (payloadJson(decodeCompact(jws)) as { 'airlock-declaration': DeclarationBody })[
    'airlock-declaration'
  ];

/** A Configurator's own key, made for the test. */
function configurator(): DppOwnBootstrap {
  const kp = crypto.ecGenerate('P-256');
  return {
    curve: 'P-256',
    privateKey: kp.privateKey,
    publicKey: kp.publicKey,
    spkiDer: encodeBootstrappingKey('P-256', kp.publicKey).spkiDer,
  };
}

describe('the birth DPP bootstrapping key', () => {
  let m: Manufacturer;
  let dir: string;
  const scalars: Array<{ label: string; der: Uint8Array }> = [];

  beforeAll(async () => {
    dir = tempDir('airlock-mint-dpp-');
    m = await Manufacturer.open({
      ctx,
      databaseFile: path.join(dir, 'manufacturer.db'),
      kek: randomKek(),
    });
  });
  afterAll(async () => {
    await m?.close();
  });

  async function mint(serialNumber: string) {
    const store = new MemorySecureStore();
    const birth = await m.factory.mint(store, { model: 'cam-c1', serialNumber });
    scalars.push({ label: `${serialNumber} DPP key`, der: fromBase64(birth.dpp!.privateKey)! });
    return { birth, store, agent: new DeviceAgent(store, ctx) };
  }

  it('mints a P-256 key and its URI, I:SN=<serial>, V:2, into the birth credentials', async () => {
    const { birth, store } = await mint('cam-dpp-1');
    expect(birth.dpp!.curve).toBe('P-256');
    const uri = parseDppUri(birth.dpp!.uri);
    expect(uri.info).toBe('SN=cam-dpp-1');
    expect(uri.version).toBe(2);
    expect(uri.key.curve).toBe('P-256');
    // A compressed point, as wpa_supplicant writes it: 0x39-octet SubjectPublicKeyInfo.
    expect(uri.key.spkiDer.length).toBe(59);
    // The serial the network reads back from it (airlock network dpp add) is the device's.
    const hash = toHex(bootstrappingKeyHash(crypto, uri.key.spkiDer));
    expect(dppSerial(uri.info, hash)).toBe('cam-dpp-1');
    // In the sealed birth record, beside the IDevID key.
    const stored = JSON.parse(fromUtf8((await store.read(SecureStoreEntry.birth))!));
    expect(stored.dpp).toEqual(birth.dpp);
    // Each device its own key.
    const other = await mint('cam-dpp-2');
    expect(other.birth.dpp!.privateKey).not.toBe(birth.dpp!.privateKey);
    expect(other.birth.dpp!.uri).not.toBe(birth.dpp!.uri);
  });

  it('puts the URI, signed, in declaration #0 and in every later one the purchaser receives', async () => {
    const { birth } = await mint('cam-dpp-3');
    const chain = await m.sell(birth.serialNumber, buyer);
    expect(chain).toHaveLength(2);
    expect(bodyOf(chain[0]!)['dpp-uri']).toBe(birth.dpp!.uri);
    const verified = verifyDeclarationChain(crypto, chain, {
      declarationAnchors: [m.pki.declarationsCa.cert],
      manufacturerId: m.party.id,
      at: new Date(),
      serialNumber: birth.serialNumber,
    });
    expect(verified.latest.owner).toEqual(buyer);
    expect(verified.latest['dpp-uri']).toBe(birth.dpp!.uri);
    // What the purchaser's network gets in the export file, too.
    const exported = await m.declarations.exportFor(buyer.id);
    const entry = exported.devices.find((d) => d['serial-number'] === birth.serialNumber)!;
    expect(bodyOf(entry.chain.at(-1)!)['dpp-uri']).toBe(birth.dpp!.uri);
  });

  it('is read back by the agent, and authenticates mutually to a Configurator given the URI of the declaration', async () => {
    const { birth, agent } = await mint('cam-dpp-4');
    const own = await agent.dppBootstrap();
    expect(own.curve).toBe('P-256');
    expect(own.privateKey).toEqual(fromBase64(birth.dpp!.privateKey));
    expect(own.publicKey.length).toBe(65);
    expect(own.publicKey[0]).toBe(0x04);
    expect(own.spkiDer).toEqual(parseDppUri(birth.dpp!.uri).key.spkiDer);
    // The URI's (compressed) point is the scalar's, y's parity included: OpenSSL's d * G.
    const ecdh = nodeCrypto.createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(own.privateKey));
    expect(Buffer.from(own.publicKey).equals(ecdh.getPublicKey())).toBe(true);
    expect(await agent.dppUri()).toBe(birth.dpp!.uri);

    const chain = await m.sell(birth.serialNumber, buyer);
    const fromDeclaration = parseDppUri(bodyOf(chain.at(-1)!)['dpp-uri']!);
    const conf = configurator();
    const confKey = { curve: conf.curve, spkiDer: conf.spkiDer };
    // The device initiates with its own key (wpa_supplicant's own=), the Configurator knows it.
    const { request, initiation } = initiateAuth(crypto, confKey, { own });
    const { response, pending } = respondToAuthRequest(crypto, conf, request, {
      peers: [{ spkiDer: fromDeclaration.key.spkiDer }],
      requirePeer: true,
    });
    const { confirm, session } = readAuthResponse(crypto, initiation, response);
    expect(session.mutual).toBe(true);
    expect(checkAuthConfirm(crypto, pending, confirm).mutual).toBe(true);
  });

  it('says a device minted before DPP keys has none: ERR_DPP_NO_KEY; its birth credentials read as before', async () => {
    const { birth } = await mint('cam-dpp-5');
    const { dpp: _dpp, ...older } = birth;
    const store = new MemorySecureStore();
    await store.write(SecureStoreEntry.birth, utf8(JSON.stringify(older)));
    const agent = new DeviceAgent(store, ctx);
    expect(await errorCode(() => agent.dppBootstrap())).toBe('ERR_DPP_NO_KEY');
    expect(await errorCode(() => agent.dppUri())).toBe('ERR_DPP_NO_KEY');
    // Its birth credentials read as they did.
    expect((await agent.birth()).serialNumber).toBe('cam-dpp-5');
  });

  it('refuses a key that is not its URI key, or a URI that does not parse: ERR_SECURE_STORE, no key in the message', async () => {
    const { birth } = await mint('cam-dpp-6');
    const { birth: other } = await mint('cam-dpp-7');
    const variants: Array<[string, BirthCredentials['dpp']]> = [
      ['another scalar', { ...birth.dpp!, privateKey: other.dpp!.privateKey }],
      ['another URI', { ...birth.dpp!, uri: other.dpp!.uri }],
      ['a URI that does not parse', { ...birth.dpp!, uri: 'DPP:K:AAAA;;' }],
      ['a short scalar', { ...birth.dpp!, privateKey: toBase64(new Uint8Array(31).fill(1)) }],
      ['not base64', { ...birth.dpp!, privateKey: '!!' }],
    ];
    for (const [what, dpp] of variants) {
      const store = new MemorySecureStore();
      await store.write(SecureStoreEntry.birth, utf8(JSON.stringify({ ...birth, dpp })));
      const agent = new DeviceAgent(store, ctx);
      const e = await agent.dppBootstrap().then(
        () => undefined,
        (x: unknown) => x as Error & { code: string },
      );
      expect(e?.code, what).toBe('ERR_SECURE_STORE');
      for (const key of [birth.dpp!.privateKey, other.dpp!.privateKey])
        expect(e!.message, what).not.toContain(key);
      expect(await errorCode(() => agent.dppUri()), what).toBe('ERR_SECURE_STORE');
    }
  });

  it('verifies declarations without the URI (made before it), and refuses one whose URI does not parse', () => {
    const sign = (extra: Partial<DeclarationBody>) =>
      signDeclaration(crypto, m.pki.declarations.key, [m.pki.declarations.cert], {
        'serial-number': 'old-1',
        sequence: 0,
        previous: null,
        'issued-on': new Date().toISOString(),
        event: 'minted',
        manufacturer: m.party,
        owner: m.party,
        'authorized-onboarders': [],
        ...extra,
      });
    const anchors = { declarationAnchors: [m.pki.declarationsCa.cert], at: new Date() };
    const old = verifyDeclarationChain(crypto, [sign({})], anchors);
    expect(old.latest['dpp-uri']).toBeUndefined();
    expect(
      codeOf(() => verifyDeclarationChain(crypto, [sign({ 'dpp-uri': 'DPP:K:AAAA;;' })], anchors)),
    ).toBe('ERR_DECLARATION_MALFORMED');
  });

  it('keeps no DPP private key on the manufacturer side: database and files', () => {
    expect(scalars.length).toBeGreaterThan(3);
    const files = filesUnder(dir).map((f) => ({ f, bytes: fs.readFileSync(f) }));
    for (const s of scalars)
      // (A 32-octet scalar has no second PEM line: that form is empty, and skipped.)
      for (const form of secretForms(s.label, s.der).filter((x) => x.bytes.length > 0))
        for (const { f, bytes } of files)
          expect(bytes.indexOf(form.bytes), `${form.label} in ${f}`).toBe(-1);
  });
});

describe('a device minted before DPP keys', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('onboards zero-touch as before, with no DPP key in its birth credentials', async () => {
    const { agent, serial } = await sys.newDevice();
    const { dpp: _dpp, ...older } = await agent.birth();
    await agent.store.write(SecureStoreEntry.birth, utf8(JSON.stringify(older)));
    expect(await errorCode(() => agent.dppUri())).toBe('ERR_DPP_NO_KEY');
    const report = await agent.onboard(sys.registrarUrl);
    expect(report.serialNumber).toBe(serial);
    expect((await agent.onboardingCredentials())?.networkOwner.id).toBe(sys.network.owner.id);
  });
});
