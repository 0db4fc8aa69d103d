/**
 * DPP bootstrapping URIs (Wi-Fi Easy Connect section 5.2.1) against what others wrote:
 * hostap's own QR-code parsing cases (accepted and refused as hostap's tests say), URIs that
 * Debian's wpa_supplicant 2.10 generated on all six curves (each parses, names its curve, and
 * hashes to the pkhash wpa_supplicant printed, and formats back to the same string), keys Node
 * made on every curve, and one refusal per rule, each ERR_DPP_URI (naming the token at fault,
 * where one is).
 */
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toBase64, toHex } from '../../src/core/bytes.js';
import { AirlockError } from '../../src/core/errors.js';
import {
  bootstrappingKeyHash,
  formatDppUri,
  parseDppUri,
  type DppCurve,
} from '../../src/protocols/dpp/uri.js';
import { Tag, encodeOid, tlv } from '../../src/protocols/x509/der.js';
import { Oid } from '../../src/protocols/x509/oids.js';
import { codeOf } from '../support/errors.js';
import { readInterop } from '../support/interop.js';

const crypto = new NodeCrypto();
const corpus = JSON.parse(readInterop('dpp', 'dpp_uri_corpus.json')) as {
  valid: string[];
  invalid: string[];
};

/** wpa-supplicant-generated-uris.txt: one block per DPP_BOOTSTRAP_GEN, `name=value` lines. */
const generated = readInterop('dpp', 'wpa-supplicant-generated-uris.txt')
  .split(/\n\s*\n/)
  .filter((block) => block.includes('uri='))
  .map((block) => {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (!line.startsWith('#') && eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return {
      command: block.split('\n')[0]!,
      uri: fields.get('uri')!,
      curve: fields.get('curve')!,
      pkhash: fields.get('pkhash')!,
      mac: fields.get('mac_addr')!,
      info: fields.get('info')!,
    };
  });

const OPENSSL_NAMES: Record<string, DppCurve> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
  brainpoolP256r1: 'BP-256',
  brainpoolP384r1: 'BP-384',
  brainpoolP512r1: 'BP-512',
};

/** The P-256 key of hostap's cases, and an SPKI built from parts. */
const KEY = 'MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=';
const withKey = (tokens: string) => `DPP:${tokens}K:${KEY};;`;
const spki = (curveOid: string, point: Uint8Array) =>
  tlv(
    Tag.SEQUENCE,
    tlv(Tag.SEQUENCE, encodeOid(Oid.ecPublicKey), encodeOid(curveOid)),
    tlv(Tag.BIT_STRING, new Uint8Array([0]), point),
  );
const CURVE_OIDS: Record<DppCurve, string> = {
  'P-256': Oid.secp256r1,
  'P-384': '1.3.132.0.34',
  'P-521': '1.3.132.0.35',
  'BP-256': '1.3.36.3.3.2.8.1.1.7',
  'BP-384': '1.3.36.3.3.2.8.1.1.11',
  'BP-512': '1.3.36.3.3.2.8.1.1.13',
};
/** A fresh key's point on `curve` (OpenSSL's name), uncompressed and compressed. */
function freshPoint(name: string): { uncompressed: Uint8Array; compressed: Uint8Array } {
  const ecdh = nodeCrypto.createECDH(name);
  ecdh.generateKeys();
  return {
    uncompressed: new Uint8Array(ecdh.getPublicKey()),
    compressed: new Uint8Array(ecdh.getPublicKey(undefined, 'compressed')),
  };
}
const refusal = (fn: () => unknown): AirlockError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof AirlockError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
};

describe('DPP URI: hostap test_dpp_qr_code_parsing cases', () => {
  it.each(corpus.valid)('accepts %s', (uri) => {
    expect(codeOf(() => parseDppUri(uri))).toBe('OK');
  });
  it.each(corpus.invalid)('refuses %j', (uri) => {
    expect(codeOf(() => parseDppUri(uri))).toBe('ERR_DPP_URI');
  });
  it('reads what the accepted cases say', () => {
    const [, , compact, short, h4, h4port, h6, h6port, info] = corpus.valid.map(parseDppUri);
    expect(short!.channels).toEqual([1, 2, 3].map((channel) => ({ opClass: 81, channel })));
    expect(compact!.channels).toHaveLength(33);
    expect(compact!.channels!.at(-1)).toEqual({ opClass: 115, channel: 36 });
    expect(h4!.host).toEqual({ address: '192.168.1.1' });
    expect(h4port!.host).toEqual({ address: '192.168.1.1', port: 12345 });
    expect(h6!.host).toEqual({ address: 'fe80::1234:5678:9abc:def0' });
    expect(h6port!.host).toEqual({ address: 'fe80::1234:5678:9abc:def0', port: 12345 });
    expect(h4!.mac).toBe('01:02:03:04:05:06');
    expect(info!.info).toBe('SN=4774LH2b4044');
    expect(parseDppUri(corpus.valid[9]!).info).toBe('');
  });
});

describe("DPP URI: wpa_supplicant's DPP_BOOTSTRAP_GEN output", () => {
  it('holds one URI per curve', () => {
    expect(new Set(generated.map((g) => g.curve))).toEqual(new Set(Object.keys(OPENSSL_NAMES)));
  });
  it.each(generated)('$command', (g) => {
    const uri = parseDppUri(g.uri);
    expect(uri.key.curve).toBe(OPENSSL_NAMES[g.curve]);
    expect(toHex(bootstrappingKeyHash(crypto, uri.key.spkiDer))).toBe(g.pkhash);
    expect(uri.mac ?? '00:00:00:00:00:00').toBe(g.mac);
    expect(uri.info ?? '').toBe(g.info);
    expect(uri.version).toBe(2);
    expect(formatDppUri(uri)).toBe(g.uri);
  });
});

describe('DPP URI: bootstrapping keys on every curve', () => {
  it.each(Object.entries(OPENSSL_NAMES))(
    '%s keys parse in both forms; a point moved off the curve is refused',
    (name, curve) => {
      for (let i = 0; i < 8; i++) {
        const { uncompressed, compressed } = freshPoint(name);
        for (const point of [uncompressed, compressed]) {
          const der = spki(CURVE_OIDS[curve], point);
          const uri = parseDppUri(formatDppUri({ key: der }));
          expect(uri.key.curve).toBe(curve);
          expect(uri.key.spkiDer).toEqual(der);
        }
        const off = uncompressed.slice();
        off[off.length - 1]! ^= 1;
        expect(codeOf(() => formatDppUri({ key: spki(CURVE_OIDS[curve], off) }))).toBe(
          'ERR_DPP_URI',
        );
      }
    },
  );
  it('the hash is SHA-256 of the DER, as Node computes it', () => {
    const der = spki(Oid.secp256r1, freshPoint('prime256v1').compressed);
    expect(toHex(bootstrappingKeyHash(crypto, der))).toBe(
      nodeCrypto.createHash('sha256').update(der).digest('hex'),
    );
  });
});

describe('DPP URI: each rule refused with ERR_DPP_URI, naming its token', () => {
  const p256 = freshPoint('prime256v1');
  const keyOf = (der: Uint8Array) => `DPP:K:${toBase64(der)};;`;
  const wrongLength = p256.uncompressed.subarray(0, 64);
  const cases: Array<[string, string, string | undefined]> = [
    ['a duplicate token', withKey('M:010203040506;M:010203040507;'), 'M'],
    ['a duplicate K', `DPP:K:${KEY};K:${KEY};;`, 'K'],
    ['no K', 'DPP:M:010203040506;;', 'K'],
    ['no final ";;"', `DPP:K:${KEY};`, undefined],
    ['no "DPP:"', `dpp:K:${KEY};;`, undefined],
    ['an empty token', `DPP:M:010203040506;;K:${KEY};;`, undefined],
    ['a token that is not a letter and ":"', withKey('MAC:010203040506;'), undefined],
    ['a lower-case token', withKey('m:010203040506;'), undefined],
    ['a MAC of 11 hex digits', withKey('M:01020304050;'), 'M'],
    ['a MAC that is not hex', withKey('M:01020304050g;'), 'M'],
    ['a MAC with colons', withKey('M:01:02:03:04:05:06;'), 'M'],
    ['channel 256', withKey('C:81/256;'), 'C'],
    ['channel 0', withKey('C:81/0;'), 'C'],
    ['operating class 0', withKey('C:0/1;'), 'C'],
    ['a channel of 4 digits', withKey('C:81/0001;'), 'C'],
    ['a bare channel first', withKey('C:6,81/1;'), 'C'],
    ['an empty channel list', withKey('C:;'), 'C'],
    ['a trailing comma', withKey('C:81/1,;'), 'C'],
    ['version 0', withKey('V:0;'), 'V'],
    ['a version that is not digits', withKey('V:2a;'), 'V'],
    ['a host name', withKey('H:example.com;'), 'H'],
    ['port 0', withKey('H:192.168.1.1:0;'), 'H'],
    ['port 65536', withKey('H:[fe80::1]:65536;'), 'H'],
    ['IPv4 in brackets', withKey('H:[192.168.1.1]:80;'), 'H'],
    ['a control character in I', withKey('I:foo\x01bar;'), 'I'],
    ['a tab in I', withKey('I:foo\tbar;'), 'I'],
    ['a non-ASCII character in I', withKey('I:caf\u00e9;'), 'I'],
    ['a control character in an unknown token', withKey('Z:a\nb;'), 'Z'],
    ['K that is not base64', 'DPP:K:not*base64;;', 'K'],
    ['K in non-canonical base64', `DPP:K:${KEY.replace('kIA=', 'kIB=')};;`, 'K'],
    ['an unknown curve OID (secp256k1)', keyOf(spki('1.3.132.0.10', p256.compressed)), 'K'],
    ['an uncompressed point of the wrong length', keyOf(spki(Oid.secp256r1, wrongLength)), 'K'],
    ['a P-256 point on a P-384 key', keyOf(spki('1.3.132.0.34', p256.uncompressed)), 'K'],
    ['a point at infinity', keyOf(spki(Oid.secp256r1, new Uint8Array([0]))), 'K'],
    [
      'a hybrid point (06)',
      keyOf(
        spki(
          Oid.secp256r1,
          p256.uncompressed.map((b, i) => (i ? b : 6)),
        ),
      ),
      'K',
    ],
    [
      'trailing bytes after the SPKI',
      `DPP:K:${toBase64(new Uint8Array([...Buffer.from(KEY, 'base64'), 0]))};;`,
      'K',
    ],
  ];
  it.each(cases)('%s', (_, uri, token) => {
    const e = refusal(() => parseDppUri(uri));
    expect(e.code).toBe('ERR_DPP_URI');
    if (token) expect(e.details.token).toBe(token);
  });

  it('quotes at most a short, printable piece of the input', () => {
    const e = refusal(() => parseDppUri(`DPP:${'x'.repeat(1000)}\x07;K:${KEY};;`));
    expect(e.message.length).toBeLessThan(160);
    expect(e.message).not.toMatch(/[^\x20-\x7e]/);
    expect(codeOf(() => parseDppUri(`DPP:I:${'a'.repeat(5000)};K:${KEY};;`))).toBe('ERR_DPP_URI');
  });

  it('ignores tokens of other letters, keeping their values', () => {
    const uri = parseDppUri(withKey('B:81,115;Z:anything at all;'));
    expect(uri.unknown).toEqual({ B: '81,115', Z: 'anything at all' });
    expect(formatDppUri(uri)).toBe(`DPP:K:${KEY};;`);
  });
});

describe('DPP URI: formatting', () => {
  const der = Buffer.from(KEY, 'base64');
  it("writes wpa_supplicant's token order, every channel with its class, the MAC compact", () => {
    expect(
      formatDppUri({
        key: new Uint8Array(der),
        host: { address: 'fe80::1', port: 7871 },
        version: 2,
        info: 'SN=1',
        mac: '02:AB:00:00:00:01',
        channels: [
          { opClass: 81, channel: 1 },
          { opClass: 81, channel: 6 },
          { opClass: 115, channel: 36 },
        ],
      }),
    ).toBe(`DPP:C:81/1,81/6,115/36;M:02ab00000001;I:SN=1;V:2;H:[fe80::1]:7871;K:${KEY};;`);
    expect(
      formatDppUri({ key: new Uint8Array(der), host: { address: '10.0.0.1', port: 80 } }),
    ).toBe(`DPP:H:10.0.0.1:80;K:${KEY};;`);
  });
  it.each(corpus.valid)('round-trips %s to the same meaning', (text) => {
    const uri = parseDppUri(text);
    expect(parseDppUri(formatDppUri(uri))).toEqual(uri);
  });
  it.each([
    ['I with ";"', { info: 'a;K:x' }],
    ['I with a line break', { info: 'a\nb' }],
    ['a MAC of five octets', { mac: '02:00:00:00:01' }],
    ['channel 256', { channels: [{ opClass: 81, channel: 256 }] }],
    ['no channels', { channels: [] }],
    ['version 1.5', { version: 1.5 }],
    ['a host name', { host: { address: 'example.com' } }],
    ['port 70000', { host: { address: '10.0.0.1', port: 70000 } }],
  ])('refuses %s', (_, fields) => {
    expect(codeOf(() => formatDppUri({ key: new Uint8Array(der), ...fields }))).toBe('ERR_DPP_URI');
  });
  it('refuses a key whose stated curve is not its own', () => {
    expect(
      codeOf(() => formatDppUri({ key: { spkiDer: new Uint8Array(der), curve: 'BP-256' } })),
    ).toBe('ERR_DPP_URI');
  });
});
