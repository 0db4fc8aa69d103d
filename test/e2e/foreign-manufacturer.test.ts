/**
 * A manufacturer that is not Airlock, end to end (RFC 8995, docs/DESIGN.md "Manufacturers
 * that are not Airlock"): its PKI is made with openssl only (an IDevID CA that is a root, a
 * birth certificate with the serial number in its CN and no serialNumber attribute, a MASA CA
 * issuing the MASA's TLS and voucher-signing certificates), its MASA is a small node:https
 * server in this file that signs vouchers with `openssl cms -sign` (CMS) or jose's GeneralSign
 * (JWS), and the pledge is openssl + curl, as in test/interop/openssl-curl-pledge.test.ts.
 * The network installs the foreign trust file (airlock-foreign-manufacturer/1,
 * serialNumberFrom 'cn') beside Airlock's bundle, and onboards the device under its CN serial.
 *
 * And the refusals: a birth certificate with no CN, the CN-only certificate where the trust
 * says serialNumber, and a voucher signed by a key outside the configured MASA anchors; each
 * a typed error, with nothing recorded for the device.
 */
import * as nodeCrypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeVoucherArtifact,
  parseVoucherMediaType,
  VOUCHER_CMS_MEDIA_TYPE,
  VOUCHER_JWS_MEDIA_TYPE,
  type VoucherMediaType,
} from '../../src/protocols/voucher/codec.js';
import { decodeAnyTrustFile, type AnyManufacturerTrust } from '../../src/roles/shared/trust.js';
import type { Network } from '../../src/roles/network/index.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';
import { onPath, openssl, curlTls12 } from '../support/tools.js';

const toolsPresent = onPath('curl') && onPath('openssl');
if (!toolsPresent) console.log('skipped: curl/openssl not installed');

const VOUCHER_CONTENT_TYPE = '1.2.840.113549.1.9.16.1.40';

/** openssl's extension sections for the foreign PKI. */
const OPENSSL_CNF = `
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[idevid]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[masa_tls]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
[masa_signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

describe.skipIf(!toolsPresent)(
  'e2e: a manufacturer that is not Airlock (openssl PKI, its own MASA) and an openssl + curl pledge',
  () => {
    let sys: TestSystem;
    let dir: string;
    let masa: https.Server;
    let masaUrl: string;
    /** The network trusting the foreign manufacturer (serial from the CN) beside Airlock's. */
    let network: Network;
    let registrarUrl: string;
    /** A network whose foreign trust says the serial is in the subject serialNumber. */
    let strict: Network;
    let strictUrl: string;
    /** Which key the foreign MASA signs with: its voucher-signing key, or one outside the anchors. */
    let signWith: 'masa' | 'rogue' = 'masa';
    /** What the foreign MASA pins: the domain that asked, or another one (its own MASA CA, say). */
    let pinWhat: 'asker' | 'other' = 'asker';
    /** The serial numbers the foreign MASA was asked vouchers for. */
    const asked: string[] = [];
    const file = (name: string) => path.join(dir, name);

    const newKey = (name: string) =>
      openssl([
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        file(`${name}.key`),
      ]);

    /** A self-signed CA. */
    async function rootCa(name: string, subject: string): Promise<void> {
      await newKey(name);
      await openssl([
        'req',
        '-x509',
        '-config',
        file('openssl.cnf'),
        '-extensions',
        'ca',
        '-key',
        file(`${name}.key`),
        '-subj',
        subject,
        '-days',
        '3650',
        '-sha256',
        '-out',
        file(`${name}.pem`),
      ]);
    }

    /** A certificate for a new key, issued by `ca` with the extensions of `section`. */
    async function leaf(name: string, subject: string, ca: string, section: string): Promise<void> {
      await newKey(name);
      await openssl([
        'req',
        '-new',
        '-config',
        file('openssl.cnf'),
        '-key',
        file(`${name}.key`),
        '-subj',
        subject,
        '-out',
        file(`${name}.csr`),
      ]);
      await openssl([
        'x509',
        '-req',
        '-in',
        file(`${name}.csr`),
        '-CA',
        file(`${ca}.pem`),
        '-CAkey',
        file(`${ca}.key`),
        '-CAcreateserial',
        '-extfile',
        file('openssl.cnf'),
        '-extensions',
        section,
        '-days',
        '3650',
        '-sha256',
        '-out',
        file(`${name}.pem`),
      ]);
    }

    const der = (name: string) =>
      new nodeCrypto.X509Certificate(fs.readFileSync(file(`${name}.pem`))).raw;
    const b64 = (name: string) => der(name).toString('base64');

    /** The foreign MASA: checks nothing much, and signs what the registrar asked for. */
    async function foreignMasa(
      req: import('node:http').IncomingMessage,
      body: Buffer,
    ): Promise<{ status: number; type: string; body: Buffer }> {
      if (req.method !== 'POST' || req.url !== '/.well-known/brski/requestvoucher')
        return { status: 404, type: 'text/plain', body: Buffer.from('not here') };
      const request = decodeVoucherArtifact(
        new Uint8Array(body),
        parseVoucherMediaType(String(req.headers['content-type'])),
      );
      const vr = (
        request.json as {
          'ietf-voucher-request:voucher': { 'serial-number': string; nonce: string };
        }
      )['ietf-voucher-request:voucher'];
      asked.push(vr['serial-number']);
      const domainCa =
        pinWhat === 'asker' ? request.signerChain.at(-1)! : { der: new Uint8Array(der('masa-ca')) };
      const voucher = {
        'ietf-voucher:voucher': {
          'created-on': new Date().toISOString(),
          assertion: 'logged',
          'serial-number': vr['serial-number'],
          nonce: vr.nonce,
          'pinned-domain-cert': Buffer.from(domainCa.der).toString('base64'),
        },
      };
      const signer = signWith === 'masa' ? 'masa-signer' : 'rogue-signer';
      const accept: VoucherMediaType = parseVoucherMediaType(
        String(req.headers.accept ?? VOUCHER_CMS_MEDIA_TYPE),
      );
      if (accept === VOUCHER_JWS_MEDIA_TYPE) {
        const key = nodeCrypto.createPrivateKey(fs.readFileSync(file(`${signer}.key`)));
        const jws = await new jose.GeneralSign(new TextEncoder().encode(JSON.stringify(voucher)))
          .addSignature(key)
          .setProtectedHeader({ alg: 'ES256', typ: 'voucher-jws+json', x5c: [b64(signer)] })
          .sign();
        return {
          status: 200,
          type: VOUCHER_JWS_MEDIA_TYPE,
          body: Buffer.from(JSON.stringify(jws)),
        };
      }
      const name = `masa-voucher-${Math.random().toString(36).slice(2)}`;
      fs.writeFileSync(file(`${name}.json`), JSON.stringify(voucher));
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
        file(`${signer}.pem`),
        '-inkey',
        file(`${signer}.key`),
        '-in',
        file(`${name}.json`),
        '-outform',
        'DER',
        '-out',
        file(`${name}.cms`),
      ]);
      return {
        status: 200,
        type: VOUCHER_CMS_MEDIA_TYPE,
        body: fs.readFileSync(file(`${name}.cms`)),
      };
    }

    function trustFile(serialNumberFrom: 'cn' | 'serialNumber'): AnyManufacturerTrust {
      const json = {
        format: 'airlock-foreign-manufacturer/1',
        idevidCas: [b64('idevid-ca')],
        masaTrustAnchors: [b64('masa-ca')],
        masaUrl,
        serialNumberFrom,
      };
      // As an administrator installs it: a file, read back.
      fs.writeFileSync(file(`foreign-${serialNumberFrom}.json`), JSON.stringify(json, null, 2));
      return decodeAnyTrustFile(
        sys.ctx.crypto,
        JSON.parse(fs.readFileSync(file(`foreign-${serialNumberFrom}.json`), 'utf8')),
        new Date(),
      );
    }

    /** A network trusting Airlock's manufacturer and `trust`, asking the system's verifier. */
    async function openNetwork(name: string, trust: AnyManufacturerTrust) {
      const opened = await sys.otherNetwork(name, {
        manufacturers: [sys.manufacturer.trustBundle(), trust],
        config: { ownerName: `Owner of ${name}` },
      });
      // The foreign manufacturer's devices (openssl + curl pledges) cannot attest.
      await opened.network.authorization.apply(UNATTESTED_ALLOWED);
      return opened;
    }

    beforeAll(async () => {
      sys = await startTestSystem();
      dir = fs.mkdtempSync(path.join(sys.dir, 'foreign-'));
      fs.writeFileSync(file('openssl.cnf'), OPENSSL_CNF);
      // The foreign manufacturer's PKI, openssl only.
      await rootCa('idevid-ca', '/O=Foreign Devices Ltd/CN=Foreign Devices IDevID CA');
      await rootCa('masa-ca', '/O=Foreign Devices Ltd/CN=Foreign Devices MASA CA');
      await leaf('masa-tls', '/O=Foreign Devices Ltd/CN=localhost', 'masa-ca', 'masa_tls');
      await leaf(
        'masa-signer',
        '/O=Foreign Devices Ltd/CN=Foreign Devices voucher signer',
        'masa-ca',
        'masa_signer',
      );
      // Outside the anchors: a CA of the very same name, another key.
      await rootCa('rogue-ca', '/O=Foreign Devices Ltd/CN=Foreign Devices MASA CA');
      await leaf(
        'rogue-signer',
        '/O=Foreign Devices Ltd/CN=Foreign Devices voucher signer',
        'rogue-ca',
        'masa_signer',
      );
      for (const serial of ['FD-000123', 'FD-000124', 'FD-000125', 'FD-000126', 'FD-000127'])
        await leaf(serial, `/O=Foreign Devices Ltd/OU=Sensors/CN=${serial}`, 'idevid-ca', 'idevid');
      await leaf('no-cn', '/O=Foreign Devices Ltd/OU=Sensors', 'idevid-ca', 'idevid');

      masa = https.createServer(
        { key: fs.readFileSync(file('masa-tls.key')), cert: fs.readFileSync(file('masa-tls.pem')) },
        (req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            foreignMasa(req, Buffer.concat(chunks)).then(
              (r) => res.writeHead(r.status, { 'content-type': r.type }).end(r.body),
              () => res.writeHead(500, { 'content-type': 'text/plain' }).end('masa failed'),
            );
          });
        },
      );
      await new Promise<void>((resolve) => masa.listen(0, '127.0.0.1', resolve));
      masaUrl = `https://127.0.0.1:${(masa.address() as AddressInfo).port}`;

      ({ network, url: registrarUrl } = await openNetwork('foreign-network', trustFile('cn')));
      ({ network: strict, url: strictUrl } = await openNetwork(
        'strict-network',
        trustFile('serialNumber'),
      ));
    });

    afterAll(async () => {
      // network and strict are closed with the system.
      await new Promise((resolve) => (masa ? masa.close(resolve) : resolve(undefined)));
      await sys?.close();
    });

    /** curl over TLS 1.2 exactly, with the device's birth certificate (or `cert`) as client certificate. */
    const curl = (url: string, args: string[], cert: { cert: string; key: string }) =>
      curlTls12(dir, url, args, cert);

    const birth = (name: string) => ({ cert: file(`${name}.pem`), key: file(`${name}.key`) });
    const problemCode = (r: { body: Buffer }) =>
      (JSON.parse(r.body.toString()) as { code: string }).code;

    /** RFC 8995 section 3.3: the pledge voucher request, CMS-signed with the birth key, sent to `host`. */
    async function requestVoucher(
      host: string,
      device: string,
      serial: string,
      accept: VoucherMediaType,
    ) {
      const { port, hostname } = new URL(host);
      const shown = await openssl(
        [
          's_client',
          '-connect',
          `${hostname}:${port}`,
          '-tls1_2',
          '-cert',
          file(`${device}.pem`),
          '-key',
          file(`${device}.key`),
        ],
        '',
      );
      const registrarPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
        shown,
      )![0];
      fs.writeFileSync(file(`${device}-registrar.pem`), `${registrarPem}\n`);
      await openssl([
        'x509',
        '-in',
        file(`${device}-registrar.pem`),
        '-outform',
        'DER',
        '-out',
        file(`${device}-registrar.der`),
      ]);
      const nonce = (await openssl(['rand', '-base64', '16'])).trim();
      fs.writeFileSync(
        file(`${device}-pvr.json`),
        JSON.stringify({
          'ietf-voucher-request:voucher': {
            assertion: 'proximity',
            'serial-number': serial,
            nonce,
            'created-on': new Date().toISOString(),
            'proximity-registrar-cert': fs
              .readFileSync(file(`${device}-registrar.der`))
              .toString('base64'),
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
        file(`${device}.pem`),
        '-inkey',
        file(`${device}.key`),
        '-in',
        file(`${device}-pvr.json`),
        '-outform',
        'DER',
        '-out',
        file(`${device}-pvr.cms`),
      ]);
      const v = await curl(
        `${host}/.well-known/brski/requestvoucher`,
        [
          '-k',
          '-H',
          `content-type: ${VOUCHER_CMS_MEDIA_TYPE}`,
          '-H',
          `accept: ${accept}`,
          '--data-binary',
          `@${file(`${device}-pvr.cms`)}`,
        ],
        birth(device),
      );
      return { ...v, nonce };
    }

    /** The rest of the pledge, as RFC 7030 and RFC 8995 section 5.9 say, with openssl and curl. */
    async function enroll(host: string, device: string, serial: string): Promise<string> {
      const trust = ['--cacert', file(`${device}-domain-ca.pem`)];
      // RFC 8995 section 5.6.2: the provisional registrar certificate chains to the pinned domain CA.
      expect(
        await openssl([
          'verify',
          '-CAfile',
          file(`${device}-domain-ca.pem`),
          file(`${device}-registrar.pem`),
        ]),
      ).toContain('OK');
      const vs = await curl(
        `${host}/.well-known/brski/voucher_status`,
        [
          ...trust,
          '-H',
          'content-type: application/json',
          '--data-binary',
          JSON.stringify({ version: 1, status: true, reason: 'voucher accepted' }),
        ],
        birth(device),
      );
      expect(vs.status).toBeLessThan(300);
      // Step 6 is Airlock's: a foreign device has no declaration, and a standard pledge never asks.
      const decl = await curl(`${host}/.well-known/airlock/declaration`, trust, birth(device));
      expect(decl.status).toBe(404);
      expect(problemCode(decl)).toBe('ERR_DECLARATION_NOT_FOUND');

      await openssl([
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        file(`${device}-ldevid.key`),
        '-subj',
        `/CN=${serial}`,
        '-outform',
        'DER',
        '-out',
        file(`${device}-csr.der`),
      ]);
      fs.writeFileSync(
        file(`${device}-csr.b64`),
        fs.readFileSync(file(`${device}-csr.der`)).toString('base64'),
      );
      const enrolled = await curl(
        `${host}/.well-known/est/simpleenroll`,
        [
          ...trust,
          '-H',
          'content-type: application/pkcs10',
          '--data-binary',
          `@${file(`${device}-csr.b64`)}`,
        ],
        birth(device),
      );
      expect(enrolled.status, enrolled.body.toString()).toBe(200);
      fs.writeFileSync(file(`${device}-issued.b64`), enrolled.body);
      await openssl([
        'base64',
        '-d',
        '-A',
        '-in',
        file(`${device}-issued.b64`),
        '-out',
        file(`${device}-issued.p7`),
      ]);
      fs.writeFileSync(
        file(`${device}-ldevid.pem`),
        await openssl([
          'pkcs7',
          '-inform',
          'DER',
          '-in',
          file(`${device}-issued.p7`),
          '-print_certs',
        ]),
      );
      expect(
        await openssl([
          'verify',
          '-CAfile',
          file(`${device}-domain-ca.pem`),
          file(`${device}-ldevid.pem`),
        ]),
      ).toContain('OK');

      // RFC 8995 section 5.9.4: enrollment status, on a new connection with the new LDevID.
      const es = await curl(
        `${host}/.well-known/brski/enrollstatus`,
        [
          ...trust,
          '-H',
          'content-type: application/json',
          '--data-binary',
          JSON.stringify({ version: 1, status: true, reason: 'enrolled' }),
        ],
        { cert: file(`${device}-ldevid.pem`), key: file(`${device}-ldevid.key`) },
      );
      expect(es.status).toBeLessThan(300);
      return openssl([
        'x509',
        '-in',
        file(`${device}-ldevid.pem`),
        '-noout',
        '-subject',
        '-nameopt',
        'RFC2253',
      ]);
    }

    const rows = (n: Network, serial: string) =>
      n.db.selectFrom('net_devices').selectAll().where('serial', '=', serial).execute();
    const keysOf = (n: Network, serial: string) =>
      n.db
        .selectFrom('net_certified_keys')
        .selectAll()
        .where('device_serial', '=', serial)
        .execute();

    it('a CN-serial device of the foreign manufacturer gets a CMS voucher from its MASA (verified by openssl against the foreign MASA CA) and enrolls', async () => {
      const serial = 'FD-000123';
      // The birth certificate has its serial in the CN only: no serialNumber attribute.
      expect(
        await openssl([
          'x509',
          '-in',
          file(`${serial}.pem`),
          '-noout',
          '-subject',
          '-nameopt',
          'RFC2253',
        ]),
      ).toBe(`subject=CN=${serial},OU=Sensors,O=Foreign Devices Ltd\n`);

      const v = await requestVoucher(registrarUrl, serial, serial, VOUCHER_CMS_MEDIA_TYPE);
      expect(v.status, v.body.toString()).toBe(200);
      expect(v.contentType).toBe(VOUCHER_CMS_MEDIA_TYPE);
      expect(asked).toContain(serial);
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
        file(`${serial}-voucher.json`),
      ]);
      const voucher = JSON.parse(fs.readFileSync(file(`${serial}-voucher.json`), 'utf8'))[
        'ietf-voucher:voucher'
      ];
      expect(voucher).toMatchObject({
        'serial-number': serial,
        nonce: v.nonce,
        assertion: 'logged',
        'pinned-domain-cert': Buffer.from(network.pki.domainCa.cert.der).toString('base64'),
      });
      fs.writeFileSync(file(`${serial}-domain-ca.pem`), network.domainCaPem());
      // The same voucher does not verify against the IDevID CA: each anchor for its purpose.
      await expect(
        openssl([
          'cms',
          '-verify',
          '-inform',
          'DER',
          '-in',
          v.bodyFile,
          '-binary',
          '-CAfile',
          file('idevid-ca.pem'),
          '-partial_chain',
          '-purpose',
          'any',
          '-out',
          file('x.json'),
        ]),
      ).rejects.toThrow();

      const subject = await enroll(registrarUrl, serial, serial);
      // The LDevID names the serial the registrar read from the CN.
      expect(subject).toContain(`serialNumber=${serial}`);

      const device = await network.inventory.device(serial);
      expect(device?.state).toBe('onboarded');
      const [row] = await rows(network, serial);
      expect(row).toMatchObject({
        serial,
        state: 'onboarded',
        manufacturer: expect.stringContaining('Foreign Devices IDevID CA'),
      });
      expect(Buffer.from(row!.idevid_der).equals(der(serial))).toBe(true);
      await network.registrar.idle();
      // This MASA has no audit log: recorded as an error, and the device is onboarded all the same.
      const events = await network.inventory.events(serial);
      expect(events.find((e) => e.action === 'masa audit log')).toMatchObject({ outcome: 'error' });
    });

    it('a voucher in JWS (jose GeneralSign by the foreign MASA) for a CMS request, when the pledge accepts JWS', async () => {
      const serial = 'FD-000124';
      const v = await requestVoucher(registrarUrl, serial, serial, VOUCHER_JWS_MEDIA_TYPE);
      expect(v.status, v.body.toString()).toBe(200);
      expect(v.contentType).toBe(VOUCHER_JWS_MEDIA_TYPE);
      const jws = JSON.parse(v.body.toString()) as jose.GeneralJWSInput;
      const anchor = new nodeCrypto.X509Certificate(fs.readFileSync(file('masa-ca.pem')));
      const signer = new nodeCrypto.X509Certificate(
        Buffer.from(
          (
            JSON.parse(Buffer.from(jws.signatures[0]!.protected!, 'base64url').toString()) as {
              x5c: string[];
            }
          ).x5c[0]!,
          'base64',
        ),
      );
      expect(signer.verify(anchor.publicKey)).toBe(true);
      const { payload } = await jose.generalVerify(jws, signer.publicKey);
      expect(JSON.parse(new TextDecoder().decode(payload))['ietf-voucher:voucher']).toMatchObject({
        'serial-number': serial,
        nonce: v.nonce,
      });
      expect((await rows(network, serial))[0]?.state).toBe('vouched');
    });

    it('refuses a birth certificate of the foreign CA with no CN: ERR_IDEVID_INVALID, the MASA is not asked, nothing recorded', async () => {
      const before = await network.db.selectFrom('net_devices').selectAll().execute();
      const count = asked.length;
      const v = await requestVoucher(registrarUrl, 'no-cn', 'no-cn', VOUCHER_CMS_MEDIA_TYPE);
      expect(v.status).toBe(400);
      expect(problemCode(v)).toBe('ERR_IDEVID_INVALID');
      expect(asked.length).toBe(count);
      expect(await network.db.selectFrom('net_devices').selectAll().execute()).toEqual(before);
      // Nor may it go on to EST.
      const e = await curl(
        `${registrarUrl}/.well-known/est/simpleenroll`,
        ['-k', '-H', 'content-type: application/pkcs10', '--data-binary', 'AAAA'],
        birth('no-cn'),
      );
      expect(problemCode(e)).toBe('ERR_REGISTRAR_SEQUENCE');
    });

    it('refuses a voucher request naming another serial than the CN its birth certificate carries (ERR_IDEVID_MISMATCH), before any MASA is asked', async () => {
      const count = asked.length;
      const v = await requestVoucher(
        registrarUrl,
        'FD-000125',
        'FD-000999',
        VOUCHER_CMS_MEDIA_TYPE,
      );
      expect(v.status).toBe(403);
      expect(problemCode(v)).toBe('ERR_IDEVID_MISMATCH');
      expect(asked.length).toBe(count);
      expect(await rows(network, 'FD-000125')).toEqual([]);
      expect(await rows(network, 'FD-000999')).toEqual([]);
    });

    it('where the trust says serialNumber, the CN-only birth certificate is refused (ERR_IDEVID_INVALID) and nothing is recorded', async () => {
      const serial = 'FD-000125';
      const count = asked.length;
      const v = await requestVoucher(strictUrl, serial, serial, VOUCHER_CMS_MEDIA_TYPE);
      expect(v.status).toBe(400);
      expect(problemCode(v)).toBe('ERR_IDEVID_INVALID');
      expect(asked.length).toBe(count);
      expect(await strict.db.selectFrom('net_devices').selectAll().execute()).toEqual([]);
      expect(await strict.db.selectFrom('net_certified_keys').selectAll().execute()).toEqual([]);
    });

    it('refuses a voucher its MASA signed with a key outside the configured MASA anchors (ERR_VOUCHER_SIGNER_UNTRUSTED): nothing recorded, nothing issued', async () => {
      const serial = 'FD-000126';
      signWith = 'rogue';
      try {
        for (const format of [VOUCHER_CMS_MEDIA_TYPE, VOUCHER_JWS_MEDIA_TYPE] as const) {
          const count = asked.length;
          const v = await requestVoucher(registrarUrl, serial, serial, format);
          expect(v.status).toBe(400);
          expect(problemCode(v)).toBe('ERR_VOUCHER_SIGNER_UNTRUSTED');
          // The MASA was asked and answered: the refusal is the registrar's.
          expect(asked.length).toBe(count + 1);
        }
      } finally {
        signWith = 'masa';
      }
      expect(await rows(network, serial)).toEqual([]);
      expect(await keysOf(network, serial)).toEqual([]);
      const e = await curl(
        `${registrarUrl}/.well-known/est/simpleenroll`,
        ['-k', '-H', 'content-type: application/pkcs10', '--data-binary', 'AAAA'],
        birth(serial),
      );
      expect(e.status).toBe(409);
      expect(problemCode(e)).toBe('ERR_REGISTRAR_SEQUENCE');
      expect(await rows(network, serial)).toEqual([]);
      const refusals = (await network.inventory.events(serial)).map((x) => [
        x.action,
        x.outcome,
        x.code,
      ]);
      expect(refusals).toEqual(
        expect.arrayContaining([['requestvoucher', 'refused', 'ERR_VOUCHER_SIGNER_UNTRUSTED']]),
      );
      expect(refusals.every(([, outcome]) => outcome === 'refused')).toBe(true);
    });

    it('refuses a voucher that pins another domain (ERR_VOUCHER_OTHER_DOMAIN): nothing recorded, nothing issued', async () => {
      const serial = 'FD-000127';
      pinWhat = 'other';
      try {
        const count = asked.length;
        const v = await requestVoucher(registrarUrl, serial, serial, VOUCHER_JWS_MEDIA_TYPE);
        expect(v.status).toBe(502);
        expect(problemCode(v)).toBe('ERR_VOUCHER_OTHER_DOMAIN');
        expect(asked.length).toBe(count + 1);
      } finally {
        pinWhat = 'asker';
      }
      expect(await rows(network, serial)).toEqual([]);
      expect(await keysOf(network, serial)).toEqual([]);
      const refusals = (await network.inventory.events(serial)).map((x) => [
        x.action,
        x.outcome,
        x.code,
      ]);
      expect(refusals).toEqual([['requestvoucher', 'refused', 'ERR_VOUCHER_OTHER_DOMAIN']]);
    });

    it('an Airlock device still onboards on the same network, beside the foreign manufacturer', async () => {
      const { agent, serial } = await sys.newDevice({ sell: false });
      await sys.manufacturer.sell(serial, network.owner);
      await agent.onboard(registrarUrl);
      expect((await network.inventory.device(serial))?.state).toBe('onboarded');
      // It attested to this network (the system's verifier), as the foreign devices cannot.
      expect(await network.inventory.attestation(serial)).not.toBeNull();
    });
  },
);
