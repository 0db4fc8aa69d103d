/**
 * Step 11 in the CSR (RFC 8520 section 10): the MUD URL extension asked for in an
 * extensionRequest attribute (RFC 2985 section 5.4.2). Airlock's requests carry it and read
 * it back; a request made by openssl with the extension reads the same; one that asks for it
 * twice, or holds no printable IA5String, is malformed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateP256Key } from '../../src/adapters/crypto/node-crypto.js';
import { buildCsr, verifyCsr } from '../../src/protocols/est/csr.js';
import { p1363ToDer } from '../../src/protocols/x509/ecdsa.js';
import { Oid } from '../../src/protocols/x509/oids.js';
import { Tag, encodeOid, tlv } from '../../src/protocols/x509/der.js';
import { crypto } from '../support/pki.js';
import { openssl } from '../support/tools.js';
import { codeOf } from '../support/errors.js';

const URL_ = 'https://maker.example/mud/t1.json';

/** A request for `key` whose attributes are `attributes` (the [0] contents), signed by it. */
function csrWith(attributes: Uint8Array): Uint8Array {
  const key = generateP256Key();
  const name = tlv(Tag.SEQUENCE);
  const info = tlv(
    Tag.SEQUENCE,
    tlv(Tag.INTEGER, new Uint8Array([0])),
    name,
    key.spki,
    tlv(0xa0, attributes),
  );
  return tlv(
    Tag.SEQUENCE,
    info,
    tlv(Tag.SEQUENCE, encodeOid(Oid.ecdsaWithSha256)),
    tlv(Tag.BIT_STRING, new Uint8Array([0]), p1363ToDer(crypto.signEs256(key, info))),
  );
}

const mudExt = (value: Uint8Array) =>
  tlv(Tag.SEQUENCE, encodeOid(Oid.mudUrl), tlv(Tag.OCTET_STRING, value));
const extensionRequest = (...exts: Uint8Array[]) =>
  tlv(Tag.SEQUENCE, encodeOid('1.2.840.113549.1.9.14'), tlv(Tag.SET, tlv(Tag.SEQUENCE, ...exts)));
const ia5 = (s: string) => tlv(Tag.IA5String, new TextEncoder().encode(s));

describe('the MUD URL in a CSR', () => {
  it("Airlock's device asks for it, and the registrar reads it back; without it there is none", () => {
    const key = generateP256Key();
    expect(verifyCsr(crypto, buildCsr(crypto, key, 'SN-1', { mudUrl: URL_ })).mudUrl).toBe(URL_);
    expect(verifyCsr(crypto, buildCsr(crypto, key, 'SN-1')).mudUrl).toBeUndefined();
  });

  it('reads the extension in a request openssl made', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-csr-mud-'));
    try {
      const keyFile = path.join(dir, 'key.pem');
      await openssl([
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        keyFile,
      ]);
      const out = path.join(dir, 'req.der');
      await openssl([
        'req',
        '-new',
        '-key',
        keyFile,
        '-subj',
        '/CN=SN-2',
        '-addext',
        `1.3.6.1.5.5.7.1.25=ASN1:IA5STRING:${URL_}`,
        '-addext',
        'keyUsage=digitalSignature',
        '-outform',
        'DER',
        '-out',
        out,
      ]);
      expect(verifyCsr(crypto, new Uint8Array(fs.readFileSync(out))).mudUrl).toBe(URL_);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ignores other extensions and attributes, and refuses a MUD URL asked for twice or not IA5', () => {
    const other = tlv(
      Tag.SEQUENCE,
      encodeOid('2.5.29.15'),
      tlv(Tag.OCTET_STRING, tlv(Tag.BIT_STRING, new Uint8Array([7, 0x80]))),
    );
    const challenge = tlv(
      Tag.SEQUENCE,
      encodeOid('1.2.840.113549.1.9.7'),
      tlv(Tag.SET, tlv(Tag.UTF8String, new TextEncoder().encode('pw'))),
    );
    expect(
      verifyCsr(
        crypto,
        csrWith(new Uint8Array([...challenge, ...extensionRequest(other, mudExt(ia5(URL_)))])),
      ).mudUrl,
    ).toBe(URL_);
    expect(
      codeOf(() =>
        verifyCsr(crypto, csrWith(extensionRequest(mudExt(ia5(URL_)), mudExt(ia5(URL_))))),
      ),
    ).toBe('ERR_CSR_MALFORMED');
    expect(
      codeOf(() =>
        verifyCsr(
          crypto,
          csrWith(extensionRequest(mudExt(tlv(Tag.UTF8String, new TextEncoder().encode(URL_))))),
        ),
      ),
    ).toBe('ERR_CSR_MALFORMED');
    expect(
      codeOf(() =>
        verifyCsr(crypto, csrWith(extensionRequest(mudExt(ia5('https://x.example/\x01'))))),
      ),
    ).toBe('ERR_CSR_MALFORMED');
  });
});
