/**
 * DPP bootstrapping keys made by OpenSSL, software that is not ours: `openssl ecparam -genkey`
 * on each DPP curve, the public key written as DER by `openssl ec -pubout` (uncompressed, and
 * compressed as wpa_supplicant writes it), put in a URI by formatDppUri and read back; the
 * bootstrapping key hash equals `openssl dgst -sha256` of the same DER.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex } from '../../src/core/bytes.js';
import {
  bootstrappingKeyHash,
  formatDppUri,
  parseDppUri,
  type DppCurve,
} from '../../src/protocols/dpp/uri.js';
import { codeOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.log('skipped: openssl not installed');

function openssl(args: string[]): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
  return r.stdout;
}

const CURVES: Array<[string, DppCurve]> = [
  ['prime256v1', 'P-256'],
  ['secp384r1', 'P-384'],
  ['secp521r1', 'P-521'],
  ['brainpoolP256r1', 'BP-256'],
  ['brainpoolP384r1', 'BP-384'],
  ['brainpoolP512r1', 'BP-512'],
];

describe.skipIf(!hasOpenssl)('interop: DPP bootstrapping keys from openssl', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-dpp-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it.each(CURVES)(
    '%s: the URI carries the key and its hash is openssl dgst -sha256',
    (name, curve) => {
      const key = path.join(dir, `${name}.pem`);
      openssl(['ecparam', '-genkey', '-noout', '-name', name, '-out', key]);
      for (const form of ['uncompressed', 'compressed']) {
        const pub = path.join(dir, `${name}-${form}.der`);
        openssl(['ec', '-in', key, '-pubout', '-outform', 'DER', '-conv_form', form, '-out', pub]);
        const der = new Uint8Array(fs.readFileSync(pub));
        const uri = formatDppUri({ key: der, info: `openssl ${form}`, version: 2 });
        const parsed = parseDppUri(uri);
        expect(parsed.key.curve).toBe(curve);
        expect(parsed.key.spkiDer).toEqual(der);
        const digest = openssl(['dgst', '-sha256', '-r', pub]).split(' ')[0];
        expect(toHex(bootstrappingKeyHash(crypto, parsed.key.spkiDer))).toBe(digest);
      }
    },
  );

  it('refuses a key openssl writes with explicit curve parameters', () => {
    const key = path.join(dir, 'explicit.pem');
    openssl(['ecparam', '-genkey', '-noout', '-name', 'prime256v1', '-out', key]);
    const pub = path.join(dir, 'explicit.der');
    openssl([
      'ec',
      '-in',
      key,
      '-pubout',
      '-outform',
      'DER',
      '-param_enc',
      'explicit',
      '-out',
      pub,
    ]);
    const der = new Uint8Array(fs.readFileSync(pub));
    expect(codeOf(() => formatDppUri({ key: der }))).toBe('ERR_DPP_URI');
  });
});
