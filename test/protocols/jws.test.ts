/**
 * src/protocols/jws/compact.ts cross-checked against the `jose` package: each verifies the
 * other's ES256 compact JWS, and each refuses the other's tampered ones.
 */
import * as nodeCrypto from 'node:crypto';
import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/core/bytes.js';
import { NodeCrypto, asNodeKey, generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import {
  decodeCompact,
  payloadJson,
  signCompact,
  verifyCompact,
} from '../../src/protocols/jws/compact.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();

describe('JWS compact ES256 against jose', () => {
  it('jose verifies what Airlock signs', async () => {
    const key = generateP256Key();
    const publicKey = nodeCrypto.createPublicKey({
      key: Buffer.from(key.spki),
      format: 'der',
      type: 'spki',
    });
    const payload = { hello: 'world', n: 42, nested: { 'ietf-voucher:voucher': { nonce: 'abc' } } };
    for (let i = 0; i < 20; i++) {
      const compact = signCompact(
        crypto,
        key,
        { alg: 'ES256', typ: 'voucher-jws+json', x5c: ['AAAA'] },
        { ...payload, i },
      );
      const { payload: got, protectedHeader } = await jose.compactVerify(compact, publicKey, {
        algorithms: ['ES256'],
      });
      expect(JSON.parse(new TextDecoder().decode(got))).toEqual({ ...payload, i });
      expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'voucher-jws+json', x5c: ['AAAA'] });
    }
    // Raw bytes payloads too.
    const raw = signCompact(crypto, key, { alg: 'ES256' }, new Uint8Array([0, 1, 2, 255]));
    expect([...(await jose.compactVerify(raw, publicKey)).payload]).toEqual([0, 1, 2, 255]);
  });

  it('jose refuses Airlock JWS with a changed payload or another key', async () => {
    const key = generateP256Key();
    const other = generateP256Key();
    const publicKey = nodeCrypto.createPublicKey({
      key: Buffer.from(key.spki),
      format: 'der',
      type: 'spki',
    });
    const compact = signCompact(crypto, key, { alg: 'ES256' }, { a: 1 });
    const [h, , s] = compact.split('.') as [string, string, string];
    await expect(
      jose.compactVerify(`${h}.${toBase64Url(utf8('{"a":2}'))}.${s}`, publicKey),
    ).rejects.toThrow();
    const byOther = signCompact(crypto, other, { alg: 'ES256' }, { a: 1 });
    await expect(jose.compactVerify(byOther, publicKey)).rejects.toThrow();
  });

  it('Airlock verifies what jose signs, and refuses it tampered with', async () => {
    const key = generateP256Key();
    const privateKey = asNodeKey(key).keyObject;
    for (let i = 0; i < 20; i++) {
      const body = {
        'ietf-voucher:voucher': {
          'serial-number': `AL-${i}`,
          nonce: toBase64Url(crypto.bytes(16)),
        },
      };
      const compact = await new jose.CompactSign(utf8(JSON.stringify(body)))
        .setProtectedHeader({ alg: 'ES256', typ: 'voucher-jws+json' })
        .sign(privateKey);
      const jws = decodeCompact(compact);
      expect(jws.header).toEqual({ alg: 'ES256', typ: 'voucher-jws+json' });
      expect(codeOf(() => verifyCompact(crypto, jws, key.spki))).toBe('OK');
      expect(payloadJson(jws)).toEqual(body);

      const [h, p, s] = compact.split('.') as [string, string, string];
      const payload = new TextDecoder().decode(fromBase64Url(p)!).replace(`AL-${i}"`, `AL-${i}x"`);
      expect(
        codeOf(() =>
          verifyCompact(crypto, decodeCompact(`${h}.${toBase64Url(utf8(payload))}.${s}`), key.spki),
        ),
      ).toBe('ERR_JWS_SIGNATURE');
      expect(codeOf(() => verifyCompact(crypto, jws, generateP256Key().spki))).toBe(
        'ERR_JWS_SIGNATURE',
      );
    }
  });

  it('Airlock refuses what jose signs with another algorithm, or with critical headers', async () => {
    const { privateKey } = await jose.generateKeyPair('ES384');
    const es384 = await new jose.CompactSign(utf8('{}'))
      .setProtectedHeader({ alg: 'ES384' })
      .sign(privateKey);
    expect(codeOf(() => decodeCompact(es384))).toBe('ERR_JWS_ALGORITHM');
    const hs = await new jose.CompactSign(utf8('{}'))
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new Uint8Array(32));
    expect(codeOf(() => decodeCompact(hs))).toBe('ERR_JWS_ALGORITHM');
    const none = `${toBase64Url(utf8('{"alg":"none"}'))}.${toBase64Url(utf8('{}'))}.`;
    expect(codeOf(() => decodeCompact(none))).toBe('ERR_JWS_ALGORITHM');

    const key = generateP256Key();
    const crit = await new jose.CompactSign(utf8('{}'))
      .setProtectedHeader({ alg: 'ES256', crit: ['b64'], b64: true })
      .sign(asNodeKey(key).keyObject);
    expect(codeOf(() => decodeCompact(crit))).toBe('ERR_JWS_MALFORMED');
  });
});
