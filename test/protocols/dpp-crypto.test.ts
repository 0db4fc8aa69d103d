/**
 * The DPP Authentication cryptography (src/protocols/dpp/crypto.ts) against wpa_supplicant 2.10:
 * from the keys and nonces of real runs (test/fixtures/interop/dpp/key-schedule-*.json, made by
 * generate-key-schedule.mjs), our functions give the M.x, k1, N.x, k2, L.x, bk, ke, R-auth and
 * I-auth that wpa_supplicant printed, on all six curves, with and without mutual
 * authentication, and wrap and unwrap its four AES-SIV operations to the same bytes. AES-SIV is
 * pinned by RFC 5297's own examples; tampering, other associated data, another key and a
 * point off the curve are each refused with ERR_DPP_AUTH.
 */
import * as fs from 'node:fs';
import * as nodeCrypto from 'node:crypto';
import { aessiv } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import {
  deriveK1,
  deriveK2,
  deriveKe,
  deriveLInitiator,
  deriveLResponder,
  dppCurveParams,
  dppEcdh,
  initiatorAuthTag,
  protocolKeyPoint,
  responderAuthTag,
  unwrapDppData,
  wrapDppData,
} from '../../src/protocols/dpp/crypto.js';
import { parseDppUri, type DppCurve } from '../../src/protocols/dpp/uri.js';
import { codeOf } from '../support/errors.js';
import { interopPath, readInterop } from '../support/interop.js';

const crypto = new NodeCrypto();
const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s/g, ''), 'hex'));

interface KeyPair {
  ecPrivateKey: string;
  privateKey: string;
  publicKey: string;
}
interface Fixture {
  curve: string;
  mutual: boolean;
  responderUri: string;
  initiatorUri?: string;
  keys: {
    responderBootstrap: KeyPair;
    initiatorBootstrap?: KeyPair;
    initiatorProtocol: KeyPair;
    responderProtocol: KeyPair;
  };
  iNonce: string;
  rNonce: string;
  values: Record<'M.x' | 'k1' | 'N.x' | 'k2' | 'bk' | 'ke' | 'R-auth' | 'I-auth', string> & {
    'L.x'?: string;
  };
  aesSiv: {
    frame: string;
    key: 'k1' | 'k2' | 'ke';
    ad: string[];
    cleartext: string;
    ciphertext: string;
  }[];
}

const DPP_CURVE: Record<string, DppCurve> = {
  'P-256': 'P-256',
  'P-384': 'P-384',
  'P-521': 'P-521',
  brainpoolP256r1: 'BP-256',
  brainpoolP384r1: 'BP-384',
  brainpoolP512r1: 'BP-512',
};
const OPENSSL: Record<DppCurve, string> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
  'BP-256': 'brainpoolP256r1',
  'BP-384': 'brainpoolP384r1',
  'BP-512': 'brainpoolP512r1',
};

const files = fs
  .readdirSync(interopPath('dpp'))
  .filter((f) => /^key-schedule-.*\.json$/.test(f))
  .sort();
const fixtures = files.map(
  (f) => [f, JSON.parse(readInterop('dpp', f)) as Fixture] as [string, Fixture],
);

/** The SEC1 point of a URI's bootstrapping key: the BIT STRING at the end of its SPKI. */
function uriPoint(uri: string, curve: DppCurve): Uint8Array {
  const spki = parseDppUri(uri).key.spkiDer;
  const { primeLength } = dppCurveParams(curve);
  return spki.subarray(spki.length - (1 + primeLength));
}

describe('the fixtures', () => {
  it('cover all six curves, and mutual authentication on two', () => {
    const curves = new Set(fixtures.map(([, f]) => DPP_CURVE[f.curve]));
    expect([...curves].sort()).toEqual(['BP-256', 'BP-384', 'BP-512', 'P-256', 'P-384', 'P-521']);
    expect(fixtures.filter(([, f]) => f.mutual).length).toBeGreaterThanOrEqual(2);
  });
});

describe.each(fixtures)('wpa_supplicant run %s', (_file, f) => {
  const curve = DPP_CURVE[f.curve]!;
  const params = dppCurveParams(curve);
  const v = f.values;
  const bR = hex(f.keys.responderBootstrap.privateKey);
  const pI = hex(f.keys.initiatorProtocol.privateKey);
  const pR = hex(f.keys.responderProtocol.privateKey);
  const PI = hex(f.keys.initiatorProtocol.publicKey);
  const PR = hex(f.keys.responderProtocol.publicKey);
  // BR as the Initiator knows it: from the URI it scanned (a compressed point)
  const BR = uriPoint(f.responderUri, curve);
  const bI = f.keys.initiatorBootstrap && hex(f.keys.initiatorBootstrap.privateKey);
  const BI = f.initiatorUri ? uriPoint(f.initiatorUri, curve) : undefined;
  const iNonce = hex(f.iNonce);
  const rNonce = hex(f.rNonce);

  it('has keys whose public points are their private keys’, and the URI carries BR', () => {
    for (const pair of Object.values(f.keys)) {
      const node = nodeCrypto.createECDH(OPENSSL[curve]);
      node.setPrivateKey(hex(pair.privateKey));
      expect(node.getPublicKey('hex')).toBe(pair.publicKey);
    }
    expect(toHex(crypto.ecPoint(params.ecCurve, BR)!)).toBe(f.keys.responderBootstrap.publicKey);
    if (BI)
      expect(toHex(crypto.ecPoint(params.ecCurve, BI)!)).toBe(f.keys.initiatorBootstrap!.publicKey);
    expect(iNonce.length).toBe(params.nonceLength);
    expect(rNonce.length).toBe(params.nonceLength);
    expect(hex(v.k1).length).toBe(params.hashLength);
  });

  it('M.x and k1: M = pI * BR = bR * PI', () => {
    const mx = dppEcdh(crypto, curve, pI, BR);
    expect(toHex(mx)).toBe(v['M.x']);
    expect(toHex(dppEcdh(crypto, curve, bR, PI))).toBe(v['M.x']);
    expect(toHex(deriveK1(crypto, curve, mx))).toBe(v.k1);
  });

  it('N.x and k2: N = pI * PR = pR * PI', () => {
    const nx = dppEcdh(crypto, curve, pI, PR);
    expect(toHex(nx)).toBe(v['N.x']);
    expect(toHex(dppEcdh(crypto, curve, pR, PI))).toBe(v['N.x']);
    expect(toHex(deriveK2(crypto, curve, nx))).toBe(v.k2);
  });

  if (f.mutual) {
    it('L.x: ((bR + pR) mod q) * BI on one side, bI * (BR + PR) on the other', () => {
      expect(toHex(deriveLResponder(crypto, curve, { bR, pR, BI: BI! }))).toBe(v['L.x']);
      expect(toHex(deriveLInitiator(crypto, curve, { bI: bI!, BR, PR }))).toBe(v['L.x']);
    });
  }

  it('bk and ke', () => {
    const { bk, ke } = deriveKe(crypto, curve, {
      iNonce,
      rNonce,
      mx: hex(v['M.x']),
      nx: hex(v['N.x']),
      ...(f.mutual ? { lx: hex(v['L.x']!) } : {}),
    });
    expect(toHex(bk)).toBe(v.bk);
    expect(toHex(ke)).toBe(v.ke);
  });

  it('R-auth and I-auth, BI included only with mutual authentication', () => {
    const input = { iNonce, rNonce, PI, PR, BR, ...(BI ? { BI } : {}) };
    expect(toHex(responderAuthTag(crypto, curve, input))).toBe(v['R-auth']);
    expect(toHex(initiatorAuthTag(crypto, curve, input))).toBe(v['I-auth']);
    // the Protocol Key attribute's x || y form gives the same tags
    const fromAttributes = {
      ...input,
      PI: protocolKeyPoint(curve, PI.subarray(1)),
      PR: protocolKeyPoint(curve, PR.subarray(1)),
    };
    expect(toHex(responderAuthTag(crypto, curve, fromAttributes))).toBe(v['R-auth']);
  });

  it('wraps and unwraps its four AES-SIV operations to the same bytes', () => {
    expect(f.aesSiv.map((op) => op.frame)).toEqual([
      'Authentication Request',
      'Authentication Response',
      'Authentication Response {R-auth}ke',
      'Authentication Confirm {I-auth}ke',
    ]);
    // the first AD is OUI 50 6f 9a, OUI type 1a, crypto suite 01, DPP frame type (0, 1, 2)
    expect(f.aesSiv.map((op) => op.ad[0])).toEqual([
      '506f9a1a0100',
      '506f9a1a0101',
      undefined,
      '506f9a1a0102',
    ]);
    for (const op of f.aesSiv) {
      const key = hex(v[op.key]);
      const ad = op.ad.map(hex);
      expect(toHex(unwrapDppData(key, ad, hex(op.ciphertext))), op.frame).toBe(op.cleartext);
      expect(toHex(wrapDppData(key, ad, hex(op.cleartext))), op.frame).toBe(op.ciphertext);
    }
    // {R-auth}ke carries R-auth, {I-auth}ke I-auth, as their attributes (0x100b, 0x100a)
    expect(f.aesSiv[2]!.cleartext.slice(8)).toBe(v['R-auth']);
    expect(f.aesSiv[0]!.cleartext).toContain(f.iNonce);
  });

  it('refuses the Authentication Request’s Wrapped Data changed in any way', () => {
    const op = f.aesSiv[0]!;
    const key = hex(v.k1);
    const ad = op.ad.map(hex);
    const wrapped = hex(op.ciphertext);
    for (const bit of [0, 7, 8 * 16, 8 * wrapped.length - 1]) {
      const flipped = wrapped.slice();
      flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
      expect(
        codeOf(() => unwrapDppData(key, ad, flipped)),
        `bit ${bit}`,
      ).toBe('ERR_DPP_AUTH');
    }
    const otherHeader = [hex('506f9a1a0101'), ad[1]!];
    expect(codeOf(() => unwrapDppData(key, otherHeader, wrapped))).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => unwrapDppData(key, [ad[0]!], wrapped))).toBe('ERR_DPP_AUTH');
    // one vector of the same bytes is not two vectors
    const joined = [new Uint8Array([...ad[0]!, ...ad[1]!])];
    expect(codeOf(() => unwrapDppData(key, joined, wrapped))).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => unwrapDppData(hex(v.k2), ad, wrapped))).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => unwrapDppData(key, ad, wrapped.subarray(0, 15)))).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => unwrapDppData(key, ad, wrapped.subarray(1)))).toBe('ERR_DPP_AUTH');
  });
});

describe('AES-SIV', () => {
  it('RFC 5297 A.1 (deterministic) and A.2 (nonce as the last AD), through @noble/ciphers and wrapDppData', () => {
    const key1 = hex('fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const ad1 = hex('101112131415161718191a1b1c1d1e1f2021222324252627');
    const pt1 = hex('112233445566778899aabbccddee');
    const out1 = '85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c';
    expect(toHex(aessiv(key1, ad1).encrypt(pt1))).toBe(out1);
    expect(toHex(wrapDppData(key1, [ad1], pt1))).toBe(out1);
    expect(toHex(unwrapDppData(key1, [ad1], hex(out1)))).toBe(toHex(pt1));

    const key2 = hex('7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f');
    const ads2 = [
      hex('00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100'),
      hex('102030405060708090a0'),
      hex('09f911029d74e35bd84156c5635688c0'),
    ];
    const pt2 = hex(
      '7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553',
    );
    const out2 =
      '7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d';
    expect(toHex(aessiv(key2, ...ads2).encrypt(pt2))).toBe(out2);
    expect(toHex(wrapDppData(key2, ads2, pt2))).toBe(out2);
  });

  it.each([32, 48, 64])(
    'round-trips with a %i-octet key; refuses a flipped bit, other AD, another key',
    (n) => {
      const key = crypto.bytes(n);
      const ad = [crypto.bytes(6), crypto.bytes(100)];
      for (const length of [0, 1, 16, 17, 300]) {
        const plaintext = crypto.bytes(length);
        const wrapped = wrapDppData(key, ad, plaintext);
        expect(wrapped.length).toBe(length + 16);
        expect(toHex(unwrapDppData(key, ad, wrapped))).toBe(toHex(plaintext));
        for (let i = 0; i < wrapped.length; i += 5) {
          const bad = wrapped.slice();
          bad[i] = bad[i]! ^ 0x80;
          expect(codeOf(() => unwrapDppData(key, ad, bad))).toBe('ERR_DPP_AUTH');
        }
        const otherAd = [ad[0]!, ad[1]!.slice(1)];
        expect(codeOf(() => unwrapDppData(key, otherAd, wrapped))).toBe('ERR_DPP_AUTH');
        expect(codeOf(() => unwrapDppData(key, [], wrapped))).toBe('ERR_DPP_AUTH');
        expect(codeOf(() => unwrapDppData(crypto.bytes(n), ad, wrapped))).toBe('ERR_DPP_AUTH');
      }
    },
  );

  it('refuses a key that is not 32, 48 or 64 octets', () => {
    expect(codeOf(() => wrapDppData(new Uint8Array(16), [], new Uint8Array(1)))).toBe(
      'ERR_DPP_AUTH',
    );
    expect(codeOf(() => unwrapDppData(new Uint8Array(33), [], new Uint8Array(32)))).toBe(
      'ERR_DPP_AUTH',
    );
  });
});

describe('refusals', () => {
  const p256 = crypto.ecGenerate('P-256');
  const peer = crypto.ecGenerate('P-256').publicKey;

  it('a peer point not on the curve: ERR_DPP_AUTH, reason point', () => {
    const off = peer.slice();
    off[40] = off[40]! ^ 1;
    let error: unknown;
    try {
      dppEcdh(crypto, 'P-256', p256.privateKey, off);
    } catch (e) {
      error = e;
    }
    expect(isAirlockError(error, 'ERR_DPP_AUTH')).toBe(true);
    expect((error as { details: { reason: string } }).details.reason).toBe('point');
    // nothing of the key in the message
    expect((error as Error).message).not.toContain(toHex(p256.privateKey).slice(0, 8));
    // a compressed x with no y on the curve, a P-384 point, a short one, a protocol key attribute
    const noY = new Uint8Array(33);
    noY[0] = 2;
    // the first small x for which no y is on the curve, as OpenSSL says
    for (noY[32] = 1; ; noY[32]++) {
      try {
        nodeCrypto.ECDH.convertKey(noY, 'prime256v1', undefined, undefined, 'uncompressed');
      } catch {
        break;
      }
    }
    expect(codeOf(() => dppEcdh(crypto, 'P-256', p256.privateKey, noY))).toBe('ERR_DPP_AUTH');
    const p384 = crypto.ecGenerate('P-384').publicKey;
    expect(codeOf(() => dppEcdh(crypto, 'P-256', p256.privateKey, p384))).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => dppEcdh(crypto, 'P-256', p256.privateKey, peer.subarray(1)))).toBe(
      'ERR_DPP_AUTH',
    );
    expect(codeOf(() => protocolKeyPoint('P-256', peer))).toBe('ERR_DPP_AUTH');
    const offAttribute = protocolKeyPoint('P-256', off.subarray(1));
    expect(codeOf(() => dppEcdh(crypto, 'P-256', p256.privateKey, offAttribute))).toBe(
      'ERR_DPP_AUTH',
    );
  });

  it('the initiator’s L with a PR off the curve; nonces and secrets of the wrong length', () => {
    const off = peer.slice();
    off[64] = off[64]! ^ 1;
    expect(
      codeOf(() => deriveLInitiator(crypto, 'P-256', { bI: p256.privateKey, BR: peer, PR: off })),
    ).toBe('ERR_DPP_AUTH');
    const n16 = crypto.bytes(16);
    const x32 = crypto.bytes(32);
    expect(
      codeOf(() =>
        deriveKe(crypto, 'P-256', { iNonce: crypto.bytes(24), rNonce: n16, mx: x32, nx: x32 }),
      ),
    ).toBe('ERR_DPP_AUTH');
    expect(codeOf(() => deriveK1(crypto, 'P-384', x32))).toBe('ERR_DPP_AUTH');
    expect(
      codeOf(() =>
        responderAuthTag(crypto, 'P-256', {
          iNonce: n16,
          rNonce: n16,
          PI: peer,
          PR: peer,
          BR: x32,
        }),
      ),
    ).toBe('ERR_DPP_AUTH');
  });
});
