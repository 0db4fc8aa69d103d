/**
 * Airlock's key path under load: in Node 20, exporting freshly generated P-256 keys as JWK
 * deadlocks within a few thousand keys in most runs. Airlock's generation and import never
 * do that; this generates (and so imports) 25,000 keys through it, several times the few thousand that
 * deadlock the JWK path, and must finish.
 */
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  exportPkcs8,
  generateP256Key,
  importPkcs8,
  NodeCrypto,
} from '../../src/adapters/crypto/node-crypto.js';
import { pkcs8FromRaw } from '../../src/adapters/crypto/p256-encoding.js';

describe('P-256 key generation and import', () => {
  it('survives 25,000 generations and imports', () => {
    const crypto = new NodeCrypto();
    const data = new Uint8Array([1, 2, 3]);
    const seen = new Set<string>();
    for (let i = 0; i < 25_000; i++) {
      // Each generation is an import too: the key reaches node:crypto through its PKCS#8 bytes.
      const key = generateP256Key();
      if (i % 1_250 === 0) {
        const again = importPkcs8(exportPkcs8(key));
        // Now and then, the long way: OpenSSL's own view of the key agrees with ours.
        expect(Buffer.from(again.spki)).toEqual(
          nodeCrypto.createPublicKey(again.keyObject).export({ format: 'der', type: 'spki' }),
        );
        expect(Buffer.from(exportPkcs8(again))).toEqual(
          again.keyObject.export({ format: 'der', type: 'pkcs8' }),
        );
        expect(crypto.verifyEs256(key.spki, data, crypto.signEs256(again, data))).toBe(true);
        seen.add(Buffer.from(key.spki).toString('hex'));
      }
    }
    expect(seen.size).toBe(20);
  }, 900_000);

  it('pads a short scalar and refuses what is not a P-256 key', () => {
    const ecdh = nodeCrypto.createECDH('prime256v1');
    const d = new Uint8Array(32);
    d[31] = 7; // a scalar with 31 leading zero bytes, as ECDH would return it: one byte
    ecdh.setPrivateKey(Buffer.from(d));
    const key = importPkcs8(pkcs8FromRaw(new Uint8Array([7]), new Uint8Array(ecdh.getPublicKey())));
    expect(Buffer.from(exportPkcs8(key))).toEqual(
      key.keyObject.export({ format: 'der', type: 'pkcs8' }),
    );
    expect(() => pkcs8FromRaw(new Uint8Array(33), new Uint8Array(ecdh.getPublicKey()))).toThrow(
      TypeError,
    );
    expect(() => pkcs8FromRaw(d, new Uint8Array(64))).toThrow(TypeError);
  });
});
