/**
 * JWS vouchers written by another implementation (anima-wg/anima-jws-voucher examples):
 * Airlock decodes them, their payloads fit its schemas, and every signature verifies with
 * the signer certificate in its own x5c. The certificates have expired: a fixed clock.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { equalBytes, fromBase64 } from '../../src/core/bytes.js';
import { decodeCompact, verifyCompact } from '../../src/protocols/jws/compact.js';
import { decodeVoucher, decodeVoucherRequest } from '../../src/protocols/voucher/artifact.js';
import { verifyPledgeVoucherRequest } from '../../src/protocols/voucher/pledge-voucher-request.js';
import { verifyRegistrarVoucherRequest } from '../../src/protocols/voucher/registrar-voucher-request.js';
import { verifyChain } from '../../src/protocols/x509/chain.js';
import { readInterop } from '../support/interop.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
/** When the examples were made (their created-on), inside every certificate's validity. */
const MADE_AT = new Date('2020-10-22T02:37:40Z');
const SERIAL = '0123456789';
const NONCE = 'eDs++/FuDHGUnRxN3E14CQ==';

/** The compact JWS in a corpus file; line breaks, if any, are not part of it. */
const jwsText = (name: string) => readInterop('vouchers', 'jws', name).replace(/\s+/g, '');

/** Replaces one character in the middle of the signature segment (not the last, whose low bits may be padding). */
function flipSignatureChar(text: string): string {
  const dot = text.lastIndexOf('.');
  const i = dot + 1 + 10;
  const c = text[i]!;
  return text.slice(0, i) + (c === 'A' ? 'B' : 'A') + text.slice(i + 1);
}

describe('interop: anima-jws-voucher examples', () => {
  const files = {
    voucher: 'voucher_01.b64',
    pledgeRequest: 'voucher_request_01.b64',
    registrarRequest: 'parboiled_voucher_request_01.b64',
  } as const;

  it('decodes the voucher, and its signature verifies with its x5c signer', () => {
    const v = decodeVoucher(jwsText(files.voucher));
    expect(v.jws!.header.alg).toBe('ES256');
    expect(v.body).toMatchObject({
      assertion: 'logged',
      'serial-number': SERIAL,
      nonce: NONCE,
      'created-on': '2020-10-22T02:37:39.921Z',
    });
    expect(v.signerChain).toHaveLength(1);
    expect(v.signerChain[0]!.subject).toContain('CN=JingJingCorp Voucher Signing Key');
    expect(() => verifyCompact(crypto, v.jws!, v.signerChain[0]!.spki)).not.toThrow();
  });

  it('decodes the pledge voucher request, signed by an IDevID that names the same serial number', () => {
    const pvr = decodeVoucherRequest(jwsText(files.pledgeRequest));
    expect(pvr.body).toEqual({
      'created-on': '2020-10-22T02:37:39.000Z',
      nonce: NONCE,
      'serial-number': SERIAL,
    });
    const idevid = pvr.signerChain[0]!;
    expect(idevid.subjectSerialNumber).toBe(SERIAL);
    expect(idevid.isCa).toBe(false);
    expect(() => verifyCompact(crypto, pvr.jws!, idevid.spki)).not.toThrow();
  });

  it('decodes the registrar (parboiled) request: its prior-signed-voucher-request is the pledge request, and both signatures verify', () => {
    const rvr = decodeVoucherRequest(jwsText(files.registrarRequest));
    expect(rvr.body['serial-number']).toBe(SERIAL);
    expect(rvr.body.nonce).toBe(NONCE);
    expect(rvr.signerChain.map((c) => c.subject)).toEqual([
      'O=MyBusiness, L=Site, CN=Registrar Voucher Request Signing Key',
      'O=MyBusiness, L=Site, CN=TestCA',
    ]);
    expect(() => verifyCompact(crypto, rvr.jws!, rvr.signerChain[0]!.spki)).not.toThrow();

    const prior = rvr.body['prior-signed-voucher-request']!;
    expect(prior).toBe(jwsText(files.pledgeRequest));
    const pvr = decodeVoucherRequest(prior);
    expect(pvr.body['serial-number']).toBe(rvr.body['serial-number']);
    expect(pvr.body.nonce).toBe(rvr.body.nonce);
    expect(() => verifyCompact(crypto, pvr.jws!, pvr.signerChain[0]!.spki)).not.toThrow();
  });

  it('the voucher pins the CA that issued the registrar certificate, and that chain verifies on a fixed clock', () => {
    const v = decodeVoucher(jwsText(files.voucher));
    const rvr = decodeVoucherRequest(jwsText(files.registrarRequest));
    const pinned = fromBase64(v.body['pinned-domain-cert']!)!;
    expect(equalBytes(pinned, rvr.signerChain[1]!.der)).toBe(true);
    const [registrarCert, domainCa] = rvr.signerChain as [
      (typeof rvr.signerChain)[0],
      (typeof rvr.signerChain)[0],
    ];
    const path = verifyChain(crypto, { leaf: registrarCert, anchors: [domainCa], at: MADE_AT });
    expect(path.map((c) => c.subject)).toEqual([registrarCert.subject, domainCa.subject]);
    // The same chain after its certificates expired (2029-09-11), and before they existed.
    expect(
      codeOf(() =>
        verifyChain(crypto, {
          leaf: registrarCert,
          anchors: [domainCa],
          at: new Date('2030-01-01T00:00:00Z'),
        }),
      ),
    ).toBe('ERR_CERT_EXPIRED');
    expect(
      codeOf(() =>
        verifyChain(crypto, {
          leaf: registrarCert,
          anchors: [domainCa],
          at: new Date('2019-01-01T00:00:00Z'),
        }),
      ),
    ).toBe('ERR_CERT_EXPIRED');
  });

  it("a signature does not verify with another artifact's signer key", () => {
    const v = decodeVoucher(jwsText(files.voucher));
    const pvr = decodeVoucherRequest(jwsText(files.pledgeRequest));
    expect(codeOf(() => verifyCompact(crypto, v.jws!, pvr.signerChain[0]!.spki))).toBe(
      'ERR_JWS_SIGNATURE',
    );
    expect(codeOf(() => verifyCompact(crypto, pvr.jws!, v.signerChain[0]!.spki))).toBe(
      'ERR_JWS_SIGNATURE',
    );
  });

  it("Airlock's registrar refuses the pledge request: RFC 8995 section 5.2 requires proximity-registrar-cert, which it lacks", () => {
    const text = jwsText(files.pledgeRequest);
    const idevid = decodeVoucherRequest(text).signerChain[0]!;
    const registrarCert = decodeVoucherRequest(jwsText(files.registrarRequest)).signerChain[0]!;
    expect(
      codeOf(() =>
        verifyPledgeVoucherRequest(crypto, text, { tlsClientCert: idevid, registrarCert }),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_PROXIMITY');
    // The signer check comes first: the same request from another TLS client is a mismatch.
    expect(
      codeOf(() =>
        verifyPledgeVoucherRequest(crypto, text, { tlsClientCert: registrarCert, registrarCert }),
      ),
    ).toBe('ERR_IDEVID_MISMATCH');
  });

  it("Airlock's MASA checks both layers of the registrar request up to the same missing proximity-registrar-cert", () => {
    const text = jwsText(files.registrarRequest);
    const idevid = decodeVoucherRequest(jwsText(files.pledgeRequest)).signerChain[0]!;
    // The IDevID's issuer (JingJingTestCA) is not in the corpus: trust the IDevID itself.
    expect(
      codeOf(() =>
        verifyRegistrarVoucherRequest(crypto, text, { idevidAnchors: [idevid], at: MADE_AT }),
      ),
    ).toBe('ERR_VOUCHER_REQUEST_PROXIMITY');
    expect(
      codeOf(() => verifyRegistrarVoucherRequest(crypto, text, { idevidAnchors: [], at: MADE_AT })),
    ).toBe('ERR_IDEVID_UNTRUSTED');
  });

  describe.each(Object.entries(files))('%s tampered', (kind, name) => {
    const decode = (t: string) => (kind === 'voucher' ? decodeVoucher(t) : decodeVoucherRequest(t));

    it('one character of the signature flipped: ERR_JWS_SIGNATURE', () => {
      const original = jwsText(name);
      const tampered = flipSignatureChar(original);
      expect(tampered).not.toBe(original);
      const a = decode(tampered);
      expect(equalBytes(a.jws!.signature, decodeCompact(original).signature)).toBe(false);
      expect(codeOf(() => verifyCompact(crypto, a.jws!, a.signerChain[0]!.spki))).toBe(
        'ERR_JWS_SIGNATURE',
      );
    });

    it('the payload re-encoded with another serial number, signature kept: decodes, then ERR_JWS_SIGNATURE', () => {
      const original = jwsText(name);
      const [h, p, s] = original.split('.') as [string, string, string];
      const doc = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<
        string,
        Record<string, unknown>
      >;
      const body = Object.values(doc)[0]!;
      expect(body['serial-number']).toBe(SERIAL);
      body['serial-number'] = '9876543210';
      const a = decode(`${h}.${Buffer.from(JSON.stringify(doc)).toString('base64url')}.${s}`);
      expect(a.body['serial-number']).toBe('9876543210');
      expect(codeOf(() => verifyCompact(crypto, a.jws!, a.signerChain[0]!.spki))).toBe(
        'ERR_JWS_SIGNATURE',
      );
    });

    it('one character of the payload flipped so that it is no longer JSON: ERR_JWS_MALFORMED', () => {
      const original = jwsText(name);
      const [h, p, s] = original.split('.') as [string, string, string];
      // The payload starts with '{"' (eyJ...): changing its third character changes the quote byte.
      expect(p.slice(0, 3)).toBe('eyJ');
      expect(codeOf(() => decode(`${h}.${p.slice(0, 2)}A${p.slice(3)}.${s}`))).toBe(
        'ERR_JWS_MALFORMED',
      );
    });

    it('truncated: ERR_JWS_MALFORMED', () => {
      const original = jwsText(name);
      expect(codeOf(() => decode(original.slice(0, -4)))).toBe('ERR_JWS_MALFORMED');
      expect(codeOf(() => decode(original.slice(0, original.lastIndexOf('.'))))).toBe(
        'ERR_JWS_MALFORMED',
      );
      expect(codeOf(() => decode(original.slice(0, original.length / 2)))).toBe(
        'ERR_JWS_MALFORMED',
      );
    });
  });
});
