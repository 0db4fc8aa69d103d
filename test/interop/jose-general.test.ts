/**
 * JWS JSON serializations against `jose`: jose's generalVerify accepts Airlock's General JSON
 * voucher with the x5c key; Airlock verifies jose's GeneralSign and FlattenedSign output; each
 * refuses tampering; repeated member names and unprotected security parameters are refused.
 */
import * as nodeCrypto from 'node:crypto';
import * as jose from 'jose';
import { describe, expect, it } from 'vitest';
import { NodeCrypto, asNodeKey, generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { toBase64Url, utf8 } from '../../src/core/bytes.js';
import { payloadJson, verifyCompact } from '../../src/protocols/jws/compact.js';
import { decodeJws, signGeneral } from '../../src/protocols/jws/json.js';
import {
  decodeVoucherArtifact,
  signVoucherArtifact,
  VOUCHER_JWS_MEDIA_TYPE,
} from '../../src/protocols/voucher/codec.js';
import { manufacturerPki } from '../support/pki.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const voucher = {
  'ietf-voucher:voucher': {
    assertion: 'logged',
    'serial-number': 'AL-7',
    nonce: 'bm9uY2U=',
    'created-on': '2026-01-02T00:00:00Z',
  },
};

describe('JWS General and Flattened JSON against jose', () => {
  it("jose generalVerify accepts Airlock's General JSON voucher with the x5c signer key, and refuses it tampered with", async () => {
    const pki = await manufacturerPki();
    const bytes = signVoucherArtifact(
      crypto,
      VOUCHER_JWS_MEDIA_TYPE,
      pki.masaSigner.key,
      [pki.masaSigner.cert, pki.masaCa.cert],
      voucher,
    );
    const general = JSON.parse(new TextDecoder().decode(bytes)) as jose.GeneralJWSInput;
    expect(Object.keys(general).sort()).toEqual(['payload', 'signatures']);
    expect(general.signatures).toHaveLength(1);
    const x5c = (
      JSON.parse(Buffer.from(general.signatures[0]!.protected!, 'base64url').toString()) as {
        x5c: string[];
      }
    ).x5c;
    const key = await jose.importX509(
      `-----BEGIN CERTIFICATE-----\n${x5c[0]}\n-----END CERTIFICATE-----`,
      'ES256',
    );
    const out = await jose.generalVerify(general, key, { algorithms: ['ES256'] });
    expect(JSON.parse(new TextDecoder().decode(out.payload))).toEqual(voucher);
    expect(out.protectedHeader).toMatchObject({ alg: 'ES256', typ: 'voucher-jws+json' });

    const tampered = {
      ...general,
      payload: toBase64Url(utf8(JSON.stringify({ ...voucher, x: 1 }))),
    };
    await expect(jose.generalVerify(tampered, key)).rejects.toThrow();
    const a = decodeVoucherArtifact(bytes, VOUCHER_JWS_MEDIA_TYPE);
    expect(a.json).toEqual(voucher);
    expect(codeOf(() => a.verify(crypto, a.signerChain[0]!.spki))).toBe('OK');
    expect(
      codeOf(() =>
        decodeVoucherArtifact(utf8(JSON.stringify(tampered)), VOUCHER_JWS_MEDIA_TYPE).verify(
          crypto,
          a.signerChain[0]!.spki,
        ),
      ),
    ).toBe('ERR_JWS_SIGNATURE');
  });

  it('Airlock verifies jose GeneralSign and FlattenedSign output, and refuses it tampered with or with another key', async () => {
    const key = generateP256Key();
    const pk = asNodeKey(key).keyObject;
    const payload = utf8(JSON.stringify(voucher));
    const general = await new jose.GeneralSign(payload)
      .addSignature(pk)
      .setProtectedHeader({ alg: 'ES256', typ: 'voucher-jws+json' })
      .sign();
    const flattened = await new jose.FlattenedSign(payload)
      .setProtectedHeader({ alg: 'ES256' })
      .setUnprotectedHeader({ kid: 'k1' })
      .sign(pk);
    for (const [form, doc] of [
      ['general', general],
      ['flattened', flattened],
    ] as const) {
      const jws = decodeJws(JSON.stringify(doc));
      expect(jws.serialization).toBe(form);
      expect(codeOf(() => verifyCompact(crypto, jws, key.spki))).toBe('OK');
      expect(payloadJson(jws)).toEqual(voucher);
      expect(codeOf(() => verifyCompact(crypto, jws, generateP256Key().spki))).toBe(
        'ERR_JWS_SIGNATURE',
      );
      const changed = { ...doc, payload: toBase64Url(utf8(JSON.stringify({ a: 1 }))) };
      expect(
        codeOf(() => verifyCompact(crypto, decodeJws(JSON.stringify(changed)), key.spki)),
      ).toBe('ERR_JWS_SIGNATURE');
    }
    expect(decodeJws(JSON.stringify(flattened)).unprotectedHeader).toEqual({ kid: 'k1' });
    // jose verifies Airlock's signGeneral with raw bytes too.
    const mine = JSON.parse(
      signGeneral(crypto, key, { alg: 'ES256' }, new Uint8Array([1, 2, 3])),
    ) as jose.GeneralJWSInput;
    const pub = nodeCrypto.createPublicKey({
      key: Buffer.from(key.spki),
      format: 'der',
      type: 'spki',
    });
    expect([...(await jose.generalVerify(mine, pub)).payload]).toEqual([1, 2, 3]);
  });

  it('two signatures, alg or x5c in the unprotected header, a name in both headers: ERR_JWS_MALFORMED', async () => {
    const key = generateP256Key();
    const pk = asNodeKey(key).keyObject;
    const payload = utf8('{"a":1}');
    const two = await new jose.GeneralSign(payload)
      .addSignature(pk)
      .setProtectedHeader({ alg: 'ES256' })
      .addSignature(pk)
      .setProtectedHeader({ alg: 'ES256' })
      .sign();
    expect(codeOf(() => decodeJws(JSON.stringify(two)))).toBe('ERR_JWS_MALFORMED');
    const flat = await new jose.FlattenedSign(payload)
      .setProtectedHeader({ alg: 'ES256' })
      .sign(pk);
    for (const header of [{ alg: 'ES256' }, { x5c: ['AAAA'] }, { typ: 'x' }, { crit: ['b64'] }]) {
      expect(codeOf(() => decodeJws(JSON.stringify({ ...flat, header })))).toBe(
        'ERR_JWS_MALFORMED',
      );
    }
    const withKid = await new jose.FlattenedSign(payload)
      .setProtectedHeader({ alg: 'ES256', kid: 'a' })
      .sign(pk);
    expect(codeOf(() => decodeJws(JSON.stringify({ ...withKid, header: { kid: 'b' } })))).toBe(
      'ERR_JWS_MALFORMED',
    );
    expect(codeOf(() => decodeJws(JSON.stringify({ ...flat, header: { kid: 'b' } })))).toBe('OK');
  });

  it('a repeated member name in the protected header or the payload, at any depth, is ERR_JWS_MALFORMED', () => {
    const key = generateP256Key();
    const sign = (headerText: string, payloadText: string) => {
      const h = toBase64Url(utf8(headerText));
      const p = toBase64Url(utf8(payloadText));
      const s = toBase64Url(crypto.signEs256(key, utf8(`${h}.${p}`)));
      return {
        compact: `${h}.${p}.${s}`,
        general: JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] }),
      };
    };
    const good = sign('{"alg":"ES256"}', '{"a":{"b":1,"c":[{"b":2}]},"b":3}');
    for (const text of [good.compact, good.general]) {
      const jws = decodeJws(text);
      expect(codeOf(() => verifyCompact(crypto, jws, key.spki))).toBe('OK');
      expect(codeOf(() => payloadJson(jws))).toBe('OK');
    }
    // JSON.parse would keep the second alg: it must not get that far.
    for (const header of [
      '{"alg":"ES256","alg":"none"}',
      '{"alg":"none","alg":"ES256"}',
      '{"alg":"ES256","a\\u006cg":"ES256"}',
      '{"alg":"ES256","x":{"y":1,"y":2}}',
    ]) {
      const t = sign(header, '{}');
      expect(
        codeOf(() => decodeJws(t.compact)),
        header,
      ).toBe('ERR_JWS_MALFORMED');
      expect(
        codeOf(() => decodeJws(t.general)),
        header,
      ).toBe('ERR_JWS_MALFORMED');
    }
    for (const payload of [
      '{"ietf-voucher:voucher":{"serial-number":"A","serial-number":"B"}}',
      '{"a":1,"a":1}',
      '{"l":[{"k":1,"k":2}]}',
    ]) {
      const t = sign('{"alg":"ES256"}', payload);
      expect(
        codeOf(() => payloadJson(decodeJws(t.general))),
        payload,
      ).toBe('ERR_JWS_MALFORMED');
      expect(
        codeOf(() => decodeVoucherArtifact(utf8(t.general), VOUCHER_JWS_MEDIA_TYPE)),
        payload,
      ).toBe('ERR_JWS_MALFORMED');
    }
    // Same names in sibling objects, and quotes or backslashes inside strings, are not repeats.
    const tricky = sign('{"alg":"ES256"}', '{"a":"x\\"a\\":1","b":{"a":"\\\\"},"c":{"a":2}}');
    expect(codeOf(() => payloadJson(decodeJws(tricky.compact)))).toBe('OK');
  });
});
