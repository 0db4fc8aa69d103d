/**
 * A pledge built from openssl and curl only, written from RFC 8995 and RFC 7030 and nothing
 * of Airlock's: a CMS-signed voucher request (`openssl cms -sign`), TLS 1.2 with the IDevID
 * as client certificate (`curl --tls-max 1.2`), the voucher checked with `openssl cms -verify`,
 * then EST cacerts, simpleenroll with an `openssl req` CSR, and enrollstatus. Airlock only
 * mints the device (its birth credentials, as `airlock device export` writes them).
 *
 * And a registrar voucher request made with openssl gets a voucher from the MASA.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toPem } from '../../src/core/bytes.js';
import { privateKeyPem } from '../../src/adapters/crypto/node-crypto.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';
import { onPath, openssl, curlTls12 } from '../support/tools.js';

const toolsPresent = onPath('curl') && onPath('openssl');
if (!toolsPresent) console.log('skipped: curl/openssl not installed');

const CMS_VOUCHER = 'application/voucher-cms+json';
const VOUCHER_CONTENT_TYPE = '1.2.840.113549.1.9.16.1.40';

describe.skipIf(!toolsPresent)(
  'interop: an openssl + curl pledge enrolls end to end over TLS 1.2',
  () => {
    let sys: TestSystem;
    let dir: string;
    let serial: string;
    let host: string;
    const file = (name: string) => path.join(dir, name);

    /** curl over TLS 1.2 exactly, with the IDevID (or `cert`) as client certificate. */
    const curl = (
      url: string,
      args: string[],
      cert = { cert: file('idevid.pem'), key: file('idevid.key') },
    ) => curlTls12(dir, url, args, cert);

    beforeAll(async () => {
      // The pledge is curl and openssl: it cannot attest.
      sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
      dir = fs.mkdtempSync(path.join(sys.dir, 'pledge-'));
      host = sys.registrarUrl;
      const device = await sys.newDevice();
      serial = device.serial;
      // What a device integrator hands to other software: the birth certificate chain and key.
      const birth = await device.agent.birth();
      fs.writeFileSync(
        file('idevid.pem'),
        birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join(''),
      );
      fs.writeFileSync(file('idevid.key'), toPem('PRIVATE KEY', fromBase64(birth.idevidKey)!), {
        mode: 0o600,
      });
      fs.writeFileSync(file('masa-ca.pem'), toPem('CERTIFICATE', fromBase64(birth.masaAnchor)!));
    });

    afterAll(async () => {
      await sys?.close();
    });

    it('requests a CMS voucher, verifies it with openssl, and enrolls through EST', async () => {
      // The registrar's certificate, as the pledge sees it in a provisional TLS 1.2 handshake.
      const { port, hostname } = new URL(host);
      const shown = await openssl(
        [
          's_client',
          '-connect',
          `${hostname}:${port}`,
          '-tls1_2',
          '-cert',
          file('idevid.pem'),
          '-key',
          file('idevid.key'),
        ],
        '',
      );
      const registrarPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
        shown,
      )![0];
      fs.writeFileSync(file('registrar.pem'), `${registrarPem}\n`);
      const registrarB64 =
        (await openssl([
          'x509',
          '-in',
          file('registrar.pem'),
          '-outform',
          'DER',
          '-out',
          file('registrar.der'),
        ]),
        fs.readFileSync(file('registrar.der')).toString('base64'));

      // RFC 8995 section 3.3: the pledge voucher request, CMS-signed with the IDevID key.
      const nonce = (await openssl(['rand', '-base64', '16'])).trim();
      const pvr = {
        'ietf-voucher-request:voucher': {
          assertion: 'proximity',
          'serial-number': serial,
          nonce,
          'created-on': new Date().toISOString(),
          'proximity-registrar-cert': registrarB64,
        },
      };
      fs.writeFileSync(file('pvr.json'), JSON.stringify(pvr));
      await openssl([
        'cms',
        '-sign',
        '-nodetach',
        '-binary',
        '-md',
        'sha256',
        '-econtent_type',
        VOUCHER_CONTENT_TYPE,
        '-signer',
        file('idevid.pem'),
        '-inkey',
        file('idevid.key'),
        '-in',
        file('pvr.json'),
        '-outform',
        'DER',
        '-out',
        file('pvr.cms'),
      ]);

      const v = await curl(`${host}/.well-known/brski/requestvoucher`, [
        '-k',
        '-H',
        `content-type: ${CMS_VOUCHER}`,
        '-H',
        `accept: ${CMS_VOUCHER}`,
        '--data-binary',
        `@${file('pvr.cms')}`,
      ]);
      expect(v.status, v.body.toString()).toBe(200);
      expect(v.contentType).toBe(CMS_VOUCHER);

      // The voucher, verified by openssl against the MASA's CA (the pledge's only voucher anchor).
      await openssl([
        'cms',
        '-verify',
        '-inform',
        'DER',
        '-in',
        v.bodyFile,
        '-binary',
        '-CAfile',
        file('masa-ca.pem'),
        '-partial_chain',
        '-purpose',
        'any',
        '-out',
        file('voucher.json'),
      ]);
      const voucher = JSON.parse(fs.readFileSync(file('voucher.json'), 'utf8'))[
        'ietf-voucher:voucher'
      ];
      expect(voucher['serial-number']).toBe(serial);
      expect(voucher.nonce).toBe(nonce);
      fs.writeFileSync(
        file('domain-ca.pem'),
        toPem('CERTIFICATE', fromBase64(voucher['pinned-domain-cert'])!),
      );
      // RFC 8995 section 5.6.2: the provisional registrar certificate chains to the pinned domain CA.
      expect(
        await openssl(['verify', '-CAfile', file('domain-ca.pem'), file('registrar.pem')]),
      ).toContain('OK');

      // RFC 8995 section 5.7: voucher status telemetry (plain JSON).
      const vs = await curl(`${host}/.well-known/brski/voucher_status`, [
        '--cacert',
        file('domain-ca.pem'),
        '-H',
        'content-type: application/json',
        '--data-binary',
        JSON.stringify({ version: 1, status: true, reason: 'voucher accepted' }),
      ]);
      expect(vs.status).toBeLessThan(300);

      // EST (RFC 7030): cacerts, then simpleenroll with a key and CSR made by openssl.
      const ca = await curl(`${host}/.well-known/est/cacerts`, ['--cacert', file('domain-ca.pem')]);
      expect(ca.status).toBe(200);
      fs.writeFileSync(file('cacerts.b64'), ca.body);
      const caPem = await openssl([
        'base64',
        '-d',
        '-A',
        '-in',
        file('cacerts.b64'),
        '-out',
        file('cacerts.p7'),
      ]).then(() =>
        openssl(['pkcs7', '-inform', 'DER', '-in', file('cacerts.p7'), '-print_certs']),
      );
      expect(caPem).toContain('BEGIN CERTIFICATE');

      await openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        file('ldevid.key'),
        '-subj',
        `/serialNumber=${serial}`,
        '-outform',
        'DER',
        '-out',
        file('csr.der'),
      ]);
      fs.writeFileSync(file('csr.b64'), fs.readFileSync(file('csr.der')).toString('base64'));
      const enrolled = await curl(`${host}/.well-known/est/simpleenroll`, [
        '--cacert',
        file('domain-ca.pem'),
        '-H',
        'content-type: application/pkcs10',
        '--data-binary',
        `@${file('csr.b64')}`,
      ]);
      expect(enrolled.status, enrolled.body.toString()).toBe(200);
      fs.writeFileSync(file('issued.b64'), enrolled.body);
      await openssl(['base64', '-d', '-A', '-in', file('issued.b64'), '-out', file('issued.p7')]);
      fs.writeFileSync(
        file('ldevid.pem'),
        await openssl(['pkcs7', '-inform', 'DER', '-in', file('issued.p7'), '-print_certs']),
      );
      expect(
        await openssl(['verify', '-CAfile', file('domain-ca.pem'), file('ldevid.pem')]),
      ).toContain('OK');
      expect(await openssl(['x509', '-in', file('ldevid.pem'), '-noout', '-subject'])).toContain(
        serial,
      );

      // RFC 8995 section 5.9.4: enrollment status, on a new TLS connection with the new LDevID.
      const es = await curl(
        `${host}/.well-known/brski/enrollstatus`,
        [
          '--cacert',
          file('domain-ca.pem'),
          '-H',
          'content-type: application/json',
          '--data-binary',
          JSON.stringify({ version: 1, status: true, reason: 'enrolled' }),
        ],
        { cert: file('ldevid.pem'), key: file('ldevid.key') },
      );
      expect(es.status).toBeLessThan(300);

      const device = await sys.network.inventory.device(serial);
      expect(device?.state).toBe('onboarded');
    });

    it('refuses a CMS voucher request whose signer is not the TLS client, and an Accept it cannot meet (406)', async () => {
      // Signed by a key openssl made, not by the birth key the TLS connection proved.
      await openssl([
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        file('rogue.key'),
        '-out',
        file('rogue.pem'),
        '-subj',
        `/serialNumber=${serial}`,
        '-days',
        '1',
      ]);
      fs.writeFileSync(
        file('pvr2.json'),
        JSON.stringify({
          'ietf-voucher-request:voucher': {
            'serial-number': serial,
            nonce: 'AAAAAAAAAAAAAAAAAAAAAA==',
            'created-on': new Date().toISOString(),
          },
        }),
      );
      await openssl([
        'cms',
        '-sign',
        '-nodetach',
        '-binary',
        '-md',
        'sha256',
        '-econtent_type',
        VOUCHER_CONTENT_TYPE,
        '-signer',
        file('rogue.pem'),
        '-inkey',
        file('rogue.key'),
        '-in',
        file('pvr2.json'),
        '-outform',
        'DER',
        '-out',
        file('pvr2.cms'),
      ]);
      const rogue = await curl(`${host}/.well-known/brski/requestvoucher`, [
        '-k',
        '-H',
        `content-type: ${CMS_VOUCHER}`,
        '--data-binary',
        `@${file('pvr2.cms')}`,
      ]);
      expect(rogue.status).toBe(403);
      expect(JSON.parse(rogue.body.toString()).code).toBe('ERR_IDEVID_MISMATCH');

      const cose = await curl(`${host}/.well-known/brski/requestvoucher`, [
        '-k',
        '-H',
        `content-type: ${CMS_VOUCHER}`,
        '-H',
        'accept: application/voucher-cose+cbor',
        '--data-binary',
        `@${file('pvr2.cms')}`,
      ]);
      expect(cose.status).toBe(406);
      expect(cose.contentType).toContain('application/problem+json');
      expect(JSON.parse(cose.body.toString()).code).toBe('ERR_VOUCHER_FORMAT');
    });

    it('a registrar voucher request made with openssl gets a CMS voucher from the MASA', async () => {
      const b = await sys.newDevice();
      const birth = await b.agent.birth();
      const registrar = sys.network.pki.registrar;
      fs.writeFileSync(
        file('b-idevid.pem'),
        birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join(''),
      );
      fs.writeFileSync(file('b-idevid.key'), toPem('PRIVATE KEY', fromBase64(birth.idevidKey)!), {
        mode: 0o600,
      });
      fs.writeFileSync(file('reg.pem'), toPem('CERTIFICATE', registrar.cert.der));
      fs.writeFileSync(file('reg.key'), privateKeyPem(registrar.key), { mode: 0o600 });
      fs.writeFileSync(file('domain.pem'), sys.network.domainCaPem());
      fs.writeFileSync(
        file('mfg-root.pem'),
        toPem('CERTIFICATE', sys.manufacturer.pki.root.cert.der),
      );

      const nonce = (await openssl(['rand', '-base64', '16'])).trim();
      const now = new Date().toISOString();
      fs.writeFileSync(
        file('b-pvr.json'),
        JSON.stringify({
          'ietf-voucher-request:voucher': {
            assertion: 'proximity',
            'serial-number': b.serial,
            nonce,
            'created-on': now,
            'proximity-registrar-cert': Buffer.from(registrar.cert.der).toString('base64'),
          },
        }),
      );
      await openssl([
        'cms',
        '-sign',
        '-nodetach',
        '-binary',
        '-md',
        'sha256',
        '-econtent_type',
        VOUCHER_CONTENT_TYPE,
        '-signer',
        file('b-idevid.pem'),
        '-inkey',
        file('b-idevid.key'),
        '-in',
        file('b-pvr.json'),
        '-outform',
        'DER',
        '-out',
        file('b-pvr.cms'),
      ]);
      // RFC 8995 section 5.5: the registrar's request wraps the pledge's (YANG binary: base64 of its bytes).
      fs.writeFileSync(
        file('rvr.json'),
        JSON.stringify({
          'ietf-voucher-request:voucher': {
            assertion: 'proximity',
            'serial-number': b.serial,
            nonce,
            'created-on': now,
            'prior-signed-voucher-request': fs.readFileSync(file('b-pvr.cms')).toString('base64'),
          },
        }),
      );
      await openssl([
        'cms',
        '-sign',
        '-nodetach',
        '-binary',
        '-md',
        'sha256',
        '-econtent_type',
        VOUCHER_CONTENT_TYPE,
        '-signer',
        file('reg.pem'),
        '-inkey',
        file('reg.key'),
        '-certfile',
        file('domain.pem'),
        '-in',
        file('rvr.json'),
        '-outform',
        'DER',
        '-out',
        file('rvr.cms'),
      ]);

      const v = await curl(
        `${sys.manufacturerUrl}/.well-known/brski/requestvoucher`,
        [
          '--cacert',
          file('mfg-root.pem'),
          '-H',
          `content-type: ${CMS_VOUCHER}`,
          '--data-binary',
          `@${file('rvr.cms')}`,
        ],
        { cert: file('reg.pem'), key: file('reg.key') },
      );
      expect(v.status, v.body.toString()).toBe(200);
      expect(v.contentType).toBe(CMS_VOUCHER);
      await openssl([
        'cms',
        '-verify',
        '-inform',
        'DER',
        '-in',
        v.bodyFile,
        '-binary',
        '-CAfile',
        file('masa-ca.pem'),
        '-partial_chain',
        '-purpose',
        'any',
        '-out',
        file('b-voucher.json'),
      ]);
      const voucher = JSON.parse(fs.readFileSync(file('b-voucher.json'), 'utf8'))[
        'ietf-voucher:voucher'
      ];
      expect(voucher).toMatchObject({
        'serial-number': b.serial,
        nonce,
        assertion: 'proximity',
        'pinned-domain-cert': Buffer.from(sys.network.pki.domainCa.cert.der).toString('base64'),
      });

      // The same request again: the nonce was used, nothing more is issued.
      const replay = await curl(
        `${sys.manufacturerUrl}/.well-known/brski/requestvoucher`,
        [
          '--cacert',
          file('mfg-root.pem'),
          '-H',
          `content-type: ${CMS_VOUCHER}`,
          '--data-binary',
          `@${file('rvr.cms')}`,
        ],
        { cert: file('reg.pem'), key: file('reg.key') },
      );
      expect(replay.status).toBe(409);
      expect(JSON.parse(replay.body.toString()).code).toBe('ERR_VOUCHER_REQUEST_REPLAYED');
    });
  },
);
