/**
 * Strictness vectors for the DER reader (der.ts) and the certificate parser (certificate.ts):
 * both read bytes from untrusted peers (a device's TLS client certificate, x5c in vouchers), so
 * every malformed input must end in an AirlockError with a known code, never in a TypeError or
 * RangeError and never in silent acceptance. Mutated certificates are rebuilt with the project's
 * DER writer so that the lengths of the enclosing SEQUENCEs stay right and only the mutation is wrong.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/core/errors.js';
import { concatBytes, utf8 } from '../../src/core/bytes.js';
import {
  DerReader,
  Tag,
  decodeOid,
  decodeTime,
  encodeOid,
  tlv,
  type Tlv,
} from '../../src/protocols/x509/der.js';
import { parseCertificate, type Certificate } from '../../src/protocols/x509/certificate.js';
import { verifyChain } from '../../src/protocols/x509/chain.js';
import { Oid } from '../../src/protocols/x509/oids.js';
import { caProfile, idevidProfile } from '../../src/protocols/x509/profiles.js';
import { T0, crypto, issue, manufacturerPki, type Pair } from '../support/pki.js';

const CODE = 'ERR_CERT_MALFORMED';
const bytes = (...b: number[]) => new Uint8Array(b);

/** Asserts a typed refusal: an AirlockError with `code`, not another kind of exception. */
function refuses(fn: () => unknown, code: string = CODE): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'accepted silently').toBeDefined();
  expect(thrown).toBeInstanceOf(AirlockError);
  expect((thrown as AirlockError).code).toBe(code);
}

/** Reads one whole element, as a caller would: the element, then nothing after it. */
function readOne(b: Uint8Array): Tlv {
  const r = new DerReader(b, CODE);
  const t = r.read();
  r.end();
  return t;
}

/** The raw encodings of the elements inside a constructed element's contents. */
function children(contents: Uint8Array): Uint8Array[] {
  const r = new DerReader(contents, CODE);
  const out: Uint8Array[] = [];
  while (!r.done) out.push(r.read().raw);
  return out;
}

// ---------------------------------------------------------------------------------------------
describe('DER reader', () => {
  it('reads minimal short, one-byte and two-byte lengths (controls)', () => {
    expect(readOne(bytes(0x04, 0x01, 0xaa)).value).toEqual(bytes(0xaa));
    expect(readOne(concatBytes(bytes(0x04, 0x81, 0x80), new Uint8Array(0x80))).value.length).toBe(
      0x80,
    );
    expect(
      readOne(concatBytes(bytes(0x04, 0x82, 0x01, 0x00), new Uint8Array(0x100))).value.length,
    ).toBe(0x100);
    expect(readOne(bytes(0x04, 0x00)).value.length).toBe(0);
  });

  it('refuses empty input', () => {
    refuses(() => new DerReader(new Uint8Array(0), CODE).read());
    refuses(() => new DerReader(new Uint8Array(0), CODE).read(Tag.SEQUENCE));
  });

  it('refuses non-minimal lengths: 0x81 with a value below 128, 0x82 with a leading zero byte', () => {
    refuses(() => readOne(bytes(0x04, 0x81, 0x01, 0xaa)));
    refuses(() => readOne(concatBytes(bytes(0x04, 0x81, 0x7f), new Uint8Array(0x7f))));
    refuses(() => readOne(bytes(0x04, 0x81, 0x00)));
    refuses(() => readOne(concatBytes(bytes(0x04, 0x82, 0x00, 0x80), new Uint8Array(0x80))));
    refuses(() => readOne(concatBytes(bytes(0x04, 0x82, 0x00, 0x05), new Uint8Array(5))));
    refuses(() => readOne(concatBytes(bytes(0x04, 0x83, 0x00, 0x01, 0x00), new Uint8Array(0x100))));
  });

  it('refuses the indefinite length form (0x80)', () => {
    refuses(() => readOne(bytes(0x30, 0x80, 0x04, 0x01, 0xaa, 0x00, 0x00)));
    refuses(() => readOne(bytes(0x30, 0x80)));
  });

  it('refuses lengths with four or more length bytes', () => {
    refuses(() => readOne(concatBytes(bytes(0x04, 0x84, 0x00, 0x00, 0x00, 0x01), bytes(0xaa))));
    refuses(() => readOne(concatBytes(bytes(0x04, 0x84, 0x01, 0x00, 0x00, 0x00))));
    refuses(() => readOne(bytes(0x04, 0x85, 0x00, 0x00, 0x00, 0x00, 0x01, 0xaa)));
    refuses(() => readOne(bytes(0x04, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)));
    refuses(() => readOne(bytes(0x04, 0xff)));
  });

  it('refuses lengths longer than the bytes that remain, and truncated headers', () => {
    refuses(() => readOne(bytes(0x04, 0x05, 0x01, 0x02)));
    refuses(() => readOne(bytes(0x04, 0x81, 0xff)));
    refuses(() => readOne(bytes(0x04, 0x82, 0x01)));
    refuses(() => readOne(bytes(0x04)));
    refuses(() => new DerReader(readOne(bytes(0x30, 0x03, 0x04, 0x05, 0xaa)).value, CODE).read()); // an inner length past the outer element
  });

  it('refuses the high-tag-number form (tag low bits 0x1f)', () => {
    refuses(() => readOne(bytes(0x1f, 0x22, 0x01, 0xaa)));
    refuses(() => readOne(bytes(0x3f, 0x81, 0x00, 0x00)));
    refuses(() => readOne(bytes(0x9f, 0x01, 0x01, 0xaa)));
    refuses(() => readOne(bytes(0xbf, 0x7f, 0x00)));
  });

  it('refuses trailing bytes after the outer element', () => {
    refuses(() => readOne(bytes(0x04, 0x01, 0xaa, 0x00)));
    refuses(() => readOne(bytes(0x30, 0x00, 0x30, 0x00)));
    const r = new DerReader(bytes(0x30, 0x03, 0x04, 0x01, 0xaa, 0x05), CODE);
    r.read(Tag.SEQUENCE);
    refuses(() => r.end());
  });

  it('refuses an unexpected tag', () => {
    refuses(() => new DerReader(bytes(0x04, 0x00), CODE).read(Tag.SEQUENCE));
    refuses(() => new DerReader(bytes(0x31, 0x00), CODE).enter(Tag.SEQUENCE));
  });

  it('decodes OIDs and refuses empty, truncated and non-minimal ones', () => {
    expect(decodeOid(encodeOid(Oid.ecdsaWithSha256).subarray(2))).toBe(Oid.ecdsaWithSha256);
    refuses(() => decodeOid(new Uint8Array(0)));
    refuses(() => decodeOid(bytes(0x2a, 0x86))); // the last sub-identifier does not end
    refuses(() => decodeOid(bytes(0x80, 0x2a))); // leading 0x80 in the first sub-identifier
    refuses(() => decodeOid(bytes(0x2a, 0x80, 0x86, 0x48))); // leading 0x80 in a later one
    refuses(() => decodeOid(bytes(0x2a, 0x86, 0x48, 0x80, 0x01)));
  });

  it('decodes times and refuses bad ones', () => {
    const utc = (s: string): Tlv => readOne(tlv(Tag.UTCTime, utf8(s)));
    const gen = (s: string): Tlv => readOne(tlv(Tag.GeneralizedTime, utf8(s)));
    expect(decodeTime(utc('260101000000Z'), CODE).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(decodeTime(utc('491231235959Z'), CODE).toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(decodeTime(utc('500101000000Z'), CODE).toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(decodeTime(gen('99991231235959Z'), CODE).toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(decodeTime(utc('240229120000Z'), CODE).toISOString()).toBe('2024-02-29T12:00:00.000Z');
    const badUtc = [
      '2601010000Z', // no seconds (DER requires them)
      '26010100000Z', // one digit short
      '2601010000000Z', // one digit long
      '26O101000000Z', // a letter
      '2601010000 0Z',
      '260101000000', // no Z
      '260101000000+0100', // an offset
      '260101000000z',
      '261301000000Z', // month 13
      '260001000000Z', // month 0
      '260100000000Z', // day 0
      '260132000000Z', // day 32
      '250229000000Z', // 29 February outside a leap year
      '260431000000Z', // 31 April
      '260101240000Z', // hour 24
      '260101006000Z', // minute 60
      '260101000060Z', // second 60
      '',
    ];
    for (const s of badUtc) refuses(() => decodeTime(utc(s), CODE));
    for (const s of [
      '2026010100000Z',
      '20260101000000',
      '20261301000000Z',
      '20260101000000.5Z',
      '260101000000Z',
      '2026010100000aZ',
    ])
      refuses(() => decodeTime(gen(s), CODE));
    // A time under any other tag (OCTET STRING, PrintableString) is not a time.
    refuses(() => decodeTime(readOne(tlv(Tag.OCTET_STRING, utf8('20260101000000Z'))), CODE));
    refuses(() => decodeTime(readOne(tlv(Tag.PrintableString, utf8('260101000000Z'))), CODE));
  });
});

// ---------------------------------------------------------------------------------------------
describe('certificate parser', () => {
  let pki: Awaited<ReturnType<typeof manufacturerPki>>;
  let leaf: Pair;
  let der: Uint8Array;
  /** [tbs, signatureAlgorithm, signatureValue] */
  let cert: Uint8Array[];
  /** [version, serial, signature, issuer, validity, subject, spki, extensions] */
  let tbs: Uint8Array[];

  beforeAll(async () => {
    pki = await manufacturerPki();
    leaf = await issue(
      idevidProfile({
        serialNumber: 'SN-DER',
        model: 'm1',
        manufacturer: 'Test Maker',
        masaUrl: 'https://masa.example',
        notBefore: T0,
      }),
      pki.idevidCa,
    );
    der = leaf.cert.der;
    cert = children(readOne(der).value);
    tbs = children(readOne(cert[0]!).value);
  });

  /** A certificate with the TBS fields replaced (the signature no longer matches: parsing does not check it). */
  const withTbs = (fields: Uint8Array[], rest: Uint8Array[] = cert.slice(1)) =>
    tlv(Tag.SEQUENCE, tlv(Tag.SEQUENCE, ...fields), ...rest);
  const replace = (fields: Uint8Array[], i: number, ...by: Uint8Array[]) => [
    ...fields.slice(0, i),
    ...by,
    ...fields.slice(i + 1),
  ];
  const extensionList = () => children(readOne(readOne(tbs[7]!).value).value);
  const withExtensions = (exts: Uint8Array[]) =>
    withTbs(replace(tbs, 7, tlv(0xa3, tlv(Tag.SEQUENCE, ...exts))));

  it('parses the unmutated certificate and its rebuilt copy (controls)', () => {
    expect(tbs).toHaveLength(8);
    expect(parseCertificate(der).subjectSerialNumber).toBe('SN-DER');
    expect(withTbs(tbs)).toEqual(der);
    expect(
      verifyChain(crypto, {
        leaf: leaf.cert,
        intermediates: [pki.idevidCa.cert],
        anchors: [pki.root.cert],
        at: new Date('2027-01-01'),
      }),
    ).toHaveLength(3);
  });

  it('refuses the certificate truncated at every offset', () => {
    for (let n = 0; n < der.length; n++) refuses(() => parseCertificate(der.subarray(0, n)));
  });

  it('refuses the TBS truncated at every offset and re-wrapped with fixed lengths, except where the optional tail begins', () => {
    const body = readOne(cert[0]!).value;
    const accepted: number[] = [];
    for (let n = 0; n < body.length; n++) {
      const mutated = tlv(Tag.SEQUENCE, tlv(Tag.SEQUENCE, body.subarray(0, n)), ...cert.slice(1));
      try {
        parseCertificate(mutated);
        accepted.push(n);
      } catch (e) {
        expect(e).toBeInstanceOf(AirlockError);
        expect((e as AirlockError).code).toBe(CODE);
      }
    }
    // Only the TBS without its (optional) extensions is well formed.
    expect(accepted).toEqual([tbs.slice(0, 7).reduce((n, f) => n + f.length, 0)]);
  });

  it('refuses trailing bytes after the certificate, the signature, the TBS fields, the validity and an extension', () => {
    for (const tail of [bytes(0x00), bytes(0x00, 0x00), bytes(0x30, 0x00), bytes(0x05, 0x00)]) {
      refuses(() => parseCertificate(concatBytes(der, tail)));
      refuses(() => parseCertificate(withTbs(tbs, [...cert.slice(1), tail])));
      refuses(() => parseCertificate(withTbs([...tbs, tail])));
    }
    const validity = children(readOne(tbs[4]!).value);
    refuses(() =>
      parseCertificate(withTbs(replace(tbs, 4, tlv(Tag.SEQUENCE, ...validity, validity[1]!)))),
    );
    const exts = extensionList();
    refuses(() =>
      parseCertificate(
        withExtensions([
          tlv(Tag.SEQUENCE, ...children(readOne(exts[0]!).value), bytes(0x05, 0x00)),
          ...exts.slice(1),
        ]),
      ),
    );
    // After the extensions SEQUENCE, inside [3].
    refuses(() =>
      parseCertificate(
        withTbs(replace(tbs, 7, tlv(0xa3, tlv(Tag.SEQUENCE, ...exts), bytes(0x05, 0x00)))),
      ),
    );
  });

  it('refuses non-minimal and indefinite lengths on the outer SEQUENCE and the TBS', () => {
    const content = readOne(der).value;
    expect(content.length).toBeGreaterThan(0xff);
    expect(content.length).toBeLessThan(0x10000);
    const long = (tag: number, c: Uint8Array) =>
      concatBytes(bytes(tag, 0x83, 0x00, c.length >> 8, c.length & 0xff), c);
    refuses(() => parseCertificate(long(0x30, content)));
    refuses(() => parseCertificate(concatBytes(bytes(0x30, 0x80), content, bytes(0x00, 0x00))));
    refuses(() =>
      parseCertificate(
        concatBytes(
          bytes(0x30, 0x84, 0x00, 0x00, content.length >> 8, content.length & 0xff),
          content,
        ),
      ),
    );
    const tbsContent = readOne(cert[0]!).value;
    refuses(() => parseCertificate(tlv(Tag.SEQUENCE, long(0x30, tbsContent), ...cert.slice(1))));
    // A short length written in the long form, on a small inner element (the serial number).
    const serial = readOne(tbs[1]!).value;
    refuses(() =>
      parseCertificate(
        withTbs(replace(tbs, 1, concatBytes(bytes(0x02, 0x81, serial.length), serial))),
      ),
    );
  });

  it('refuses a corrupt signature algorithm OID (inside and outside alike, so only the encoding is wrong)', () => {
    const oid = encodeOid(Oid.ecdsaWithSha256).subarray(2);
    const variants = [
      new Uint8Array(0), // empty
      concatBytes(bytes(0x80), oid), // 0x80 leading sub-identifier byte
      concatBytes(oid.subarray(0, 1), bytes(0x80), oid.subarray(1)), // 0x80 leading byte in a later arc
      concatBytes(oid.subarray(0, oid.length - 1), bytes(oid[oid.length - 1]! | 0x80)), // never ends
    ];
    for (const v of variants) {
      const alg = tlv(Tag.SEQUENCE, tlv(Tag.OID, v));
      refuses(() => parseCertificate(withTbs(replace(tbs, 2, alg), [alg, cert[2]!])));
    }
    // An algorithm that is not an OID at all, and one that differs inside and outside.
    const notOid = tlv(Tag.SEQUENCE, tlv(Tag.OCTET_STRING, oid));
    refuses(() => parseCertificate(withTbs(replace(tbs, 2, notOid), [notOid, cert[2]!])));
    refuses(() =>
      parseCertificate(
        withTbs(tbs, [tlv(Tag.SEQUENCE, encodeOid('1.2.840.10045.4.3.3')), cert[2]!]),
      ),
    );
    refuses(() => parseCertificate(withTbs(tbs, [tlv(Tag.SEQUENCE), cert[2]!])));
  });

  it('refuses a malformed signature BIT STRING', () => {
    const sig = readOne(cert[2]!).value;
    refuses(() => parseCertificate(withTbs(tbs, [cert[1]!, tlv(Tag.BIT_STRING)])));
    refuses(() =>
      parseCertificate(withTbs(tbs, [cert[1]!, tlv(Tag.BIT_STRING, bytes(0x03), sig.subarray(1))])),
    );
    refuses(() => parseCertificate(withTbs(tbs, [cert[1]!, tlv(Tag.OCTET_STRING, sig)])));
    refuses(() => parseCertificate(withTbs(tbs, [cert[1]!])));
  });

  it('refuses bad notBefore and notAfter times', () => {
    const [notBefore, notAfter] = children(readOne(tbs[4]!).value) as [Uint8Array, Uint8Array];
    expect(notBefore[0]).toBe(Tag.UTCTime);
    expect(notAfter[0]).toBe(Tag.GeneralizedTime); // the IDevID's 99991231235959Z
    const bad = [
      tlv(Tag.UTCTime, utf8('2601010000Z')), // wrong length
      tlv(Tag.UTCTime, utf8('26O101000000Z')), // letter
      tlv(Tag.UTCTime, utf8('261301000000Z')), // month 13
      tlv(Tag.UTCTime, utf8('260101000000')), // missing Z
      tlv(Tag.GeneralizedTime, utf8('20261301000000Z')),
      tlv(Tag.GeneralizedTime, utf8('99991231235959')),
      tlv(Tag.GeneralizedTime, utf8('9999123123595Z')),
      tlv(Tag.GeneralizedTime, utf8('99991231236059Z')),
      // Swapped type tags: each body under the other's tag.
      tlv(Tag.GeneralizedTime, readOne(notBefore).value),
      tlv(Tag.UTCTime, readOne(notAfter).value),
      // Not a time type at all.
      tlv(Tag.OCTET_STRING, readOne(notAfter).value),
      tlv(Tag.PrintableString, readOne(notBefore).value),
      tlv(Tag.INTEGER, bytes(0x01)),
      tlv(Tag.UTCTime),
    ];
    for (const t of bad) {
      refuses(() => parseCertificate(withTbs(replace(tbs, 4, tlv(Tag.SEQUENCE, t, notAfter)))));
      refuses(() => parseCertificate(withTbs(replace(tbs, 4, tlv(Tag.SEQUENCE, notBefore, t)))));
    }
    refuses(() => parseCertificate(withTbs(replace(tbs, 4, tlv(Tag.SEQUENCE, notBefore)))));
    refuses(() => parseCertificate(withTbs(replace(tbs, 4, tlv(Tag.SEQUENCE)))));
    refuses(() => parseCertificate(withTbs(replace(tbs, 4, tlv(Tag.SET, notBefore, notAfter)))));
  });

  it('refuses a duplicate extension (RFC 5280 section 4.2)', () => {
    const exts = extensionList();
    for (let i = 0; i < exts.length; i++)
      refuses(() => parseCertificate(withExtensions([...exts, exts[i]!])));
    // The same OID twice with different contents and criticality.
    const masa = exts.find(
      (e) => decodeOid(readOne(children(readOne(e).value)[0]!).value) === Oid.masaUrl,
    )!;
    const other = tlv(
      Tag.SEQUENCE,
      encodeOid(Oid.masaUrl),
      tlv(Tag.BOOLEAN, bytes(0xff)),
      tlv(Tag.OCTET_STRING, tlv(Tag.IA5String, utf8('https://evil.example'))),
    );
    refuses(() =>
      parseCertificate(withExtensions([...exts.filter((e) => e !== masa), other, masa])),
    );
  });

  it('refuses malformed extensions: bad BOOLEAN, missing value, wrong order, an empty list', () => {
    const exts = extensionList();
    const first = children(readOne(exts[0]!).value); // basicConstraints: OID, critical TRUE, value
    expect(first).toHaveLength(3);
    const withFirst = (...fields: Uint8Array[]) =>
      withExtensions([tlv(Tag.SEQUENCE, ...fields), ...exts.slice(1)]);
    refuses(() => parseCertificate(withFirst(first[0]!, tlv(Tag.BOOLEAN, bytes(0x01)), first[2]!))); // BOOLEAN neither 0x00 nor 0xff
    refuses(() =>
      parseCertificate(withFirst(first[0]!, tlv(Tag.BOOLEAN, bytes(0xff, 0xff)), first[2]!)),
    );
    refuses(() => parseCertificate(withFirst(first[0]!, tlv(Tag.BOOLEAN), first[2]!)));
    refuses(() => parseCertificate(withFirst(first[0]!, first[1]!))); // no extnValue
    refuses(() => parseCertificate(withFirst(first[1]!, first[0]!, first[2]!))); // critical before the OID
    refuses(() => parseCertificate(withFirst(first[0]!, first[2]!, first[1]!))); // critical after the value
    refuses(() => parseCertificate(withFirst(tlv(Tag.OID), first[1]!, first[2]!)));
    // Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension.
    refuses(() => parseCertificate(withExtensions([])));
    refuses(() => parseCertificate(withTbs(replace(tbs, 7, tlv(0xa3)))));
    refuses(() => parseCertificate(withTbs(replace(tbs, 7, tlv(0xa3, tlv(Tag.SET, ...exts))))));
  });

  it('refuses a version other than v3, and a certificate with extensions but no version', () => {
    for (const v of [0, 1, 3, 0x7f])
      refuses(() =>
        parseCertificate(withTbs(replace(tbs, 0, tlv(0xa0, tlv(Tag.INTEGER, bytes(v)))))),
      );
    refuses(() =>
      parseCertificate(withTbs(replace(tbs, 0, tlv(0xa0, tlv(Tag.INTEGER, bytes(0x00, 0x02)))))),
    ); // non-minimal 2
    refuses(() =>
      parseCertificate(withTbs(replace(tbs, 0, tlv(0xa0, tlv(Tag.OCTET_STRING, bytes(0x02)))))),
    ); // 2, but not an INTEGER
    refuses(() =>
      parseCertificate(
        withTbs(replace(tbs, 0, tlv(0xa0, tlv(Tag.INTEGER, bytes(0x02)), bytes(0x00)))),
      ),
    );
    refuses(() => parseCertificate(withTbs(replace(tbs, 0, tlv(0xa0)))));
    // Absent version means v1, and a v1 certificate has no extensions (RFC 5280 section 4.1.2.1).
    refuses(() => parseCertificate(withTbs(tbs.slice(1))));
  });

  it('refuses an empty or non-minimal serial number', () => {
    const serial = readOne(tbs[1]!).value;
    refuses(() => parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.INTEGER)))));
    refuses(() =>
      parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.INTEGER, bytes(0x00), serial)))),
    );
    refuses(() => parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.INTEGER, bytes(0x00, 0x01))))));
    refuses(() => parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.INTEGER, bytes(0xff, 0x80))))));
    refuses(() => parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.OCTET_STRING, serial)))));
    // Controls: a positive serial with its high bit set carries one 0x00, and that is minimal.
    expect(
      parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.INTEGER, bytes(0x00, 0x80, 0x01))))).serial,
    ).toBe('8001');
    expect(parseCertificate(withTbs(replace(tbs, 1, tlv(Tag.INTEGER, bytes(0x01))))).serial).toBe(
      '01',
    );
  });

  it('refuses high-tag-number and unknown elements in the TBS', () => {
    refuses(() =>
      parseCertificate(withTbs([...tbs.slice(0, 7), bytes(0x9f, 0x1f, 0x00), tbs[7]!])),
    );
    refuses(() => parseCertificate(withTbs([...tbs.slice(0, 7), bytes(0xa4, 0x00), tbs[7]!])));
    refuses(() => parseCertificate(withTbs([...tbs.slice(0, 7), tbs[7]!, bytes(0xa4, 0x00)])));
  });

  it('parses an unknown critical extension, and the chain check refuses it', async () => {
    const value = tlv(Tag.SEQUENCE, tlv(Tag.INTEGER, bytes(0x01)));
    const unknownOid = '1.3.6.1.4.1.55555.1';
    const d = await issue(
      {
        ...idevidProfile({
          serialNumber: 'SN-CRIT',
          model: 'm1',
          manufacturer: 'Test Maker',
          masaUrl: 'https://masa.example',
          notBefore: T0,
        }),
        extra: [{ oid: unknownOid, value, critical: true }],
      },
      pki.idevidCa,
    );
    expect(d.cert.criticalExtensions).toContain(unknownOid);
    const at = new Date('2027-01-01');
    refuses(
      () =>
        verifyChain(crypto, {
          leaf: d.cert,
          intermediates: [pki.idevidCa.cert],
          anchors: [pki.root.cert],
          at,
        }),
      'ERR_CERT_UNTRUSTED',
    );
    // Not critical: understood or not, it is ignored.
    const ok = await issue(
      {
        ...idevidProfile({
          serialNumber: 'SN-NC',
          model: 'm1',
          manufacturer: 'Test Maker',
          masaUrl: 'https://masa.example',
          notBefore: T0,
        }),
        extra: [{ oid: unknownOid, value, critical: false }],
      },
      pki.idevidCa,
    );
    expect(
      verifyChain(crypto, {
        leaf: ok.cert,
        intermediates: [pki.idevidCa.cert],
        anchors: [pki.root.cert],
        at,
      }),
    ).toHaveLength(3);
    // On an intermediate CA too.
    const ca = await issue(
      {
        ...caProfile({ name: 'Crit CA', notBefore: T0, notAfter: new Date('2040-01-01') }),
        extra: [{ oid: unknownOid, value, critical: true }],
      },
      pki.root,
    );
    const under: Certificate = (
      await issue(
        idevidProfile({
          serialNumber: 'SN-U',
          model: 'm1',
          manufacturer: 'Test Maker',
          masaUrl: 'https://masa.example',
          notBefore: T0,
        }),
        ca,
      )
    ).cert;
    refuses(
      () =>
        verifyChain(crypto, {
          leaf: under,
          intermediates: [ca.cert],
          anchors: [pki.root.cert],
          at,
        }),
      'ERR_CERT_UNTRUSTED',
    );
  });

  it('never throws anything but AirlockError for single-byte corruptions of the certificate', () => {
    // Not every corruption is refused (a changed byte inside a name or key is still well formed);
    // what is checked is that nothing else escapes the parser.
    for (let i = 0; i < der.length; i++) {
      for (const x of [0x00, 0x80, 0xff, der[i]! ^ 0x01, 0x1f]) {
        const mutated = der.slice();
        mutated[i] = x;
        try {
          parseCertificate(mutated);
        } catch (e) {
          expect(e).toBeInstanceOf(AirlockError);
          expect((e as AirlockError).code).toBe(CODE);
        }
      }
    }
  });
});
