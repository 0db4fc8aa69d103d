/**
 * CMS vouchers (src/protocols/cms, voucher/codec.ts) made by Airlock: round trip, the RFC 8366
 * structure (eContentType, signed attributes, issuerAndSerialNumber), and typed refusals.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { decodeSignedData } from '../../src/protocols/cms/signed-data.js';
import {
  ID_CT_ANIMA_JSON_VOUCHER,
  VOUCHER_CMS_MEDIA_TYPE,
  VOUCHER_COSE_MEDIA_TYPE,
  decodeVoucherArtifact,
  signVoucherArtifact,
} from '../../src/protocols/voucher/codec.js';
import { manufacturerPki } from '../support/pki.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const voucher = {
  'ietf-voucher:voucher': {
    assertion: 'logged',
    'created-on': '2026-01-02T03:04:05.000Z',
    'serial-number': 'AL-9',
    nonce: 'bm9uY2U=',
  },
};

describe('CMS vouchers', () => {
  it('round trip: the JSON, the signer chain, the signed attributes', async () => {
    const pki = await manufacturerPki();
    const der = signVoucherArtifact(
      crypto,
      VOUCHER_CMS_MEDIA_TYPE,
      pki.masaSigner.key,
      [pki.masaSigner.cert, pki.masaCa.cert],
      voucher,
    );
    const a = decodeVoucherArtifact(der, VOUCHER_CMS_MEDIA_TYPE);
    expect(a.json).toEqual(voucher);
    expect(a.signerChain.map((c) => c.subject)).toEqual([
      pki.masaSigner.cert.subject,
      pki.masaCa.cert.subject,
    ]);
    expect(codeOf(() => a.verify(crypto, pki.masaSigner.cert.spki))).toBe('OK');
    const sd = decodeSignedData(der);
    expect(sd.eContentType).toBe(ID_CT_ANIMA_JSON_VOUCHER);
    expect(sd.signingTime?.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(sd.digest).toBe('sha256');
    expect(sd.signedAttributes[0]).toBe(0x31);
  });

  it('tampered content, another key, a missing signer certificate: typed errors', async () => {
    const pki = await manufacturerPki();
    const der = signVoucherArtifact(
      crypto,
      VOUCHER_CMS_MEDIA_TYPE,
      pki.masaSigner.key,
      [pki.masaSigner.cert],
      voucher,
    );
    const i = Buffer.from(der).indexOf('AL-9');
    const tampered = new Uint8Array(der);
    tampered[i + 3] = '8'.charCodeAt(0);
    expect(
      codeOf(() =>
        decodeVoucherArtifact(tampered, VOUCHER_CMS_MEDIA_TYPE).verify(
          crypto,
          pki.masaSigner.cert.spki,
        ),
      ),
    ).toBe('ERR_CMS_SIGNATURE');
    expect(
      codeOf(() =>
        decodeVoucherArtifact(der, VOUCHER_CMS_MEDIA_TYPE).verify(crypto, pki.signer.cert.spki),
      ),
    ).toBe('ERR_CMS_SIGNATURE');
    // The certificate carried is not the one the SignerInfo names (signed with one key, another cert attached).
    expect(
      codeOf(() =>
        signVoucherArtifact(
          crypto,
          VOUCHER_CMS_MEDIA_TYPE,
          pki.masaSigner.key,
          [pki.signer.cert],
          voucher,
        ),
      ),
    ).toBe('ERR_INTERNAL');
    expect(
      codeOf(() =>
        decodeVoucherArtifact(
          new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
          VOUCHER_CMS_MEDIA_TYPE,
        ),
      ),
    ).toBe('ERR_CMS_MALFORMED');
    expect(
      codeOf(() =>
        decodeVoucherArtifact(new TextEncoder().encode('not base64!'), VOUCHER_CMS_MEDIA_TYPE),
      ),
    ).toBe('ERR_CMS_MALFORMED');
  });

  it('Airlock does not sign COSE vouchers: ERR_VOUCHER_FORMAT', async () => {
    const pki = await manufacturerPki();
    expect(
      codeOf(() =>
        signVoucherArtifact(
          crypto,
          VOUCHER_COSE_MEDIA_TYPE,
          pki.masaSigner.key,
          [pki.masaSigner.cert],
          voucher,
        ),
      ),
    ).toBe('ERR_VOUCHER_FORMAT');
  });
});
