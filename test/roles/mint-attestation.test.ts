/**
 * Minting for attestation (docs/ATTESTATION.md): a device of a secure-boot model gets an
 * attestation key certified by the attestation CA; a device of a model without secure boot
 * gets the manufacturer's supply-chain evidence instead, and cannot be minted while nothing
 * of its model is released. Nothing partial is left by a refused mint, and the attestation
 * key is nowhere on the manufacturer's side.
 */
import * as fs from 'node:fs';
import * as nodeCrypto from 'node:crypto';
import * as path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { softwareKeyStore } from '../../src/adapters/crypto/software-key-store.js';
import { silentLogger } from '../../src/adapters/log/logger.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { equalBytes, fromBase64 } from '../../src/core/bytes.js';
import { SecureStoreEntry, type BirthCredentials } from '../../src/core/credentials.js';
import { systemClock } from '../../src/core/ports.js';
import { AirlockSupplyChainClaims } from '../../src/protocols/eat/claims.js';
import { hwmodelOf, oemidOf, ueidOf } from '../../src/protocols/eat/identifiers.js';
import { decodeMeasurements } from '../../src/protocols/eat/measured-component.js';
import { decodeEat, verifyEatSignature } from '../../src/protocols/eat/token.js';
import { signCompact } from '../../src/protocols/jws/compact.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { verifyChain } from '../../src/protocols/x509/chain.js';
import { IDEVID_NOT_AFTER } from '../../src/protocols/x509/profiles.js';
import { checked } from '../../src/protocols/schema.js';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { errorCode } from '../support/errors.js';
import { filesUnder } from '../support/harness.js';
import { randomKek, secretForms, tempDir } from '../support/wire.js';

const crypto = new NodeCrypto();
const sha256 = (b: Uint8Array) => nodeCrypto.createHash('sha256').update(b).digest('base64url');
const image = (text: string) => new TextEncoder().encode(text);

describe('minting for attestation', () => {
  let m: Manufacturer;
  let dir: string;
  const secrets: Array<{ label: string; der: Uint8Array }> = [];

  beforeAll(async () => {
    dir = tempDir('airlock-mint-attestation-');
    m = await Manufacturer.open({
      ctx: { crypto, clock: systemClock, logger: silentLogger },
      databaseFile: path.join(dir, 'manufacturer.db'),
      kek: randomKek(),
      config: { name: 'Attesting Devices Co' },
    });
  });
  afterAll(async () => {
    await m?.close();
  });

  async function mint(model: string, serialNumber?: string) {
    const store = new MemorySecureStore();
    const birth = await m.factory.mint(store, {
      model,
      ...(serialNumber ? { serialNumber } : {}),
    });
    secrets.push({ label: `${birth.serialNumber} IDevID key`, der: fromBase64(birth.idevidKey)! });
    if (birth.attestation)
      secrets.push({ label: `${birth.serialNumber} AK`, der: fromBase64(birth.attestation.key)! });
    return { birth, store };
  }

  it('gives a device of a model with no release an attestation key, certified for it alone', async () => {
    const { birth, store } = await mint('cam-c1', 'SN-AK-1');
    expect(birth.secureBoot).toBe(true);
    expect(birth.firmware).toBeUndefined();
    expect(birth.supplyChainEvidence).toBeUndefined();
    expect(birth.attestation!.chain.length).toBe(2);
    const ak = parseCertificateBase64(birth.attestation!.chain[0]!);
    const ca = parseCertificateBase64(birth.attestation!.chain[1]!);
    expect(ca.der).toEqual(m.pki.attestationCa.cert.der);
    const at = new Date();
    verifyChain(crypto, { leaf: ak, anchors: [m.pki.attestationCa.cert], at });
    verifyChain(crypto, { leaf: ak, intermediates: [ca], anchors: [m.pki.root.cert], at });
    // Certified by the attestation CA, not by the IDevID CA (a birth key cannot pass for an AK).
    expect(() => verifyChain(crypto, { leaf: ak, anchors: [m.pki.idevidCa.cert], at })).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }),
    );
    expect(ak.subjectSerialNumber).toBe('SN-AK-1');
    expect(ak.subject).toBe('2.5.4.5=SN-AK-1, CN=cam-c1, O=Attesting Devices Co');
    expect(ak.isCa).toBe(false);
    expect(ak.keyUsage).toBe(1); // digitalSignature only
    expect(ak.extendedKeyUsage).toBeUndefined();
    expect(ak.notAfter).toEqual(IDEVID_NOT_AFTER);

    // The key is the certificate's, and is not the birth key.
    const key = await softwareKeyStore.importPkcs8(fromBase64(birth.attestation!.key)!);
    expect(equalBytes(key.spki, ak.spki)).toBe(true);
    const idevid = parseCertificateBase64(birth.idevidChain[0]!);
    expect(equalBytes(idevid.spki, ak.spki)).toBe(false);
    const jws = signCompact(crypto, key, { alg: 'ES256' }, { probe: 1 });
    expect(jws.split('.').length).toBe(3);

    // What the device's secure store holds is what mint returned.
    const stored = JSON.parse(
      new TextDecoder().decode((await store.read(SecureStoreEntry.birth))!),
    ) as BirthCredentials;
    expect(stored.attestation).toEqual(birth.attestation);
    expect(stored.secureBoot).toBe(true);
  });

  it('flashes the latest released version: the highest number, never a withdrawn one', async () => {
    for (const v of ['1.0', '2.0', '1.5'])
      await m.firmware.release({ model: 'cam-c2', version: v, imageBytes: image(`c2 ${v}`) });
    await m.firmware.withdraw({ model: 'cam-c2', version: '2.0' });
    const { birth } = await mint('cam-c2');
    expect(birth.firmware).toEqual({ name: 'cam-c2-firmware', version: '1.5' });
    expect(birth.attestation).toBeDefined();
    expect(birth.supplyChainEvidence).toBeUndefined();
  });

  it('gives a device that cannot attest supply-chain evidence from the endorsements signer, and no AK', async () => {
    const digest = sha256(image('plug 3.1'));
    await m.firmware.release({
      model: 'plug-p1',
      version: '3.0',
      imageBytes: image('plug 3.0'),
      secureBoot: false,
    });
    await m.firmware.release({
      model: 'plug-p1',
      version: '3.1',
      name: 'PlugOS',
      imageBytes: image('plug 3.1'),
    });
    const before = Math.floor(Date.now() / 1000);
    const { birth } = await mint('plug-p1', 'SN-PLUG-1');
    expect(birth.secureBoot).toBe(false);
    expect(birth.attestation).toBeUndefined();
    expect(birth.firmware).toEqual({ name: 'PlugOS', version: '3.1' });

    const eat = decodeEat(birth.supplyChainEvidence!);
    const signer = verifyEatSignature(crypto, eat);
    expect(signer.der).toEqual(m.pki.endorsements.cert.der);
    const at = new Date();
    verifyChain(crypto, {
      leaf: signer,
      intermediates: eat.chain.slice(1),
      anchors: [m.pki.endorsementsCa.cert],
      at,
    });
    verifyChain(crypto, {
      leaf: signer,
      intermediates: eat.chain.slice(1),
      anchors: [m.pki.root.cert],
      at,
    });
    // The evidence is the manufacturer's word, not an attestation key's.
    expect(() =>
      verifyChain(crypto, {
        leaf: signer,
        intermediates: eat.chain.slice(1),
        anchors: [m.pki.attestationCa.cert],
        at,
      }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CERT_UNTRUSTED' }));

    const claims = checked(AirlockSupplyChainClaims, eat.json, 'ERR_EAT_MALFORMED');
    const idevid = parseCertificateBase64(birth.idevidChain[0]!);
    expect(claims.ueid).toBe(ueidOf(crypto, idevid.spki));
    expect(claims.oemid).toBe(oemidOf(m.party.id));
    expect(claims.hwmodel).toBe(hwmodelOf(crypto, 'plug-p1'));
    expect(claims.oemboot).toBe(false);
    expect(claims['airlock.serial-number']).toBe('SN-PLUG-1');
    expect(claims.swname).toBe('PlugOS');
    expect(claims.swversion).toEqual(['3.1']);
    expect(decodeMeasurements(claims.measurements)).toEqual([
      { name: 'PlugOS', version: '3.1', digest },
    ]);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.iat).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    expect((eat.json as Record<string, unknown>).eat_nonce).toBeUndefined();
  });

  it('refuses a device of a model without secure boot when nothing of it is released, leaving nothing', async () => {
    await m.firmware.release({
      model: 'plug-p2',
      version: '1',
      imageBytes: image('p2 1'),
      secureBoot: false,
    });
    await m.firmware.withdraw({ model: 'plug-p2', version: '1' });
    const store = new MemorySecureStore();
    expect(
      await errorCode(() => m.factory.mint(store, { model: 'plug-p2', serialNumber: 'SN-P2-1' })),
    ).toBe('ERR_FIRMWARE_UNKNOWN');
    expect(await store.read(SecureStoreEntry.birth)).toBeUndefined();
    expect(
      await m.db.selectFrom('mfg_devices').selectAll().where('serial', '=', 'SN-P2-1').execute(),
    ).toEqual([]);
    expect(
      await m.db
        .selectFrom('mfg_declarations')
        .selectAll()
        .where('serial', '=', 'SN-P2-1')
        .execute(),
    ).toEqual([]);
    // Released again (a new version), the model mints.
    await m.firmware.release({ model: 'plug-p2', version: '1.1', imageBytes: image('p2 1.1') });
    const { birth } = await mint('plug-p2', 'SN-P2-1');
    expect(birth.firmware?.version).toBe('1.1');
  });

  it('erases the birth credentials, attestation key and evidence with them, when the record cannot be written', async () => {
    // The database refuses this one device's record (as a lost race or a full disk would).
    await sql`CREATE TRIGGER refuse_mint BEFORE INSERT ON mfg_devices WHEN NEW.serial = 'SN-FAIL-1' BEGIN SELECT RAISE(ABORT, 'refused'); END`.execute(
      m.db,
    );
    try {
      for (const model of ['cam-c1', 'plug-p1']) {
        const store = new MemorySecureStore();
        await expect(m.factory.mint(store, { model, serialNumber: 'SN-FAIL-1' })).rejects.toThrow(
          /refused/,
        );
        expect(await store.read(SecureStoreEntry.birth)).toBeUndefined();
      }
    } finally {
      await sql`DROP TRIGGER refuse_mint`.execute(m.db);
    }
    expect(
      await m.db
        .selectFrom('mfg_declarations')
        .selectAll()
        .where('serial', '=', 'SN-FAIL-1')
        .execute(),
    ).toEqual([]);
  });

  it('keeps no private key of a device on its side: database and files', async () => {
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    await m.close();
    const files = filesUnder(dir).map((f) => ({ f, bytes: fs.readFileSync(f) }));
    expect(files.length).toBeGreaterThan(0);
    for (const s of secrets)
      for (const form of secretForms(s.label, s.der))
        for (const { f, bytes } of files)
          expect(bytes.includes(form.bytes), `${form.label} in ${f}`).toBe(false);
    m = undefined as unknown as Manufacturer;
  });
});
