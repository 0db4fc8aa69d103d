/**
 * CMS vouchers and voucher requests written by others (anima-wg/voucher examples, fountain):
 * each parses (DER or base64 text), its JSON names the expected serial number, and its
 * signature verifies with the signer certificate it carries; the MASA's certificate chains to
 * the vendor CA on a clock inside its validity. A flipped byte is a typed error.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import {
  decodeVoucherArtifact,
  VOUCHER_CMS_MEDIA_TYPE,
} from '../../src/protocols/voucher/codec.js';
import { decodeSignedDataBer, walkSignedData } from '../../src/protocols/cms/signed-data.js';
import { interopPath } from '../support/interop.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const read = (...p: string[]) => new Uint8Array(fs.readFileSync(interopPath('vouchers', ...p)));

const cases = [
  {
    file: 'cms/voucher_00-D0-E5-F2-00-02.pkcs',
    kind: 'ietf-voucher:voucher',
    serial: '00-D0-E5-F2-00-02',
    signer: 'CN=highway-test.example.com MASA',
  },
  {
    file: 'cms/voucher_00-D0-E5-F2-00-02.b64',
    kind: 'ietf-voucher:voucher',
    serial: '00-D0-E5-F2-00-02',
    signer: 'CN=highway-test.example.com MASA',
  },
  {
    file: 'cms/vr_00-D0-E5-F2-00-02.pkcs',
    kind: 'ietf-voucher-request:voucher',
    serial: '00-D0-E5-F2-00-02',
    signer: '2.5.4.5=00-D0-E5-F2-00-02',
  },
  {
    file: 'cms/vr_00-D0-E5-F2-00-02.b64',
    kind: 'ietf-voucher-request:voucher',
    serial: '00-D0-E5-F2-00-02',
    signer: '2.5.4.5=00-D0-E5-F2-00-02',
  },
  {
    file: 'fountain/voucher-00-D0-E5-F2-00-02.pkcs',
    kind: 'ietf-voucher:voucher',
    serial: '00-D0-E5-F2-00-02',
    signer: 'C=Canada, ST=Ontario, OU=Sandelman, CN=highway-test.example.com MASA',
  },
  // P-384 MASA key signing with SHA-256.
  // Despite its name, this file is the same voucher for 081196FFFE0181E0.
  {
    file: 'fountain/voucher_00123456789A.pkcs',
    kind: 'ietf-voucher:voucher',
    serial: '081196FFFE0181E0',
    signer: 'DC=ca, DC=sandelman, CN=Unstrung MASA',
  },
  {
    file: 'fountain/voucher_081196FFFE0181E0.pkcs',
    kind: 'ietf-voucher:voucher',
    serial: '081196FFFE0181E0',
    signer: 'DC=ca, DC=sandelman, CN=Unstrung MASA',
  },
  {
    file: 'fountain/voucher_request-00-D0-E5-F2-00-02.pkcs',
    kind: 'ietf-voucher-request:voucher',
    serial: '00-D0-E5-F2-00-02',
    signer: '2.5.4.5=00-D0-E5-F2-00-02',
  },
] as const;

/** The DER of a corpus file, whichever way it is stored. */
function der(bytes: Uint8Array): Uint8Array {
  return bytes[0] === 0x30
    ? bytes
    : new Uint8Array(Buffer.from(Buffer.from(bytes).toString('utf8'), 'base64'));
}

describe('interop: CMS vouchers and voucher requests', () => {
  // Two readers, one answer: the DER walker (the fast path) and pkijs (the BER path) must agree
  // on every artifact another implementation wrote, so that no input means one thing to one.
  it.each(cases)('$file: the DER walker and the pkijs reader agree on every field', (c) => {
    const bytes = der(read(...(c.file.split('/') as [string, string])));
    const fast = walkSignedData(bytes);
    const ber = decodeSignedDataBer(bytes);
    const view = (d: typeof fast) => ({
      eContentType: d.eContentType,
      content: Buffer.from(d.content).toString('hex'),
      certificates: d.certificates.map((x) => Buffer.from(x.der).toString('hex')),
      signer: Buffer.from(d.signerChain[0]!.der).toString('hex'),
      signingTime: d.signingTime?.toISOString(),
      signedAttributes: Buffer.from(d.signedAttributes).toString('hex'),
      messageDigest: Buffer.from(d.messageDigest).toString('hex'),
      digest: d.digest,
      signatureHash: d.signatureHash,
      signature: Buffer.from(d.signature).toString('hex'),
    });
    expect(view(fast)).toEqual(view(ber));
  });

  it.each(cases)('$file parses and verifies with the certificate it carries', (c) => {
    const a = decodeVoucherArtifact(
      read(...(c.file.split('/') as [string, string])),
      VOUCHER_CMS_MEDIA_TYPE,
    );
    const body = (a.json as Record<string, Record<string, unknown>>)[c.kind]!;
    expect(body['serial-number']).toBe(c.serial);
    expect(a.signerChain[0]!.subject).toBe(c.signer);
    expect(codeOf(() => a.verify(crypto, a.signerChain[0]!.spki))).toBe('OK');
    const other = decodeVoucherArtifact(
      read(
        'cms',
        c.kind === 'ietf-voucher:voucher'
          ? 'vr_00-D0-E5-F2-00-02.pkcs'
          : 'voucher_00-D0-E5-F2-00-02.pkcs',
      ),
      VOUCHER_CMS_MEDIA_TYPE,
    );
    expect(codeOf(() => a.verify(crypto, other.signerChain[0]!.spki))).toBe('ERR_CMS_SIGNATURE');
  });

  it.each(cases)('$file with a flipped byte fails with a typed error', (c) => {
    const original = der(read(...(c.file.split('/') as [string, string])));
    const signer = decodeVoucherArtifact(original, VOUCHER_CMS_MEDIA_TYPE).signerChain[0]!;
    // In the content (a serial-number character), in the signature (near the end), and in digestAlgorithms.
    const inContent = Buffer.from(original).indexOf(c.serial) + 2;
    for (const at of [inContent, original.length - 5, 40]) {
      const bad = new Uint8Array(original);
      bad[at]! ^= 0x01;
      const code = codeOf(() =>
        decodeVoucherArtifact(bad, VOUCHER_CMS_MEDIA_TYPE).verify(crypto, signer.spki),
      );
      expect(code, `byte ${at}`).toMatch(/^ERR_(CMS|CERT)_/);
    }
    expect(
      codeOf(() =>
        decodeVoucherArtifact(original.subarray(0, original.length - 7), VOUCHER_CMS_MEDIA_TYPE),
      ),
    ).toBe('ERR_CMS_MALFORMED');
  });

  it('the certificates taken out of the SignedData are byte for byte the ones the corpus ships', () => {
    const a = decodeVoucherArtifact(
      read('cms', 'voucher_00-D0-E5-F2-00-02.pkcs'),
      VOUCHER_CMS_MEDIA_TYPE,
    );
    const masa = fs.readFileSync(interopPath('vouchers', 'cms', 'masa-00-D0-E5-F2-00-02.crt'));
    const pemOrDer =
      masa[0] === 0x30
        ? masa
        : Buffer.from(masa.toString('utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    expect(Buffer.from(a.signerChain[0]!.der).equals(pemOrDer)).toBe(true);
  });
});
