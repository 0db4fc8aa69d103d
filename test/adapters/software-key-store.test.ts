import { describe, expect, it } from 'vitest';
import { SoftwareKeyStore } from '../../src/adapters/crypto/software-key-store.js';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import type { PrivateKeyHandle } from '../../src/core/ports.js';
import { errorCode } from '../support/wire.js';

describe('the software key store', () => {
  const keys = new SoftwareKeyStore();
  const crypto = new NodeCrypto();
  const data = new TextEncoder().encode('to be signed');

  it('generates P-256 keys as opaque handles that the Crypto port signs with', async () => {
    const key = await keys.generateP256();
    expect(key.kind).toBe('private-key');
    expect(key.spki.length).toBe(91);
    const sig = crypto.signEs256(key, data);
    expect(crypto.verifyEs256(key.spki, data, sig)).toBe(true);
    expect((await keys.generateP256()).spki).not.toEqual(key.spki);
  });

  it('exports PKCS#8 and imports it back to the same key', async () => {
    const key = await keys.generateP256();
    const der = await keys.exportPkcs8(key);
    expect(der.length).toBe(138);
    const again = await keys.importPkcs8(der);
    expect(again.spki).toEqual(key.spki);
    expect(await keys.exportPkcs8(again)).toEqual(der);
    expect(crypto.verifyEs256(key.spki, data, crypto.signEs256(again, data))).toBe(true);
  });

  it('refuses what is not a PKCS#8 key, and a handle it did not make, with ERR_KEY_MALFORMED', async () => {
    expect(
      await errorCode(() => keys.importPkcs8(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]))),
    ).toBe('ERR_KEY_MALFORMED');
    expect(await errorCode(() => keys.importPkcs8(new Uint8Array()))).toBe('ERR_KEY_MALFORMED');
    const der = await keys.exportPkcs8(await keys.generateP256());
    der[40] = der[40]! ^ 0xff;
    der[100] = der[100]! ^ 0xff;
    expect(await errorCode(() => keys.importPkcs8(der))).toBe('ERR_KEY_MALFORMED');
    const foreign: PrivateKeyHandle = { kind: 'private-key', spki: new Uint8Array(91) };
    expect(await errorCode(() => keys.exportPkcs8(foreign))).toBe('ERR_KEY_MALFORMED');
  });
});
