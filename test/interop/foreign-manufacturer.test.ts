/**
 * Trusting a manufacturer that is not Airlock (trust file airlock-foreign-manufacturer/1):
 * real birth certificates from other implementations are read as their trust file says (the
 * serial number from the subject serialNumber, CN or hardwareModuleName; the MASA URL from
 * id-pe-masa-url or the override, never from a vendor's private OID) and verified to the
 * configured IDevID CA at an injected time. Airlock's own trust bundle keeps working beside.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { fromPem, toBase64 } from '../../src/core/bytes.js';
import { parseCertificate, type Certificate } from '../../src/protocols/x509/certificate.js';
import { encodeOid, tlv, Tag } from '../../src/protocols/x509/der.js';
import { Oid } from '../../src/protocols/x509/oids.js';
import { idevidProfile } from '../../src/protocols/x509/profiles.js';
import {
  decodeAnyTrustFile,
  encodeForeignTrustFile,
  encodeTrustFile,
  isForeign,
  type ForeignManufacturerTrust,
  type SerialNumberFrom,
} from '../../src/roles/shared/trust.js';
import {
  masaUrlOf,
  serialOf,
  TrustedManufacturers,
  voucherAnchorsOf,
} from '../../src/roles/network/manufacturers.js';
import { readInterop } from '../support/interop.js';
import { codeOf } from '../support/errors.js';
import { device, issue, manufacturerPki, T0 } from '../support/pki.js';

const crypto = new NodeCrypto();
const pem = (...p: string[]): Certificate => parseCertificate(fromPem(readInterop(...p))[0]!);
const at2025 = new Date('2025-01-01T00:00:00Z');

function foreign(
  idevidCas: Certificate[],
  serialNumberFrom: SerialNumberFrom,
  masaUrl?: string,
): ForeignManufacturerTrust {
  const file = encodeForeignTrustFile({
    kind: 'foreign',
    idevidCas,
    masaTrustAnchors: [pem('vouchers', 'cose', 'masa_ca.pem')],
    masaUrl,
    serialNumberFrom,
  });
  // Installed while its CA is valid (the file refuses a CA outside its validity).
  const t = decodeAnyTrustFile(
    crypto,
    JSON.parse(JSON.stringify(file)),
    new Date(idevidCas[0]!.notBefore.getTime() + 86_400_000),
  );
  if (!isForeign(t)) throw new Error('expected a foreign trust');
  return t;
}

describe('foreign manufacturers', () => {
  const trustnetzCa = pem('idevid', 'trustnetz-idevid-ca.crt');
  const trustnetz = pem('idevid', 'trustnetz-idevid.crt');
  const fountain = pem('idevid', 'fountain-00-D0-E5-02-00-1B_device.crt');
  const fountainCa = pem('vouchers', 'fountain', 'cert_vendor_secp384r1.crt');
  const cisco = pem('idevid', 'cisco-idevid1-example.pem');

  it('TrustNetZ: serial from the subject serialNumber, verified to its CA at the injected time, MASA URL only from the override', () => {
    const plain = new TrustedManufacturers(crypto, [foreign([trustnetzCa], 'serialNumber')]);
    expect(plain.identify(trustnetz, at2025)).toMatchObject({
      serial: 'idev-serial12345',
      masaUrl: undefined,
    });
    const withUrl = new TrustedManufacturers(crypto, [
      foreign([trustnetzCa], 'serialNumber', 'https://masa.trustnetz.example:8443'),
    ]);
    expect(withUrl.identify(trustnetz, at2025)).toMatchObject({
      serial: 'idev-serial12345',
      masaUrl: 'https://masa.trustnetz.example:8443',
    });
    // Before the CA's validity, and under a CA of another name, it is refused.
    expect(codeOf(() => plain.identify(trustnetz, new Date('2023-01-01T00:00:00Z')))).toBe(
      'ERR_IDEVID_UNTRUSTED',
    );
    expect(
      codeOf(() =>
        new TrustedManufacturers(crypto, [foreign([fountainCa], 'serialNumber')]).identify(
          trustnetz,
          at2025,
        ),
      ),
    ).toBe('ERR_IDEVID_UNTRUSTED');
    // CN says something else: the configuration decides, not a guess.
    expect(serialOf(trustnetz, foreign([trustnetzCa], 'cn'))).toBe('idev-meta');
  });

  it('fountain: serial from the CN; the private-OID MASA URL is ignored unless overridden; the corpus CA of the same name but another key does not verify it', () => {
    const t = foreign([fountainCa], 'cn');
    expect(serialOf(fountain, t)).toBe('00-D0-E5-02-00-1B');
    expect(masaUrlOf(fountain, t)).toBeUndefined();
    expect(
      masaUrlOf(fountain, foreign([fountainCa], 'cn', 'https://masa.honeydukes.sandelman.ca')),
    ).toBe('https://masa.honeydukes.sandelman.ca');
    // Its SAN otherName is fountain's private OID, not an RFC 4108 hardwareModuleName.
    expect(codeOf(() => serialOf(fountain, foreign([fountainCa], 'hardwareModuleName')))).toBe(
      'ERR_IDEVID_INVALID',
    );
    expect(codeOf(() => serialOf(fountain, foreign([fountainCa], 'serialNumber')))).toBe(
      'ERR_IDEVID_INVALID',
    );
    expect(
      codeOf(() =>
        new TrustedManufacturers(crypto, [t]).identify(fountain, new Date('2019-01-01T00:00:00Z')),
      ),
    ).toBe('ERR_IDEVID_UNTRUSTED');
  });

  it('the vendor RSA IDevID (Cisco SUDI): serial from the subject serialNumber; without its CA configured, it is not trusted', () => {
    expect(serialOf(cisco, foreign([trustnetzCa], 'serialNumber'))).toBe(
      'PID:CHIMAY-U-AC SN:FDO27361XTF',
    );
    expect(
      codeOf(() =>
        new TrustedManufacturers(crypto, [foreign([trustnetzCa], 'serialNumber')]).identify(
          cisco,
          at2025,
        ),
      ),
    ).toBe('ERR_IDEVID_UNTRUSTED');
  });

  it('id-pe-masa-url without a scheme (anima-wg/voucher example) is taken as https; the override wins', () => {
    const c = pem('vouchers', 'cms', '00-D0-E5-F2-00-02.crt');
    expect(masaUrlOf(c, foreign([trustnetzCa], 'serialNumber'))).toBe(
      'https://highway-test.example.com:9443',
    );
    expect(masaUrlOf(c, foreign([trustnetzCa], 'serialNumber', 'https://other.example'))).toBe(
      'https://other.example',
    );
  });

  it('hardwareModuleName (RFC 4108) in the SAN otherName: text serials as text, binary ones as hex', async () => {
    const pki = await manufacturerPki('Foreign');
    const hmn = (serial: Uint8Array) =>
      tlv(
        Tag.SEQUENCE,
        tlv(
          0xa0,
          encodeOid('1.3.6.1.5.5.7.8.4'),
          tlv(
            0xa0,
            tlv(Tag.SEQUENCE, encodeOid('1.3.6.1.4.1.99999.1'), tlv(Tag.OCTET_STRING, serial)),
          ),
        ),
      );
    const make = async (serial: Uint8Array) => {
      const template = idevidProfile({
        serialNumber: 'IGNORED',
        model: 'm',
        manufacturer: 'Foreign',
        masaUrl: 'https://masa.foreign.example',
        notBefore: T0,
      });
      return (
        await issue(
          {
            ...template,
            extra: [
              ...(template.extra ?? []),
              { oid: Oid.subjectAltName, value: hmn(serial), critical: false },
            ],
          },
          pki.idevidCa,
        )
      ).cert;
    };
    const t = foreign([pki.idevidCa.cert], 'hardwareModuleName');
    const text = await make(new TextEncoder().encode('HW-0042'));
    const m = new TrustedManufacturers(crypto, [t]);
    expect(m.identify(text, new Date(T0.getTime() + 86_400_000))).toMatchObject({
      serial: 'HW-0042',
      masaUrl: 'https://masa.foreign.example',
    });
    expect(serialOf(await make(new Uint8Array([0x00, 0xd0, 0xe5, 0x10])), t)).toBe('00D0E510');
  });

  it("Airlock's trust bundle beside a foreign one: each device goes to its own manufacturer, and a foreign one is foreign", async () => {
    const pki = await manufacturerPki('Airlock Maker');
    const bundle = decodeAnyTrustFile(
      crypto,
      encodeTrustFile({
        root: pki.root.cert,
        idevidCa: pki.idevidCa.cert,
        masaCa: pki.masaCa.cert,
        declarationsCa: pki.declarationsCa.cert,
      }),
      T0,
    );
    expect(isForeign(bundle)).toBe(false);
    const ours = (await device(pki.idevidCa, 'AL-1')).cert;
    const m = new TrustedManufacturers(crypto, [bundle, foreign([trustnetzCa], 'serialNumber')]);
    const id = m.identify(ours, new Date(T0.getTime() + 86_400_000));
    expect(id).toMatchObject({ serial: 'AL-1', masaUrl: 'https://masa.example:8443' });
    expect(voucherAnchorsOf(id.trust).map((c) => toBase64(c.der))).toEqual([
      toBase64(pki.masaCa.cert.der),
    ]);
    expect(id.trust).toBe(bundle);
    expect(m.identify(trustnetz, at2025).serial).toBe('idev-serial12345');
    expect(isForeign(m.identify(trustnetz, at2025).trust)).toBe(true);
  });

  it('refuses a foreign trust file that is incomplete or unsafe', () => {
    const good = encodeForeignTrustFile(foreign([trustnetzCa], 'cn'));
    const bad = (patch: object) =>
      codeOf(() => decodeAnyTrustFile(crypto, { ...good, ...patch }, at2025));
    expect(bad({ serialNumberFrom: 'subjectAltName' })).toBe('ERR_CONFIG');
    expect(bad({ masaUrl: 'http://masa.example' })).toBe('ERR_CONFIG');
    expect(bad({ idevidCas: [] })).toBe('ERR_CONFIG');
    expect(bad({ masaTrustAnchors: undefined })).toBe('ERR_CONFIG');
    expect(bad({ idevidCas: [toBase64(trustnetz.der)] })).toBe('ERR_CONFIG');
    expect(bad({ idevidCas: ['AAAA'] })).toBe('ERR_CERT_MALFORMED');
    // Without serialNumberFrom, the subject serialNumber.
    const { serialNumberFrom: _omit, ...rest } = good;
    const t = decodeAnyTrustFile(crypto, rest, at2025);
    expect(isForeign(t) && t.serialNumberFrom).toBe('serialNumber');
  });
});
