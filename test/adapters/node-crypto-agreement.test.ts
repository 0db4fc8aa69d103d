/**
 * The Crypto port's key agreement and key derivation on node:crypto (what DPP needs): ECDH on
 * the six curves against Node's own ECDH on the other side, points off the curve refused,
 * HMAC (RFC 4231) and HKDF (RFC 5869) against their RFCs' vectors and OpenSSL's HKDF.
 */
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex } from '../../src/core/bytes.js';
import type { EcCurve, HashName } from '../../src/core/ports.js';

const crypto = new NodeCrypto();
const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

const CURVES: [EcCurve, string, number][] = [
  ['P-256', 'prime256v1', 32],
  ['P-384', 'secp384r1', 48],
  ['P-521', 'secp521r1', 66],
  ['brainpoolP256r1', 'brainpoolP256r1', 32],
  ['brainpoolP384r1', 'brainpoolP384r1', 48],
  ['brainpoolP512r1', 'brainpoolP512r1', 64],
];

describe.each(CURVES)('ECDH on %s', (curve, opensslName, fieldLength) => {
  it('agrees with node:crypto ECDH on the other side, either point form', () => {
    for (let i = 0; i < 8; i++) {
      const ours = crypto.ecGenerate(curve);
      expect(ours.curve).toBe(curve);
      expect(ours.publicKey.length).toBe(1 + 2 * fieldLength);
      expect(ours.privateKey.length).toBe(fieldLength);
      const peer = nodeCrypto.createECDH(opensslName);
      peer.generateKeys();
      const x = crypto.ecdh(curve, ours.privateKey, new Uint8Array(peer.getPublicKey()));
      expect(x?.length).toBe(fieldLength);
      expect(toHex(x!)).toBe(peer.computeSecret(ours.publicKey).toString('hex'));
      const compressed = new Uint8Array(peer.getPublicKey(null, 'compressed'));
      expect(toHex(crypto.ecdh(curve, ours.privateKey, compressed)!)).toBe(toHex(x!));
      // the public key is the private key's: Node derives the same point from the scalar
      const again = nodeCrypto.createECDH(opensslName);
      again.setPrivateKey(ours.privateKey);
      expect(toHex(ours.publicKey)).toBe(again.getPublicKey('hex'));
    }
  });

  it('refuses a point off the curve, of the wrong length, or the point at infinity', () => {
    const ours = crypto.ecGenerate(curve);
    const peer = crypto.ecGenerate(curve).publicKey;
    const off = peer.slice();
    off[off.length - 1] = off[off.length - 1]! ^ 1;
    expect(crypto.ecdh(curve, ours.privateKey, off)).toBeUndefined();
    expect(crypto.ecPoint(curve, off)).toBeUndefined();
    expect(crypto.ecdh(curve, ours.privateKey, peer.subarray(0, peer.length - 1))).toBeUndefined();
    expect(crypto.ecdh(curve, ours.privateKey, Uint8Array.of(0))).toBeUndefined();
    // a point of another curve
    const other = curve === 'P-256' ? 'P-384' : 'P-256';
    expect(crypto.ecdh(curve, ours.privateKey, crypto.ecGenerate(other).publicKey)).toBeUndefined();
    // a scalar of zero, and one above the group order
    expect(crypto.ecdh(curve, new Uint8Array(fieldLength), peer)).toBeUndefined();
    expect(crypto.ecdh(curve, new Uint8Array(fieldLength).fill(0xff), peer)).toBeUndefined();
  });

  it('gives the uncompressed form of a compressed point', () => {
    const node = nodeCrypto.createECDH(opensslName);
    node.generateKeys();
    const compressed = new Uint8Array(node.getPublicKey(null, 'compressed'));
    expect(toHex(crypto.ecPoint(curve, compressed)!)).toBe(node.getPublicKey('hex'));
  });
});

describe('HMAC and HKDF', () => {
  it('HMAC: RFC 4231 test case 2', () => {
    const key = new TextEncoder().encode('Jefe');
    const data = new TextEncoder().encode('what do ya want for nothing?');
    expect(toHex(crypto.hmac('sha256', key, data))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(toHex(crypto.hmac('sha384', key, data))).toBe(
      'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
    );
    expect(toHex(crypto.hmac('sha512', key, data))).toBe(
      '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    );
  });

  it('HKDF: RFC 5869 test cases 1 and 3 (SHA-256)', () => {
    const prk1 = crypto.hkdfExtract(
      'sha256',
      hex('000102030405060708090a0b0c'),
      hex('0b'.repeat(22)),
    );
    expect(toHex(prk1)).toBe('077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    expect(toHex(crypto.hkdfExpand('sha256', prk1, hex('f0f1f2f3f4f5f6f7f8f9'), 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    const prk3 = crypto.hkdfExtract('sha256', new Uint8Array(0), hex('0b'.repeat(22)));
    expect(toHex(prk3)).toBe('19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04');
    expect(toHex(crypto.hkdfExpand('sha256', prk3, new Uint8Array(0), 42))).toBe(
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    );
  });

  it.each(['sha256', 'sha384', 'sha512'] as HashName[])(
    'HKDF with %s: Extract then Expand equals OpenSSL HKDF, at every length up to 3 blocks',
    (hash) => {
      const ikm = nodeCrypto.randomBytes(50);
      const salt = nodeCrypto.randomBytes(20);
      const info = nodeCrypto.randomBytes(10);
      const prk = crypto.hkdfExtract(hash, salt, ikm);
      for (const length of [1, 16, 32, 48, 64, 65, 100, 192]) {
        const ours = crypto.hkdfExpand(hash, prk, info, length);
        const openssl = Buffer.from(nodeCrypto.hkdfSync(hash, ikm, salt, info, length));
        expect(toHex(ours)).toBe(openssl.toString('hex'));
      }
      expect(() => crypto.hkdfExpand(hash, prk, info, 256 * 64)).toThrow(RangeError);
    },
  );
});
