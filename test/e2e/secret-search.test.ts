/**
 * The secrets search of trust-properties (4) could fail: each kind of leak, injected, is found.
 */
import * as nodeCrypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportPkcs8, generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { toPem } from '../../src/core/bytes.js';
import {
  captureOutput,
  findSecrets,
  privateKeyNeedles,
  textSecretNeedles,
} from '../support/secrets.js';

const psk = nodeCrypto.randomBytes(24).toString('base64url');
const pkcs8 = exportPkcs8(generateP256Key());
const keyObject = nodeCrypto.createPrivateKey({
  key: Buffer.from(pkcs8),
  format: 'der',
  type: 'pkcs8',
});
const jwk = keyObject.export({ format: 'jwk' });
const sec1 = keyObject.export({ format: 'der', type: 'sec1' });
const scalar = Buffer.from(jwk.d!, 'base64url');
const needles = [...textSecretNeedles('PSK', psk), ...privateKeyNeedles('key', pkcs8)];

/** `inner` inside unrelated bytes, `pad` bytes in, so that encodings of the whole do not start at the secret. */
function embedded(inner: Buffer, pad: number): Buffer {
  return Buffer.concat([nodeCrypto.randomBytes(pad), inner, nodeCrypto.randomBytes(7)]);
}

describe('the secrets search', () => {
  const leaks: Array<[string, string | Buffer]> = [
    ['PSK in clear', `{"psk":"${psk}"}`],
    ['PSK as base64', Buffer.from(psk).toString('base64')],
    ...[0, 1, 2].map((pad): [string, string] => [
      `PSK inside a base64 blob at offset ${pad}`,
      embedded(Buffer.from(psk), pad).toString('base64'),
    ]),
    ...[0, 1, 2].map((pad): [string, string] => [
      `PSK inside a base64url blob at offset ${pad}`,
      embedded(Buffer.from(psk), pad).toString('base64url'),
    ]),
    ['PSK as hex', Buffer.from(psk).toString('hex')],
    ['PSK as HEX', Buffer.from(psk).toString('hex').toUpperCase()],
    ['private key as a JWK d', JSON.stringify({ kty: 'EC', crv: 'P-256', d: jwk.d })],
    ['private key as SEC1 DER', embedded(sec1, 3)],
    ['private key as SEC1 PEM', keyObject.export({ format: 'pem', type: 'sec1' }) as string],
    ['private key as PKCS#8 DER', embedded(Buffer.from(pkcs8), 1)],
    ['private key as PKCS#8 PEM', toPem('PRIVATE KEY', pkcs8)],
    ['private key as a raw scalar', embedded(scalar, 5)],
    ['private key scalar as hex', scalar.toString('hex')],
    ['private key scalar as HEX', scalar.toString('hex').toUpperCase()],
    ['private key scalar as base64', scalar.toString('base64')],
    ['private key inside a base64 blob', embedded(Buffer.from(pkcs8), 2).toString('base64')],
  ];

  it.each(leaks)('finds %s', (_kind, haystack) => {
    expect(findSecrets(haystack, needles).length).toBeGreaterThan(0);
  });

  it('finds a PSK printed to stdout and a key written to stderr', () => {
    const capture = captureOutput();
    let out: { stdout: string; stderr: string };
    try {
      process.stdout.write(`psk=${psk}\n`);
      process.stderr.write(`d=${scalar.toString('hex')}\n`);
    } finally {
      out = capture.stop();
    }
    expect(findSecrets(out.stdout, needles)).toEqual(expect.arrayContaining(['PSK (raw)']));
    expect(findSecrets(out.stderr, needles)).toEqual(expect.arrayContaining(['key scalar (hex)']));
  });

  it('finds nothing where there is nothing', () => {
    const other = exportPkcs8(generateP256Key());
    for (const haystack of [
      nodeCrypto.randomBytes(4096),
      Buffer.from(other),
      toPem('PRIVATE KEY', other),
      Buffer.from(nodeCrypto.randomBytes(2048).toString('base64')),
    ]) {
      expect(findSecrets(haystack, needles)).toEqual([]);
    }
  });
});
