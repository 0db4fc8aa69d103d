/**
 * PKCS#10 certificate requests (RFC 2986) as a DPP Enrollee makes them for sta-dot1x (hostap's
 * dpp_build_csr): the subject, the key, and a challengePassword attribute (RFC 2985 section
 * 5.4.1, a UTF8String), signed with ECDSA. Written here with Airlock's DER writer and signed by
 * node:crypto, so that a test can make what an Enrollee must not send as easily as what it
 * must: a request for another key than the one it signs with, no challengePassword, another
 * one. `openssl req -verify` reads what this writes (test/protocols/dpp-configuration.test.ts).
 */
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { encodeOid, tlv, Tag } from '../../src/protocols/x509/der.js';

const CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';
const SIGNATURE_OID = {
  sha256: '1.2.840.10045.4.3.2',
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
} as const;

/** A key of node:crypto from its raw private scalar and uncompressed point, through a JWK. */
export function ecKeyFromScalar(
  crv: 'P-256' | 'P-384' | 'P-521',
  d: Uint8Array,
  point: Uint8Array,
): KeyObject {
  const n = (point.length - 1) / 2;
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv,
      d: b64(d),
      x: b64(point.subarray(1, 1 + n)),
      y: b64(point.subarray(1 + n)),
    },
    format: 'jwk',
  });
}

/** The DER SubjectPublicKeyInfo of a private key's public half. */
export function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' }));
}

export interface TestCsrOptions {
  /** The key that signs the request. */
  signer: KeyObject;
  /** The SubjectPublicKeyInfo the request names; default the signer's. */
  spki?: Uint8Array;
  /** The challengePassword attribute's value (UTF8String); none when undefined. */
  challengePassword?: string;
  commonName?: string;
  hash?: 'sha256' | 'sha384' | 'sha512';
}

/** A PKCS#10 CertificationRequest, DER. */
export function buildTestCsr(o: TestCsrOptions): Uint8Array {
  const hash = o.hash ?? 'sha256';
  const subject = tlv(
    Tag.SEQUENCE,
    tlv(
      Tag.SET,
      tlv(
        Tag.SEQUENCE,
        encodeOid('2.5.4.3'),
        tlv(Tag.UTF8String, new TextEncoder().encode(o.commonName ?? 'dpp-enrollee')),
      ),
    ),
  );
  const attributes =
    o.challengePassword === undefined
      ? tlv(0xa0)
      : tlv(
          0xa0,
          tlv(
            Tag.SEQUENCE,
            encodeOid(CHALLENGE_PASSWORD),
            tlv(Tag.SET, tlv(Tag.UTF8String, new TextEncoder().encode(o.challengePassword))),
          ),
        );
  const info = tlv(
    Tag.SEQUENCE,
    tlv(Tag.INTEGER, Uint8Array.of(0)),
    subject,
    o.spki ?? spkiOf(o.signer),
    attributes,
  );
  const signature = new Uint8Array(sign(hash, info, { key: o.signer, dsaEncoding: 'der' }));
  return tlv(
    Tag.SEQUENCE,
    info,
    tlv(Tag.SEQUENCE, encodeOid(SIGNATURE_OID[hash])),
    tlv(Tag.BIT_STRING, Uint8Array.of(0), signature),
  );
}
