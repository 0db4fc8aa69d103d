/**
 * Unsigned JSON vouchers and voucher requests, and device birth certificates, written by
 * other implementations (anima-wg/voucher, AnimaGUS-minerva/fountain, Cisco, TrustNetZ).
 * Each assertion states what the file really holds: a file that is not what a schema
 * describes must be rejected by it.
 */
import * as nodeCrypto from 'node:crypto';
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { equalBytes, fromPem } from '../../src/core/bytes.js';
import { Voucher, VoucherRequest } from '../../src/protocols/voucher/schema.js';
import {
  parseCertificate,
  parseCertificateBase64,
  type Certificate,
} from '../../src/protocols/x509/certificate.js';
import { verifyChain } from '../../src/protocols/x509/chain.js';
import { decodeIa5String } from '../../src/protocols/x509/ia5-extension.js';
import { interopPath, readInterop } from '../support/interop.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const json = (...p: string[]) => JSON.parse(readInterop(...p)) as Record<string, unknown>;

/** The single certificate in a PEM file (text before the armour, as `openssl x509 -text` writes, is ignored). */
function pemCert(...p: string[]): Certificate {
  const ders = fromPem(readInterop(...p));
  expect(ders).toHaveLength(1);
  const cert = parseCertificate(ders[0]!);
  // Cross-check the parse with node:crypto's (OpenSSL's) reading of the same DER.
  const node = new nodeCrypto.X509Certificate(Buffer.from(ders[0]!));
  expect(cert.serial).toBe(node.serialNumber.toLowerCase());
  expect(cert.notAfter.getTime()).toBe(new Date(node.validTo).getTime());
  expect(
    equalBytes(cert.spki, new Uint8Array(node.publicKey.export({ format: 'der', type: 'spki' }))),
  ).toBe(true);
  return cert;
}

/** Fountain's pre-RFC 8995 MASA URL extension (private enterprise OID). */
const FOUNTAIN_MASA_OID = '1.3.6.1.4.1.46930.2';

describe('interop: RFC 8366bis JSON examples', () => {
  it('refs_ex-file-voucher-ephemeral.json is a voucher', () => {
    const parsed = Voucher.safeParse(
      json('vouchers', 'cms', 'refs_ex-file-voucher-ephemeral.json'),
    );
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(parsed.data!['ietf-voucher:voucher']).toEqual({
      'created-on': '2016-10-07T19:31:42Z',
      assertion: 'logged',
      'serial-number': 'JADA123456789',
      'idevid-issuer': 'base64encodedvalue==',
      'pinned-domain-cert': 'base64encodedvalue==',
      nonce: 'base64encodedvalue==',
    });
  });

  it('refs_ex-file-voucher-long-lived.json is a voucher; its quoted YANG boolean reads as true', () => {
    const parsed = Voucher.safeParse(
      json('vouchers', 'cms', 'refs_ex-file-voucher-long-lived.json'),
    );
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    const v = parsed.data!['ietf-voucher:voucher'];
    expect(v.assertion).toBe('verified');
    expect(v['expires-on']).toBe('2016-10-21T19:31:42Z');
    expect(v['last-renewal-date']).toBe('2017-10-07T19:31:42Z');
    expect(v['domain-cert-revocation-checks']).toBe(true);
    expect(v.nonce).toBeUndefined();
  });

  it('the vouchers are not voucher requests (another module name)', () => {
    for (const f of [
      'refs_ex-file-voucher-ephemeral.json',
      'refs_ex-file-voucher-long-lived.json',
    ]) {
      expect(VoucherRequest.safeParse(json('vouchers', 'cms', f)).success).toBe(false);
    }
  });

  it('fountain raw_unsigned_vr_00-D0-E5-F2-00-01.json is an ietf-voucher-request without the mandatory serial-number, and only that is rejected', () => {
    const doc = json('vouchers', 'fountain', 'raw_unsigned_vr_00-D0-E5-F2-00-01.json');
    const parsed = VoucherRequest.safeParse(doc);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join('/'))).toEqual([
      'ietf-voucher-request:voucher/serial-number',
    ]);

    // With the serial number its file name gives it, everything else in it is well-formed.
    const body = doc['ietf-voucher-request:voucher'] as Record<string, unknown>;
    const fixed = VoucherRequest.safeParse({
      'ietf-voucher-request:voucher': { ...body, 'serial-number': '00-D0-E5-F2-00-01' },
    });
    expect(fixed.success, JSON.stringify(fixed.error?.issues)).toBe(true);
    const vr = fixed.data!['ietf-voucher-request:voucher'];
    expect(vr.assertion).toBe('proximity');
    expect(vr.nonce).toBe('fdba9f15fd18d898d5b5bfdee06e6194');
    const registrar = parseCertificateBase64(vr['proximity-registrar-cert']!);
    expect(registrar.subject).toContain('CN=fountain-test.example.com');
    expect(registrar.isCa).toBe(false);
  });

  it('fountain rvr_081196FFFE0181E0.json is a voucher-request challenge, not an ietf-voucher-request: both schemas reject it', () => {
    const doc = json('vouchers', 'fountain', 'rvr_081196FFFE0181E0.json');
    expect(Object.keys(doc)).toEqual(['voucher-request challenge']);
    expect(VoucherRequest.safeParse(doc).success).toBe(false);
    expect(Voucher.safeParse(doc).success).toBe(false);
  });
});

describe('interop: device birth certificates', () => {
  it('vouchers/cms/00-D0-E5-F2-00-02.crt (PEM): the MASA URL extension and the serialNumber attribute are read', () => {
    const raw = fs.readFileSync(interopPath('vouchers', 'cms', '00-D0-E5-F2-00-02.crt'), 'utf8');
    expect(raw.startsWith('-----BEGIN CERTIFICATE-----')).toBe(true);
    const c = pemCert('vouchers', 'cms', '00-D0-E5-F2-00-02.crt');
    expect(c.masaUrl).toBe('highway-test.example.com:9443');
    expect(c.subjectSerialNumber).toBe('00-D0-E5-F2-00-02');
    expect(c.issuer).toBe('CN=highway-test.example.com CA');
    expect(c.isCa).toBe(false);
  });

  it('the MASA and vendor certificates of the same example carry neither', () => {
    const masa = pemCert('vouchers', 'cms', 'masa-00-D0-E5-F2-00-02.crt');
    expect(masa.masaUrl).toBeUndefined();
    expect(masa.subjectSerialNumber).toBeUndefined();
    expect(masa.isCa).toBe(false);
    // An RSA-3072 CA, its PEM preceded by an `openssl x509 -text` dump.
    const vendor = pemCert('vouchers', 'cms', 'vendor-00-D0-E5-F2-00-02.crt');
    expect(vendor.isCa).toBe(true);
    expect(vendor.selfIssued).toBe(true);
    expect(vendor.subject).toBe('CN=highway-test.example.com CA');
  });

  it('cisco-idevid1-example.pem (RSA SUDI): the serialNumber attribute is read; there is no MASA URL', () => {
    const c = pemCert('idevid', 'cisco-idevid1-example.pem');
    expect(c.subjectSerialNumber).toBe('PID:CHIMAY-U-AC SN:FDO27361XTF');
    expect(c.masaUrl).toBeUndefined();
    expect(c.isCa).toBe(false);
  });

  it('trustnetz-idevid.crt: the serialNumber attribute is read, and it chains to its CA inside validity only', () => {
    const leaf = pemCert('idevid', 'trustnetz-idevid.crt');
    const ca = pemCert('idevid', 'trustnetz-idevid-ca.crt');
    expect(leaf.subjectSerialNumber).toBe('idev-serial12345');
    expect(leaf.masaUrl).toBeUndefined();
    expect(ca.isCa).toBe(true);
    expect(
      verifyChain(crypto, { leaf, anchors: [ca], at: new Date('2025-01-01T00:00:00Z') }),
    ).toHaveLength(2);
    expect(
      codeOf(() =>
        verifyChain(crypto, { leaf, anchors: [ca], at: new Date('2023-01-01T00:00:00Z') }),
      ),
    ).toBe('ERR_CERT_EXPIRED');
    // A CA of the same name but another key is not its issuer.
    const other = pemCert('vouchers', 'fountain', 'cert_vendor_secp384r1.crt');
    expect(
      codeOf(() =>
        verifyChain(crypto, { leaf, anchors: [other], at: new Date('2025-01-01T00:00:00Z') }),
      ),
    ).toBe('ERR_CERT_UNTRUSTED');
  });

  describe.each([
    ['fountain-00-D0-E5-02-00-1B_device.crt', 'https://masa.honeydukes.sandelman.ca'],
    ['spec_certs_010009-idevid.pem', 'https://masa.wheezes.sandelman.ca'],
    ['spec_certs_E5F21003-idevid.pem', 'https://highway.sandelman.ca'],
  ])('fountain IDevID %s', (file, masa) => {
    it('has no RFC 8995 MASA URL nor serialNumber attribute; its MASA URL is a UTF8String under the private OID', () => {
      const c = pemCert('idevid', file);
      expect(c.masaUrl).toBeUndefined();
      expect(c.subjectSerialNumber).toBeUndefined();
      expect(c.isCa).toBe(false);
      const ext = c.extensions.get(FOUNTAIN_MASA_OID);
      expect(ext).toBeDefined();
      // UTF8String (tag 0x0c, short length), not the IA5String RFC 8995 section 2.3.2 specifies.
      expect(ext![0]).toBe(0x0c);
      expect(ext![1]).toBe(ext!.length - 2);
      expect(new TextDecoder().decode(ext!.subarray(2))).toBe(masa);
      expect(codeOf(() => decodeIa5String(ext!))).toBe('ERR_CERT_MALFORMED');
    });
  });

  it("the fountain vendor CA in the corpus has the IDevIDs' issuer name but not the key that signed them", () => {
    const ca = pemCert('vouchers', 'fountain', 'cert_vendor_secp384r1.crt');
    const leaf = pemCert('idevid', 'spec_certs_010009-idevid.pem');
    expect(leaf.issuer).toBe(ca.subject);
    expect(
      codeOf(() =>
        verifyChain(crypto, { leaf, anchors: [ca], at: new Date('2018-01-01T00:00:00Z') }),
      ),
    ).toBe('ERR_CERT_UNTRUSTED');
  });
});
