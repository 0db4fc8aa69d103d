/**
 * curl and OpenSSL as a real RFC 7030 EST client of Airlock's registrar. The device's BRSKI
 * voucher exchange runs as any RFC 8995 pledge does it, with a plain JSON voucher status
 * (leaving it 'vouched': no Airlock extension needed), then curl enrolls with a CSR made by
 * `openssl req`, `openssl verify` checks the LDevID, and `openssl verify -crl_check` checks
 * it against the CRL its cRLDistributionPoints names, before and after a renewal.
 * The servers run in this process: curl and openssl are always spawned asynchronously.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { equalBytes, fromBase64, fromPem, toBase64, toPem } from '../../src/core/bytes.js';
import { decodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { signPledgeVoucherRequest } from '../../src/protocols/voucher/pledge-voucher-request.js';
import { verifyVoucher } from '../../src/protocols/voucher/voucher.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../src/protocols/voucher/schema.js';
import { parseCertificate, parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { onPath } from '../support/tools.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { UNATTESTED_ALLOWED } from '../support/policies.js';

const run = promisify(execFile);

const toolsPresent = onPath('curl') && onPath('openssl');
if (!toolsPresent) console.log('skipped: curl/openssl not installed');

describe.skipIf(!toolsPresent)('interop: curl + OpenSSL as an RFC 7030 EST client', () => {
  let sys: TestSystem;
  let dir: string;
  let base: string;
  let port: string;
  let serial: string;
  const file = (name: string) => path.join(dir, name);

  /** curl with the registrar's host name pinned to loopback; returns status, content type and body. */
  async function curl(
    args: string[],
  ): Promise<{ status: number; contentType: string; body: string }> {
    const bodyFile = file(`body-${Math.random().toString(36).slice(2)}`);
    const { stdout } = await run('curl', [
      '-sS',
      '--tlsv1.3',
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '--cacert',
      file('domainca.pem'),
      '-o',
      bodyFile,
      '-w',
      '%{http_code} %{content_type}',
      ...args,
    ]);
    const [status, ...ct] = stdout.trim().split(' ');
    return {
      status: Number(status),
      contentType: ct.join(' '),
      body: fs.readFileSync(bodyFile, 'utf8'),
    };
  }

  beforeAll(async () => {
    // The voucher exchange below is made by hand, then curl and openssl: a pledge that cannot attest.
    sys = await startTestSystem({ policy: UNATTESTED_ALLOWED });
    dir = fs.mkdtempSync(path.join(sys.dir, 'curl-'));
    port = new URL(sys.registrarUrl).port;
    base = `https://localhost:${port}`;
    fs.writeFileSync(file('domainca.pem'), sys.network.domainCaPem());

    // BRSKI steps 5-7, exactly as the device agent does them.
    const device = await sys.newDevice();
    serial = device.serial;
    const { crypto, clock } = sys.ctx;
    const birth = await device.agent.birth();
    const idevid = parseCertificateBase64(birth.idevidChain[0]!);
    const idevidKey = importPkcs8(fromBase64(birth.idevidKey)!);
    const chainPem = birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join('');
    const keyPem = toPem('PRIVATE KEY', fromBase64(birth.idevidKey)!);
    const conn = await PeerConnection.open(sys.registrarUrl, { cert: chainPem, key: keyPem });
    try {
      const registrarCert = parseCertificate(conn.peerCertificate());
      const nonce = toBase64(crypto.bytes(16));
      const pvr = signPledgeVoucherRequest(crypto, idevidKey, idevid, {
        serialNumber: serial,
        nonce,
        createdOn: clock.now(),
        proximityRegistrarCert: registrarCert.der,
      });
      const voucherText = (
        await conn.call('POST', '/.well-known/brski/requestvoucher', {
          body: pvr,
          contentType: VOUCHER_JWS_MEDIA_TYPE,
          accept: VOUCHER_JWS_MEDIA_TYPE,
        })
      ).body;
      verifyVoucher(crypto, voucherText, {
        masaAnchors: [parseCertificateBase64(birth.masaAnchor)],
        serialNumber: serial,
        nonce,
        at: clock.now(),
      });
      await conn.call('POST', '/.well-known/brski/voucher_status', {
        body: JSON.stringify({ version: 1, status: true, reason: 'voucher accepted' }),
        contentType: 'application/json',
      });
    } finally {
      await conn.close();
    }
    expect((await sys.network.inventory.device(serial)).state).toBe('vouched');

    fs.writeFileSync(file('idevid.pem'), chainPem, { mode: 0o600 });
    fs.writeFileSync(file('idevid.key'), keyPem, { mode: 0o600 });
    await run('openssl', [
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
      `/CN=${serial}`,
      '-outform',
      'DER',
      '-out',
      file('csr.der'),
    ]);
    fs.chmodSync(file('ldevid.key'), 0o600);
    fs.writeFileSync(file('csr.b64'), fs.readFileSync(file('csr.der')).toString('base64'));
  });
  afterAll(async () => sys?.close());

  /** A base64 certs-only reply -> PEM certificates, by OpenSSL. */
  async function opensslCerts(body: string, name: string): Promise<string> {
    fs.writeFileSync(
      file(`${name}.p7`),
      Buffer.from(body.replace(/\r/g, '').replace(/\s+/g, ''), 'base64'),
    );
    await run('openssl', [
      'pkcs7',
      '-inform',
      'DER',
      '-in',
      file(`${name}.p7`),
      '-print_certs',
      '-out',
      file(`${name}.pem`),
    ]);
    return fs.readFileSync(file(`${name}.pem`), 'utf8');
  }

  it('GET /cacerts over curl: a certs-only reply that OpenSSL decodes to the domain CA', async () => {
    const res = await curl([`${base}/.well-known/est/cacerts`]);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/pkcs7-mime/);
    const certs = fromPem(await opensslCerts(res.body, 'cacerts'));
    const domainCa = fromPem(sys.network.domainCaPem())[0]!;
    expect(certs).toHaveLength(1);
    expect(equalBytes(certs[0]!, domainCa)).toBe(true);
    expect(decodeCertsOnly(res.body.replace(/\r/g, '')).map((c) => toBase64(c))).toEqual([
      toBase64(domainCa),
    ]);
  });

  it('POST /simpleenroll without a client certificate: 401 problem+json ERR_IDEVID_MISSING', async () => {
    const res = await curl([
      '-H',
      'Content-Type: application/pkcs10',
      '--data-binary',
      `@${file('csr.b64')}`,
      `${base}/.well-known/est/simpleenroll`,
    ]);
    expect(res.status).toBe(401);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    expect((JSON.parse(res.body) as { code?: string }).code).toBe('ERR_IDEVID_MISSING');
    expect((await sys.network.inventory.device(serial)).state).toBe('vouched');
  });

  it('POST /simplereenroll without a client certificate: 401 problem+json ERR_LDEVID_MISSING, nothing issued', async () => {
    const before = await sys.network.inventory.certificates(serial);
    const res = await curl([
      '-H',
      'Content-Type: application/pkcs10',
      '--data-binary',
      `@${file('csr.b64')}`,
      `${base}/.well-known/est/simplereenroll`,
    ]);
    expect(res.status).toBe(401);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    expect((JSON.parse(res.body) as { code?: string }).code).toBe('ERR_LDEVID_MISSING');
    expect(await sys.network.inventory.certificates(serial)).toEqual(before);
  });

  it('POST /simpleenroll with the IDevID: an LDevID for the OpenSSL key that `openssl verify` accepts against the domain CA', async () => {
    const res = await curl([
      '--cert',
      file('idevid.pem'),
      '--key',
      file('idevid.key'),
      '-H',
      'Content-Type: application/pkcs10',
      '--data-binary',
      `@${file('csr.b64')}`,
      `${base}/.well-known/est/simpleenroll`,
    ]);
    expect(res.status, res.body).toBe(200);
    expect(res.contentType).toMatch(/^application\/pkcs7-mime/);
    expect(res.contentType).toContain('smime-type=certs-only');
    const pem = await opensslCerts(res.body, 'ldevid');
    expect(fromPem(pem)).toHaveLength(1);

    const verified = await run('openssl', [
      'verify',
      '-CAfile',
      file('domainca.pem'),
      file('ldevid.pem'),
    ]);
    expect(verified.stdout.trim()).toBe(`${file('ldevid.pem')}: OK`);
    // And OpenSSL does refuse it against another CA (the IDevID chain's): the check can fail.
    await expect(
      run('openssl', ['verify', '-CAfile', file('idevid.pem'), file('ldevid.pem')]),
    ).rejects.toThrow();

    // The certificate is for the key OpenSSL generated, not the IDevID's.
    const certKey = (await run('openssl', ['x509', '-in', file('ldevid.pem'), '-noout', '-pubkey']))
      .stdout;
    const csrKey = (await run('openssl', ['pkey', '-in', file('ldevid.key'), '-pubout'])).stdout;
    expect(certKey).toBe(csrKey);
    const ldevid = parseCertificate(fromPem(pem)[0]!);
    expect(ldevid.subject).toContain(serial);
    expect((await sys.network.inventory.device(serial)).state).toBe('provisioned');
  });

  /** The CRL an LDevID names, fetched with curl from that very URL, as PEM. */
  async function fetchCrl(ldevidPem: string, name: string): Promise<string> {
    const dp = (
      await run('openssl', ['x509', '-in', ldevidPem, '-noout', '-ext', 'crlDistributionPoints'])
    ).stdout;
    const url = /URI:(\S+)/.exec(dp)?.[1];
    expect(url).toBe(`${sys.registrarUrl}/.well-known/airlock/crl`);
    const res = await run('curl', [
      '-sS',
      '--cacert',
      file('domainca.pem'),
      '-o',
      file(`${name}.der`),
      '-w',
      '%{http_code}',
      url!,
    ]);
    expect(res.stdout).toBe('200');
    await run('openssl', [
      'crl',
      '-inform',
      'DER',
      '-in',
      file(`${name}.der`),
      '-out',
      file(`${name}.pem`),
    ]);
    return file(`${name}.pem`);
  }

  async function verifyWithCrl(crlPem: string, certPem: string): Promise<string> {
    try {
      const r = await run('openssl', [
        'verify',
        '-crl_check',
        '-CAfile',
        file('domainca.pem'),
        '-CRLfile',
        crlPem,
        certPem,
      ]);
      return r.stdout.trim();
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return `${err.stdout ?? ''}${err.stderr ?? ''}`;
    }
  }

  const crlNumber = async (crlPem: string) =>
    Number(
      /X509v3 CRL Number:\s*\n\s*(\d+)/.exec(
        (await run('openssl', ['crl', '-in', crlPem, '-noout', '-text'])).stdout,
      )?.[1],
    );

  it('openssl verify -crl_check: OK for the current LDevID, "certificate revoked" for one renewed away (curl renewal with an RSA key)', async () => {
    const crl1 = await fetchCrl(file('ldevid.pem'), 'crl1');
    expect(await verifyWithCrl(crl1, file('ldevid.pem'))).toBe(`${file('ldevid.pem')}: OK`);
    // RFC 5280: the CRL's issuer is the CA's subject, its authorityKeyIdentifier the CA's subjectKeyIdentifier.
    const crlText = (await run('openssl', ['crl', '-in', crl1, '-noout', '-text'])).stdout;
    const caSki = (
      await run('openssl', [
        'x509',
        '-in',
        file('domainca.pem'),
        '-noout',
        '-ext',
        'subjectKeyIdentifier',
      ])
    ).stdout
      .split('\n')[1]!
      .trim();
    expect(crlText).toMatch(new RegExp(`Authority Key Identifier:\\s*\\n\\s*(keyid:)?${caSki}`));
    const issuer = (
      await run('openssl', ['crl', '-in', crl1, '-noout', '-issuer', '-nameopt', 'RFC2253'])
    ).stdout;
    const caSubject = (
      await run('openssl', [
        'x509',
        '-in',
        file('domainca.pem'),
        '-noout',
        '-subject',
        '-nameopt',
        'RFC2253',
      ])
    ).stdout;
    expect(issuer.replace(/^issuer=/, '')).toBe(caSubject.replace(/^subject=/, ''));
    const n1 = await crlNumber(crl1);
    expect(n1).toBeGreaterThanOrEqual(1);

    // Renewal over curl with the LDevID, for an RSA-2048 key, with a subject naming someone else.
    await run('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      file('ldevid2.key'),
      '-subj',
      '/CN=SOMEONE-ELSE/serialNumber=SOMEONE-ELSE',
      '-outform',
      'DER',
      '-out',
      file('csr2.der'),
    ]);
    fs.writeFileSync(file('csr2.b64'), fs.readFileSync(file('csr2.der')).toString('base64'));
    const res = await curl([
      '--cert',
      file('ldevid.pem'),
      '--key',
      file('ldevid.key'),
      '-H',
      'Content-Type: application/pkcs10',
      '--data-binary',
      `@${file('csr2.b64')}`,
      `${base}/.well-known/est/simplereenroll`,
    ]);
    expect(res.status, res.body).toBe(200);
    const pem2 = await opensslCerts(res.body, 'ldevid2');
    expect(parseCertificate(fromPem(pem2)[0]!).subjectSerialNumber).toBe(serial);

    const crl2 = await fetchCrl(file('ldevid2.pem'), 'crl2');
    expect(await crlNumber(crl2)).toBeGreaterThan(n1);
    expect(await verifyWithCrl(crl2, file('ldevid2.pem'))).toBe(`${file('ldevid2.pem')}: OK`);
    expect(await verifyWithCrl(crl2, file('ldevid.pem'))).toContain('certificate revoked');
    // Nothing revoked since: the same CRL, the same number.
    expect(await crlNumber(await fetchCrl(file('ldevid2.pem'), 'crl3'))).toBe(
      await crlNumber(crl2),
    );

    // Enrollment status over a new connection with the new LDevID (RFC 8995 section 5.9.4).
    const st = await curl([
      '--cert',
      file('ldevid2.pem'),
      '--key',
      file('ldevid2.key'),
      '-H',
      'Content-Type: application/json',
      '--data',
      '{"version":1,"status":true}',
      `${base}/.well-known/brski/enrollstatus`,
    ]);
    expect(st.status, st.body).toBe(200);
    expect((await sys.network.inventory.device(serial)).state).toBe('onboarded');
  });

  it('curl: a CSR for an RSA-1024 or P-521 key is 400 ERR_CSR_KEY, and nothing is issued', async () => {
    const before = await sys.network.db.selectFrom('net_certificates').selectAll().execute();
    for (const [name, args] of [
      ['rsa1024', ['-newkey', 'rsa:1024']],
      ['p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521']],
    ] as const) {
      await run('openssl', [
        'req',
        '-new',
        ...args,
        '-nodes',
        '-keyout',
        file(`${name}.key`),
        '-subj',
        `/CN=${serial}`,
        '-outform',
        'DER',
        '-out',
        file(`${name}.der`),
      ]);
      fs.writeFileSync(
        file(`${name}.b64`),
        fs.readFileSync(file(`${name}.der`)).toString('base64'),
      );
      const res = await curl([
        '--cert',
        file('ldevid2.pem'),
        '--key',
        file('ldevid2.key'),
        '-H',
        'Content-Type: application/pkcs10',
        '--data-binary',
        `@${file(`${name}.b64`)}`,
        `${base}/.well-known/est/simplereenroll`,
      ]);
      expect(res.status, name).toBe(400);
      expect((JSON.parse(res.body) as { code?: string }).code).toBe('ERR_CSR_KEY');
    }
    expect(await sys.network.db.selectFrom('net_certificates').selectAll().execute()).toEqual(
      before,
    );
  });
});
