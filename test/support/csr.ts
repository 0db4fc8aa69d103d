/**
 * PKCS#10 requests for any key node:crypto can make (P-384, P-521, RSA, Ed25519), to test
 * what the registrar certifies beyond the device agent's P-256 requests.
 */
import * as nodeCrypto from 'node:crypto';
import { Tag, encodeOid, tlv } from '../../src/protocols/x509/der.js';

export type TestKeySpec = 'P-256' | 'P-384' | 'P-521' | 'RSA-1024' | 'RSA-2048' | 'Ed25519';

export interface TestKey {
  spec: TestKeySpec;
  privateKey: nodeCrypto.KeyObject;
  spki: Uint8Array;
  pkcs8Pem: string;
}

export function testKey(spec: TestKeySpec): TestKey {
  const pair =
    spec === 'Ed25519'
      ? nodeCrypto.generateKeyPairSync('ed25519')
      : spec.startsWith('RSA')
        ? nodeCrypto.generateKeyPairSync('rsa', { modulusLength: Number(spec.slice(4)) })
        : nodeCrypto.generateKeyPairSync('ec', { namedCurve: spec });
  return {
    spec,
    privateKey: pair.privateKey,
    spki: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
    pkcs8Pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
  };
}

const SIG = {
  'ecdsa-with-SHA256': { oid: '1.2.840.10045.4.3.2', hash: 'sha256', params: false },
  'ecdsa-with-SHA384': { oid: '1.2.840.10045.4.3.3', hash: 'sha384', params: false },
  sha256WithRSAEncryption: { oid: '1.2.840.113549.1.1.11', hash: 'sha256', params: true },
  Ed25519: { oid: '1.3.101.112', hash: null, params: false },
} as const;

/** A request for `key`, subject CN=`commonName`, signed by `signer` (by default the key itself). */
export function testCsr(
  key: TestKey,
  commonName: string,
  opts: { alg?: keyof typeof SIG; signer?: TestKey } = {},
): Uint8Array {
  const signer = opts.signer ?? key;
  const alg =
    SIG[
      opts.alg ??
        (signer.spec === 'Ed25519'
          ? 'Ed25519'
          : signer.spec.startsWith('RSA')
            ? 'sha256WithRSAEncryption'
            : signer.spec === 'P-384'
              ? 'ecdsa-with-SHA384'
              : 'ecdsa-with-SHA256')
    ];
  const name = tlv(
    Tag.SEQUENCE,
    tlv(
      Tag.SET,
      tlv(
        Tag.SEQUENCE,
        encodeOid('2.5.4.3'),
        tlv(Tag.UTF8String, new TextEncoder().encode(commonName)),
      ),
    ),
  );
  const info = tlv(Tag.SEQUENCE, tlv(Tag.INTEGER, new Uint8Array([0])), name, key.spki, tlv(0xa0));
  const signature = new Uint8Array(nodeCrypto.sign(alg.hash, info, signer.privateKey));
  const algId = tlv(Tag.SEQUENCE, encodeOid(alg.oid), ...(alg.params ? [tlv(Tag.NULL)] : []));
  return tlv(Tag.SEQUENCE, info, algId, tlv(Tag.BIT_STRING, new Uint8Array([0]), signature));
}
