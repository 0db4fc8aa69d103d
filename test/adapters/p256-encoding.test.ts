import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  jwkFromPkcs8,
  jwkFromSpki,
  pkcs8FromJwk,
  spkiFromJwk,
} from '../../src/adapters/crypto/p256-encoding.js';
import {
  exportPkcs8,
  generateP256Key,
  importPkcs8,
  NodeCrypto,
} from '../../src/adapters/crypto/node-crypto.js';

describe('P-256 key encodings', () => {
  it('are byte for byte what OpenSSL writes', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync('ec', {
        namedCurve: 'P-256',
      });
      const jwk = privateKey.export({ format: 'jwk' });
      expect(Buffer.from(spkiFromJwk(jwk))).toEqual(
        publicKey.export({ format: 'der', type: 'spki' }),
      );
      expect(Buffer.from(pkcs8FromJwk(jwk))).toEqual(
        privateKey.export({ format: 'der', type: 'pkcs8' }),
      );
      const der = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
      expect(jwkFromPkcs8(der)).toEqual({ kty: 'EC', crv: 'P-256', d: jwk.d, x: jwk.x, y: jwk.y });
      expect(
        jwkFromSpki(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))),
      ).toEqual({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
    }
  });

  it('leave other keys to the general path', () => {
    const { privateKey, publicKey } = nodeCrypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
    expect(
      jwkFromPkcs8(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }))),
    ).toBeUndefined();
    expect(
      jwkFromSpki(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))),
    ).toBeUndefined();
    const key = importPkcs8(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' })));
    expect(Buffer.from(key.spki)).toEqual(publicKey.export({ format: 'der', type: 'spki' }));
  });

  it('round-trip through import, export, sign and verify', () => {
    const crypto = new NodeCrypto();
    const key = importPkcs8(exportPkcs8(generateP256Key()));
    const data = new TextEncoder().encode('airlock');
    expect(crypto.verifyEs256(key.spki, data, crypto.signEs256(key, data))).toBe(true);
    expect(crypto.verifyEs256(generateP256Key().spki, data, crypto.signEs256(key, data))).toBe(
      false,
    );
  });
});
