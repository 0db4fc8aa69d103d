/**
 * CMS vouchers against OpenSSL (`openssl cms`), software that is not ours: OpenSSL verifies
 * an Airlock CMS voucher against its signer's trust anchor and prints exactly the signed JSON;
 * Airlock verifies a voucher request that OpenSSL signed; each side refuses tampering.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { fromPem, toPem } from '../../src/core/bytes.js';
import { decodeSignedData, walkSignedData } from '../../src/protocols/cms/signed-data.js';
import {
  ID_CT_ANIMA_JSON_VOUCHER,
  decodeVoucherArtifact,
  signVoucherArtifact,
  VOUCHER_CMS_MEDIA_TYPE,
} from '../../src/protocols/voucher/codec.js';
import { parseCertificate } from '../../src/protocols/x509/certificate.js';
import { T0, manufacturerPki } from '../support/pki.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.log('skipped: openssl not installed');

function openssl(args: string[], input?: Uint8Array) {
  const r = spawnSync('openssl', args, { input });
  return { status: r.status, stdout: new Uint8Array(r.stdout), stderr: r.stderr.toString() };
}

describe.skipIf(!hasOpenssl)('interop: CMS vouchers with openssl cms', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-cms-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('openssl verifies an Airlock CMS voucher against the MASA CA and prints exactly the signed JSON; a changed byte fails', async () => {
    const pki = await manufacturerPki();
    const voucher = {
      'ietf-voucher:voucher': {
        assertion: 'logged',
        'created-on': '2026-01-02T00:00:00.000Z',
        'serial-number': 'AL-1',
        nonce: 'bm9uY2U=',
      },
    };
    const der = signVoucherArtifact(
      crypto,
      VOUCHER_CMS_MEDIA_TYPE,
      pki.masaSigner.key,
      [pki.masaSigner.cert],
      voucher,
    );
    expect(decodeSignedData(der).eContentType).toBe(ID_CT_ANIMA_JSON_VOUCHER);
    const caFile = path.join(dir, 'anchors.pem');
    fs.writeFileSync(
      caFile,
      toPem('CERTIFICATE', pki.masaCa.cert.der) + toPem('CERTIFICATE', pki.root.cert.der),
    );
    const attime = String(Math.floor(T0.getTime() / 1000) + 86_400);
    const verify = (input: Uint8Array) =>
      openssl(
        [
          'cms',
          '-verify',
          '-inform',
          'DER',
          '-binary',
          '-CAfile',
          caFile,
          '-purpose',
          'any',
          '-attime',
          attime,
        ],
        input,
      );
    const ok = verify(der);
    expect(ok.stderr).toContain('Verification successful');
    expect(ok.status).toBe(0);
    expect(new TextDecoder().decode(ok.stdout)).toBe(JSON.stringify(voucher));

    // The content changed (AL-1 -> AL-2): the message digest no longer matches.
    const i = Buffer.from(der).indexOf('AL-1');
    expect(i).toBeGreaterThan(0);
    const tampered = new Uint8Array(der);
    tampered[i + 3] = '2'.charCodeAt(0);
    expect(verify(tampered).status).not.toBe(0);
    expect(
      codeOf(() =>
        decodeVoucherArtifact(tampered, VOUCHER_CMS_MEDIA_TYPE).verify(
          crypto,
          pki.masaSigner.cert.spki,
        ),
      ),
    ).toBe('ERR_CMS_SIGNATURE');
    // Against another CA, openssl refuses the chain.
    const other = await manufacturerPki('Other');
    const otherFile = path.join(dir, 'other.pem');
    fs.writeFileSync(otherFile, toPem('CERTIFICATE', other.root.cert.der));
    expect(
      openssl(
        [
          'cms',
          '-verify',
          '-inform',
          'DER',
          '-binary',
          '-CAfile',
          otherFile,
          '-purpose',
          'any',
          '-attime',
          attime,
        ],
        der,
      ).status,
    ).not.toBe(0);
  });

  it('Airlock verifies a voucher request signed by openssl cms -sign, and refuses it tampered with or checked with another key', async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const made = openssl([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-subj',
      '/serialNumber=OSSL-1/CN=pledge',
      '-days',
      '2',
    ]);
    expect(made.status, made.stderr).toBe(0);
    const request = {
      'ietf-voucher-request:voucher': {
        assertion: 'proximity',
        'created-on': '2026-01-02T00:00:00Z',
        'serial-number': 'OSSL-1',
        nonce: 'YWJjZA==',
      },
    };
    const json = path.join(dir, 'vr.json');
    fs.writeFileSync(json, JSON.stringify(request));
    const signed = openssl([
      'cms',
      '-sign',
      '-nodetach',
      '-binary',
      '-md',
      'sha256',
      '-econtent_type',
      ID_CT_ANIMA_JSON_VOUCHER,
      '-outform',
      'DER',
      '-signer',
      cert,
      '-inkey',
      key,
      '-in',
      json,
    ]);
    expect(signed.status, signed.stderr).toBe(0);
    const der = signed.stdout;

    const a = decodeVoucherArtifact(der, VOUCHER_CMS_MEDIA_TYPE);
    expect(a.json).toEqual(request);
    const signer = parseCertificate(fromPem(fs.readFileSync(cert, 'utf8'))[0]!);
    expect(Buffer.from(a.signerChain[0]!.der).equals(Buffer.from(signer.der))).toBe(true);
    expect(codeOf(() => a.verify(crypto, signer.spki))).toBe('OK');
    expect(decodeSignedData(der).eContentType).toBe(ID_CT_ANIMA_JSON_VOUCHER);
    // Base64 text of the DER is accepted too.
    expect(
      codeOf(() =>
        decodeVoucherArtifact(
          new TextEncoder().encode(Buffer.from(der).toString('base64')),
          VOUCHER_CMS_MEDIA_TYPE,
        ).verify(crypto, signer.spki),
      ),
    ).toBe('OK');

    const other = (await manufacturerPki()).masaSigner.cert;
    expect(codeOf(() => a.verify(crypto, other.spki))).toBe('ERR_CMS_SIGNATURE');
    const i = Buffer.from(der).indexOf('OSSL-1"');
    const tampered = new Uint8Array(der);
    tampered[i + 5] = '2'.charCodeAt(0);
    expect(
      codeOf(() =>
        decodeVoucherArtifact(tampered, VOUCHER_CMS_MEDIA_TYPE).verify(crypto, signer.spki),
      ),
    ).toBe('ERR_CMS_SIGNATURE');
  });
  it('a streamed (BER, indefinite-length) voucher request from openssl is read by the BER path, the same as its DER form', () => {
    const key = path.join(dir, 'ber-key.pem');
    const cert = path.join(dir, 'ber-cert.pem');
    expect(
      openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        '/serialNumber=OSSL-BER',
        '-days',
        '2',
      ]).status,
    ).toBe(0);
    const json = path.join(dir, 'ber.json');
    fs.writeFileSync(
      json,
      JSON.stringify({
        'ietf-voucher-request:voucher': {
          'serial-number': 'OSSL-BER',
          nonce: 'YWJjZA==',
          'created-on': '2026-01-02T00:00:00Z',
        },
      }),
    );
    const sign = (extra: string[]) =>
      openssl([
        'cms',
        '-sign',
        ...extra,
        '-nodetach',
        '-binary',
        '-md',
        'sha256',
        '-econtent_type',
        ID_CT_ANIMA_JSON_VOUCHER,
        '-outform',
        'DER',
        '-signer',
        cert,
        '-inkey',
        key,
        '-in',
        json,
      ]).stdout;
    const ber = sign(['-stream']);
    // The DER walker refuses indefinite lengths: this one goes through pkijs.
    expect(codeOf(() => walkSignedData(ber))).toBe('ERR_CMS_MALFORMED');
    const a = decodeVoucherArtifact(ber, VOUCHER_CMS_MEDIA_TYPE);
    expect(
      (a.json as Record<string, Record<string, unknown>>)['ietf-voucher-request:voucher']![
        'serial-number'
      ],
    ).toBe('OSSL-BER');
    const signer = parseCertificate(fromPem(fs.readFileSync(cert, 'utf8'))[0]!);
    expect(codeOf(() => a.verify(crypto, signer.spki))).toBe('OK');
    expect(a.json).toEqual(decodeVoucherArtifact(sign([]), VOUCHER_CMS_MEDIA_TYPE).json);
  });
});
