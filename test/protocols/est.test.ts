import { describe, expect, it } from 'vitest';
import { generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr, csrAttributes, decodeCsrBody, verifyCsr } from '../../src/protocols/est/csr.js';
import { decodeCertsOnly, encodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { crypto, manufacturerPki } from '../support/pki.js';
import { toBase64 } from '../../src/core/bytes.js';
import { DerReader, Tag, decodeOid, encodeOid, tlv } from '../../src/protocols/x509/der.js';
import { testCsr, testKey } from '../support/csr.js';

describe('EST (RFC 7030) messages', () => {
  it('verifies a P-256 request built on the device, and binds it to its key', () => {
    const key = generateP256Key();
    const csr = verifyCsr(crypto, decodeCsrBody(toBase64(buildCsr(crypto, key, 'SN-1'))));
    expect(Buffer.from(csr.spki)).toEqual(Buffer.from(key.spki));
  });

  it('refuses a request whose signature does not match its key', () => {
    const der = buildCsr(crypto, generateP256Key(), 'SN-1');
    der[der.length - 5] = der[der.length - 5]! ^ 0x01;
    expect(() => verifyCsr(crypto, der)).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }),
    );
    // A request signed by another key than the one it names.
    const other = generateP256Key();
    const forged = buildCsr(crypto, { ...other, spki: generateP256Key().spki }, 'SN-1');
    expect(() => verifyCsr(crypto, forged)).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }),
    );
  });

  it('refuses garbage and non-base64 bodies with ERR_CSR_MALFORMED', () => {
    expect(() => decodeCsrBody('%%%')).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }),
    );
    expect(() => verifyCsr(crypto, new Uint8Array([0x30, 0x02, 0x05, 0x00]))).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }),
    );
    expect(() => verifyCsr(crypto, new Uint8Array([0x30, 0x84, 0, 0, 0, 1]))).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }),
    );
  });

  it('round-trips certs-only responses', async () => {
    const { root, idevidCa } = await manufacturerPki();
    const body = encodeCertsOnly([root.cert.der, idevidCa.cert.der]);
    expect(decodeCertsOnly(body).map((c) => Buffer.from(c))).toEqual([
      Buffer.from(root.cert.der),
      Buffer.from(idevidCa.cert.der),
    ]);
    expect(() => decodeCertsOnly(toBase64(root.cert.der))).toThrow(
      expect.objectContaining({ code: 'ERR_CERT_MALFORMED' }),
    );
  });

  it('csrattrs is the exact DER of the policy (also checked by OpenSSL in test/interop)', () => {
    expect(toBase64(csrAttributes())).toBe(
      'MDsGCCqGSM49BAMCMBwGByqGSM49AgExEQYFK4EEACIGCCqGSM49AwEHMBEGCSqGSIb3DQEBATEEAgIIAA==',
    );
  });
});

describe('EST requests: key types (P-256, P-384, RSA >= 2048 certified; nothing else)', () => {
  it('verifies P-384 and RSA-2048 requests through the Crypto port', () => {
    const p384 = verifyCsr(crypto, testCsr(testKey('P-384'), 'SN-1'));
    expect([p384.keyType, p384.keyBits]).toEqual(['P-384', 384]);
    const rsa = verifyCsr(crypto, testCsr(testKey('RSA-2048'), 'SN-1'));
    expect([rsa.keyType, rsa.keyBits]).toEqual(['RSA', 2048]);
    const p256 = verifyCsr(crypto, testCsr(testKey('P-256'), 'SN-1'));
    expect([p256.keyType, p256.keyBits]).toEqual(['P-256', 256]);
  });

  it('refuses RSA-1024, Ed25519 and P-521 keys with ERR_CSR_KEY, not a parse error', () => {
    for (const spec of ['RSA-1024', 'Ed25519', 'P-521'] as const) {
      expect(() => verifyCsr(crypto, testCsr(testKey(spec), 'SN-1')), spec).toThrow(
        expect.objectContaining({ code: 'ERR_CSR_KEY' }),
      );
    }
  });

  it('refuses a P-384 or RSA request signed by another key, or with an algorithm that does not fit the key', () => {
    expect(() =>
      verifyCsr(crypto, testCsr(testKey('P-384'), 'SN-1', { signer: testKey('P-384') })),
    ).toThrow(expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }));
    expect(() =>
      verifyCsr(crypto, testCsr(testKey('RSA-2048'), 'SN-1', { signer: testKey('RSA-2048') })),
    ).toThrow(expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }));
    const rsa = testKey('RSA-2048');
    expect(() => verifyCsr(crypto, testCsr(rsa, 'SN-1', { alg: 'ecdsa-with-SHA256' }))).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_SIGNATURE' }),
    );
  });

  it('gives ERR_CSR_MALFORMED (never ERR_CERT_MALFORMED) for a request with a broken OID or key structure', () => {
    const good = testCsr(testKey('P-256'), 'SN-1');
    // The signature algorithm OID (06 08 2a 86 48 ce 3d 04 03 02): make its last arc unterminated.
    const badOid = good.slice();
    const at = Buffer.from(badOid).lastIndexOf(
      Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
    expect(at).toBeGreaterThan(0);
    badOid[at + 9] = 0x82;
    expect(() => verifyCsr(crypto, badOid)).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }),
    );
    // A SubjectPublicKeyInfo without its key bits.
    const name = tlv(Tag.SEQUENCE);
    const info = tlv(
      Tag.SEQUENCE,
      tlv(Tag.INTEGER, new Uint8Array([0])),
      name,
      tlv(
        Tag.SEQUENCE,
        tlv(Tag.SEQUENCE, encodeOid('1.2.840.10045.2.1'), encodeOid('1.2.840.10045.3.1.7')),
      ),
      tlv(0xa0),
    );
    const noKey = tlv(
      Tag.SEQUENCE,
      info,
      tlv(Tag.SEQUENCE, encodeOid('1.2.840.10045.4.3.2')),
      tlv(Tag.BIT_STRING, new Uint8Array([0, 1])),
    );
    expect(() => verifyCsr(crypto, noKey)).toThrow(
      expect.objectContaining({ code: 'ERR_CSR_MALFORMED' }),
    );
  });

  it('csrattrs names what the policy certifies: P-256 and P-384, RSA from 2048 bits, ecdsa-with-SHA256 preferred', () => {
    const r = new DerReader(csrAttributes(), 'ERR_INTERNAL').enter(Tag.SEQUENCE);
    expect(decodeOid(r.read(Tag.OID).value)).toBe('1.2.840.10045.4.3.2');
    const ec = r.enter(Tag.SEQUENCE);
    expect(decodeOid(ec.read(Tag.OID).value)).toBe('1.2.840.10045.2.1');
    const curves = ec.enter(Tag.SET);
    const names: string[] = [];
    while (!curves.done) names.push(decodeOid(curves.read(Tag.OID).value));
    expect(names.sort()).toEqual(['1.2.840.10045.3.1.7', '1.3.132.0.34']);
    const rsa = r.enter(Tag.SEQUENCE);
    expect(decodeOid(rsa.read(Tag.OID).value)).toBe('1.2.840.113549.1.1.1');
    expect(Buffer.from(rsa.enter(Tag.SET).read(Tag.INTEGER).value)).toEqual(
      Buffer.from([0x08, 0x00]),
    );
    r.end();
  });
});
