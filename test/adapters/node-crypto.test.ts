import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateP256Key, NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { p1363ToDer } from '../../src/protocols/x509/ecdsa.js';

describe('NodeCrypto certificate-signature memo', () => {
  it('remembers only exactly what it verified: same key, same bytes, same signature', () => {
    const crypto = new NodeCrypto();
    const key = generateP256Key();
    const other = generateP256Key();
    const data = nodeCrypto.randomBytes(400);
    const sig = p1363ToDer(crypto.signEs256(key, data));
    expect(crypto.verifyEs256(key.spki, data, sig, 'der')).toBe(true);
    expect(crypto.verifyEs256(key.spki, data, sig, 'der')).toBe(true);
    const changed = Buffer.from(data);
    changed[10] = changed[10]! ^ 1;
    expect(crypto.verifyEs256(key.spki, changed, sig, 'der')).toBe(false);
    expect(crypto.verifyEs256(other.spki, data, sig, 'der')).toBe(false);
    const bad = Buffer.from(sig);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    expect(crypto.verifyEs256(key.spki, data, bad, 'der')).toBe(false);
    expect(crypto.verifyEs256(key.spki, data, bad, 'der')).toBe(false);
  });
});
