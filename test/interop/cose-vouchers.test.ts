/**
 * COSE_Sign1 vouchers and voucher requests written by others (anima-wg/constrained-voucher
 * examples, fountain): each parses, its serial number is read from the SID-keyed (or older
 * pre-SID) CBOR, and its signature verifies with the certificate it carries (x5bag) or the one
 * the corpus names for it. A flipped byte makes each fail with a typed error.
 */
import * as fs from 'node:fs';
import { Decoder, Encoder } from 'cbor-x';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { fromPem } from '../../src/core/bytes.js';
import {
  decodeVoucherArtifact,
  VOUCHER_COSE_MEDIA_TYPE,
} from '../../src/protocols/voucher/codec.js';
import { parseCertificate, type Certificate } from '../../src/protocols/x509/certificate.js';
import { interopPath } from '../support/interop.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const read = (...p: string[]) => new Uint8Array(fs.readFileSync(interopPath('vouchers', ...p)));
const hex = (...p: string[]) =>
  new Uint8Array(
    Buffer.from(fs.readFileSync(interopPath('vouchers', ...p), 'utf8').replace(/\s/g, ''), 'hex'),
  );
function cert(...p: string[]): Certificate {
  const raw = read(...p);
  return parseCertificate(raw[0] === 0x30 ? raw : fromPem(Buffer.from(raw).toString('utf8'))[0]!);
}

interface Case {
  file: string;
  bytes: () => Uint8Array;
  /** The signer: 'carried' (x5bag/x5chain) or the corpus certificate named for it. */
  signer: 'carried' | (() => Certificate);
  serial: string;
  kind: 'ietf-voucher:voucher' | 'ietf-voucher-request:voucher';
}

const cases: Case[] = [
  {
    file: 'cose/voucher.hex',
    bytes: () => hex('cose', 'voucher.hex'),
    signer: () => cert('cose', 'masa_ca.pem'),
    serial: 'JADA123456789',
    kind: 'ietf-voucher:voucher',
  },
  {
    file: 'cose/pvr.hex',
    bytes: () => hex('cose', 'pvr.hex'),
    signer: () => cert('cose', 'pledge.pem'),
    serial: 'JADA123456789',
    kind: 'ietf-voucher-request:voucher',
  },
  {
    file: 'cose/rvr.hex',
    bytes: () => hex('cose', 'rvr.hex'),
    signer: 'carried',
    serial: 'JADA123456789',
    kind: 'ietf-voucher-request:voucher',
  },
  {
    file: 'cose/voucher_00-D0-E5-F2-00-03.vch',
    bytes: () => read('cose', 'voucher_00-D0-E5-F2-00-03.vch'),
    signer: () => cert('fountain', 'cert_masa_prime256v1.crt'),
    serial: '00-D0-E5-F2-00-03',
    kind: 'ietf-voucher:voucher',
  },
  {
    file: 'cose/parboiled_vr_00-D0-E5-F2-00-03.vrq',
    bytes: () => read('cose', 'parboiled_vr_00-D0-E5-F2-00-03.vrq'),
    signer: () => cert('fountain', 'cert_jrc_prime256v1.crt'),
    serial: '00-D0-E5-F2-00-03',
    kind: 'ietf-voucher-request:voucher',
  },
  {
    file: 'fountain/voucher_00-D0-E5-F2-00-01.vch',
    bytes: () => read('fountain', 'voucher_00-D0-E5-F2-00-01.vch'),
    signer: () => cert('fountain', 'cert_masa_prime256v1.crt'),
    serial: 'JADA_f2-00-01',
    kind: 'ietf-voucher:voucher',
  },
  // The file ends in a newline after the COSE object; the object itself is what is checked.
  {
    file: 'fountain/vr_00-D0-E5-01-00-09.cwt',
    bytes: () => read('fountain', 'vr_00-D0-E5-01-00-09.cwt').subarray(0, -1),
    signer: () => cert('..', 'idevid', 'spec_certs_010009-idevid.pem'),
    serial: '00-D0-E5-01-00-09',
    kind: 'ietf-voucher-request:voucher',
  },
];

describe('interop: COSE vouchers and voucher requests', () => {
  it.each(cases)('$file parses, names its serial number, and verifies', (c) => {
    const a = decodeVoucherArtifact(c.bytes(), VOUCHER_COSE_MEDIA_TYPE);
    const body = (a.json as Record<string, Record<string, unknown>>)[c.kind]!;
    expect(body['serial-number']).toBe(c.serial);
    const signer = c.signer === 'carried' ? a.signerChain[0]! : c.signer();
    expect(codeOf(() => a.verify(crypto, signer.spki))).toBe('OK');
    // Another corpus key does not verify it.
    const other = cert('cose', 'domain_ca.pem');
    expect(codeOf(() => a.verify(crypto, other.spki))).toBe('ERR_COSE_SIGNATURE');
  });

  it.each(cases)(
    '$file with a flipped byte in the payload or signature fails with a typed error',
    (c) => {
      const original = c.bytes();
      const signer = () =>
        c.signer === 'carried'
          ? decodeVoucherArtifact(original, VOUCHER_COSE_MEDIA_TYPE).signerChain[0]!
          : c.signer();
      for (const at of [original.length - 10, Math.floor(original.length / 2), 12]) {
        const bad = new Uint8Array(original);
        bad[at]! ^= 0x01;
        const code = codeOf(() =>
          decodeVoucherArtifact(bad, VOUCHER_COSE_MEDIA_TYPE).verify(crypto, signer().spki),
        );
        expect(code, `byte ${at}`).toMatch(/^ERR_(COSE|CERT|VOUCHER)_/);
      }
      expect(
        codeOf(() =>
          decodeVoucherArtifact(original.subarray(0, original.length - 3), VOUCHER_COSE_MEDIA_TYPE),
        ),
      ).toBe('ERR_COSE_MALFORMED');
    },
  );

  it('the pledge request in the corpus names its registrar by public key, and the registrar request carries the pledge request', () => {
    const pvr = decodeVoucherArtifact(hex('cose', 'pvr.hex'), VOUCHER_COSE_MEDIA_TYPE);
    const body = (pvr.json as Record<string, Record<string, string>>)[
      'ietf-voucher-request:voucher'
    ]!;
    expect(body['proximity-registrar-pubk']).toBe(
      Buffer.from(cert('cose', 'registrar.pem').spki).toString('base64'),
    );
    const rvr = decodeVoucherArtifact(hex('cose', 'rvr.hex'), VOUCHER_COSE_MEDIA_TYPE);
    const prior = (rvr.json as Record<string, Record<string, string>>)[
      'ietf-voucher-request:voucher'
    ]!['prior-signed-voucher-request']!;
    expect(Buffer.from(prior, 'base64').equals(Buffer.from(hex('cose', 'pvr.hex')))).toBe(true);
  });

  it("fountain's pledge request vr_00-D0-E5-F2-00-01.vrq parses; its signer (that device's IDevID) is not in the corpus", () => {
    const a = decodeVoucherArtifact(
      read('fountain', 'vr_00-D0-E5-F2-00-01.vrq'),
      VOUCHER_COSE_MEDIA_TYPE,
    );
    expect(
      (a.json as Record<string, Record<string, unknown>>)['ietf-voucher-request:voucher']![
        'serial-number'
      ],
    ).toBe('00-D0-E5-F2-00-01');
    expect(a.signerChain).toHaveLength(0);
  });
  it('refuses a map key twice, in the protected header or in the payload (last-one-wins would decide what was signed)', () => {
    // The corpus voucher's own payload, under a protected header written here: the control
    // decodes, and the same header with alg twice (ES384, then ES256) does not.
    const [, , payload] = (
      new Decoder({ mapsAsObjects: false, useRecords: false }).decode(
        hex('cose', 'voucher.hex'),
      ) as { value: [Uint8Array, unknown, Uint8Array, Uint8Array] }
    ).value;
    const sign1 = (protectedMap: number[], body: Uint8Array) =>
      new Encoder({ tagUint8Array: false, useRecords: false }).encode([
        new Uint8Array(protectedMap),
        new Map(),
        body,
        new Uint8Array(64),
      ]);
    expect(
      codeOf(() =>
        decodeVoucherArtifact(sign1([0xa1, 0x01, 0x26], payload), VOUCHER_COSE_MEDIA_TYPE),
      ),
    ).toBe('OK');
    expect(
      codeOf(() =>
        decodeVoucherArtifact(
          sign1([0xa2, 0x01, 0x38, 0x22, 0x01, 0x26], payload),
          VOUCHER_COSE_MEDIA_TYPE,
        ),
      ),
    ).toBe('ERR_COSE_MALFORMED');
    // The same key in two encodings (1, and 1 as 0x18 0x01) is the same key.
    expect(
      codeOf(() =>
        decodeVoucherArtifact(
          sign1([0xa2, 0x18, 0x01, 0x38, 0x22, 0x01, 0x26], payload),
          VOUCHER_COSE_MEDIA_TYPE,
        ),
      ),
    ).toBe('ERR_COSE_MALFORMED');
    // The payload's outer map with its one key twice.
    const body = new Uint8Array(payload);
    expect(body[0]).toBe(0xa1);
    const twice = new Uint8Array([0xa2, ...body.subarray(1), ...body.subarray(1)]);
    expect(
      codeOf(() =>
        decodeVoucherArtifact(sign1([0xa1, 0x01, 0x26], twice), VOUCHER_COSE_MEDIA_TYPE),
      ),
    ).toBe('ERR_COSE_MALFORMED');
  });
});
