/**
 * Attack: an onboarded device poses as the registrar to another device of the same owner.
 *
 * Device A is onboarded; its LDevID chains to the owner's domain CA, the very CA a voucher
 * pins. The impostor serves TLS with A's LDevID and key (read from A's secure store), hands
 * device B a voucher for B that pins the real domain CA (the MASA's failure this attack needs
 * is modelled by signing with the MASA's key: the pledge must hold even when the MASA errs),
 * and relays B's certificate request to the real registrar's simplereenroll under A's LDevID.
 *
 * B must refuse at step 9, because A's certificate is not a registrar (RA) certificate
 * (RFC 8995 section 2.3.2: id-kp-cmcRA), and end with nothing stored and nothing issued for it.
 * With `requireRegistrarRa: false` the same attack gets past step 9, which shows the check is
 * what stops it; B then still refuses the relayed LDevID, which names A (step 15).
 */
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toPem } from '../../src/core/bytes.js';
import { SecureStoreEntry, type OnboardingCredentials } from '../../src/core/credentials.js';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { decodeVoucherRequest } from '../../src/protocols/voucher/artifact.js';
import { signVoucher } from '../../src/protocols/voucher/voucher.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../src/protocols/voucher/schema.js';
import { CERTS_ONLY_MEDIA_TYPE, encodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { Oid } from '../../src/protocols/x509/oids.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signerProfile } from '../../src/protocols/x509/profiles.js';
import { generateP256Key, privateKeyPem } from '../../src/adapters/crypto/node-crypto.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/wire.js';

interface Impostor {
  url: string;
  /** `METHOD path` of every request the impostor received. */
  seen: string[];
  close(): Promise<void>;
}

/**
 * An HTTPS "registrar" serving TLS with `serve` (by default A's LDevID), relaying certificate
 * requests to the real registrar under A's LDevID.
 */
async function startImpostor(
  sys: TestSystem,
  a: OnboardingCredentials,
  victimSerial: string,
  serve?: { certPem: string; keyPem: string },
): Promise<Impostor> {
  const seen: string[] = [];
  const aCert = toPem('CERTIFICATE', fromBase64(a.ldevid)!);
  const aKey = toPem('PRIVATE KEY', fromBase64(a.ldevidKey)!);
  const domainCa = sys.network.pki.domainCa.cert;
  const { masa } = sys.manufacturer.pki;
  const tls = serve ?? { certPem: aCert, keyPem: aKey };

  const server = https.createServer(
    {
      cert: tls.certPem + toPem('CERTIFICATE', domainCa.der),
      key: tls.keyPem,
      minVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const route = `${req.method} ${req.url}`;
        seen.push(route);
        const send = (status: number, type: string, text: string) =>
          res.writeHead(status, { 'content-type': type }).end(text);
        void (async () => {
          switch (route) {
            case 'POST /.well-known/brski/requestvoucher': {
              const pvr = decodeVoucherRequest(body).body;
              const voucher = signVoucher(sys.ctx.crypto, masa.key, [masa.cert], {
                serialNumber: pvr['serial-number'],
                nonce: pvr.nonce!,
                pinnedDomainCert: domainCa,
                createdOn: new Date(),
                assertion: 'logged',
              });
              return send(200, VOUCHER_JWS_MEDIA_TYPE, voucher);
            }
            case 'GET /.well-known/airlock/declaration':
              return send(
                200,
                'application/json',
                JSON.stringify({ chain: await sys.manufacturer.declarations.chain(victimSerial) }),
              );
            case 'POST /.well-known/brski/voucher_status':
              return send(200, 'application/json', JSON.stringify({ authenticated: true }));
            case 'POST /.well-known/airlock/app-bootstrap':
              return send(
                200,
                'application/json',
                JSON.stringify({ applicationUrl: 'https://127.0.0.1:1/evil', trustAnchor: aCert }),
              );
            case 'GET /.well-known/est/cacerts':
              return send(200, CERTS_ONLY_MEDIA_TYPE, encodeCertsOnly([domainCa.der]));
            case 'POST /.well-known/est/simpleenroll':
            case 'POST /.well-known/est/simplereenroll': {
              // The victim's request, relayed to the real registrar under A's LDevID.
              const conn = await PeerConnection.open(sys.registrarUrl, { cert: aCert, key: aKey });
              try {
                const r = await conn.call('POST', '/.well-known/est/simplereenroll', {
                  body,
                  contentType: 'application/pkcs10',
                });
                return send(200, CERTS_ONLY_MEDIA_TYPE, r.body);
              } finally {
                await conn.close();
              }
            }
            case 'POST /.well-known/airlock/wifi':
              return send(
                200,
                'application/json',
                JSON.stringify({ ssid: 'airlock-iot', psk: 'attacker-knows-this' }),
              );
            case 'POST /.well-known/brski/enrollstatus':
              return send(200, 'application/json', '{"ok":true}');
            default:
              return send(404, 'text/plain', 'no');
          }
        })().catch(() => send(500, 'text/plain', 'impostor failed'));
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('an onboarded device posing as the registrar', () => {
  let sys: TestSystem;
  let a: OnboardingCredentials;
  let aSerial: string;
  /** An onboarded device A: a fresh one for each test whose relay supersedes A's LDevID. */
  const onboardedDevice = async () => {
    const dev = await sys.newDevice();
    await dev.agent.onboard(sys.registrarUrl);
    return { credentials: (await dev.agent.onboardingCredentials())!, serial: dev.serial };
  };
  beforeAll(async () => {
    sys = await startTestSystem();
    ({ credentials: a, serial: aSerial } = await onboardedDevice());
  });
  afterAll(async () => sys?.close());

  it("the premise: A's LDevID chains to the pinned domain CA but is not a registrar certificate", () => {
    const ldevid = parseCertificateBase64(a.ldevid);
    expect(ldevid.issuer).toBe(sys.network.pki.domainCa.cert.subject);
    expect(ldevid.extendedKeyUsage ?? []).not.toContain(Oid.cmcRA);
    expect(sys.network.pki.registrar.cert.extendedKeyUsage).toContain(Oid.cmcRA);
  });

  it('device B refuses the impostor at step 9, stores nothing, and is issued nothing', async () => {
    const b = await sys.newDevice();
    const impostor = await startImpostor(sys, a, b.serial);
    const aCertsBefore = await sys.network.inventory.certificates(aSerial);
    try {
      expect(await errorCode(() => b.agent.onboard(impostor.url))).toBe(
        'ERR_NETWORK_NOT_REGISTRAR',
      );
      // The attack ran up to step 9 and no further: nothing secret was asked for or sent.
      expect(impostor.seen).toContain('POST /.well-known/brski/requestvoucher');
      expect(impostor.seen).toContain('POST /.well-known/brski/voucher_status');
      expect(impostor.seen).not.toContain('POST /.well-known/airlock/app-bootstrap');
      expect(impostor.seen).not.toContain('POST /.well-known/est/simpleenroll');
      expect(await b.agent.onboardingCredentials()).toBeUndefined();
      expect(await b.agent.store.names()).toEqual([SecureStoreEntry.birth]);
      expect(await sys.network.inventory.certificates(b.serial)).toEqual([]);
      expect(await sys.network.inventory.certificates(aSerial)).toEqual(aCertsBefore);
    } finally {
      await impostor.close();
    }
  });

  it('the same device still onboards to the real registrar afterwards', async () => {
    const b = await sys.newDevice();
    const impostor = await startImpostor(sys, a, b.serial);
    try {
      await expect(b.agent.onboard(impostor.url)).rejects.toMatchObject({
        code: 'ERR_NETWORK_NOT_REGISTRAR',
      });
    } finally {
      await impostor.close();
    }
    const report = await b.agent.onboard(sys.registrarUrl);
    expect(
      parseCertificateBase64((await b.agent.onboardingCredentials())!.ldevid).subjectSerialNumber,
    ).toBe(b.serial);
    expect((await sys.network.inventory.certificates(b.serial)).map((c) => c.serial)).toEqual([
      report.ldevidSerial,
    ]);
  });

  it("renewal: TLS already refuses a server with A's LDevID (no serverAuth); the device keeps its credentials", async () => {
    const b = await sys.newDevice();
    await b.agent.onboard(sys.registrarUrl);
    const before = await b.agent.onboardingCredentials();
    const certsBefore = await sys.network.inventory.certificates(b.serial);
    const impostor = await startImpostor(sys, a, b.serial);
    try {
      expect(await errorCode(() => b.agent.renew(impostor.url))).toBe('ERR_TRANSPORT');
      expect(impostor.seen).toEqual([]);
      expect(await b.agent.onboardingCredentials()).toEqual(before);
      expect(await sys.network.inventory.certificates(b.serial)).toEqual(certsBefore);
    } finally {
      await impostor.close();
    }
  });

  it('renewal: a domain server certificate without cmcRA is refused, unless requireRegistrarRa is off', async () => {
    // A certificate of the domain for a TLS server that is not the registrar (e.g. a web UI).
    const key = generateP256Key();
    const at = new Date();
    const server = issueCertificate(
      sys.ctx.crypto,
      signerProfile({
        name: 'Doe Family web UI',
        notBefore: new Date(at.getTime() - 60_000),
        notAfter: new Date(at.getTime() + 86_400_000),
        serverAuth: true,
        dnsNames: ['localhost'],
      }),
      key.spki,
      sys.network.pki.domainCa,
    );
    const serve = { certPem: toPem('CERTIFICATE', server.der), keyPem: privateKeyPem(key) };
    const relayVia = await onboardedDevice();
    const b = await sys.newDevice();
    await b.agent.onboard(sys.registrarUrl);
    const before = await b.agent.onboardingCredentials();
    const certsBefore = await sys.network.inventory.certificates(b.serial);
    const impostor = await startImpostor(sys, relayVia.credentials, b.serial, serve);
    try {
      expect(await errorCode(() => b.agent.renew(impostor.url))).toBe('ERR_NETWORK_NOT_REGISTRAR');
      expect(impostor.seen).toEqual([]);
      // Without the check the request reaches the impostor, which relays it under another
      // device's LDevID: the certificate that comes back names that device and is refused.
      const lax = new DeviceAgent(b.agent.store, sys.ctx, { requireRegistrarRa: false });
      expect(await errorCode(() => lax.renew(impostor.url))).toBe('ERR_NETWORK_LDEVID_MISMATCH');
      expect(impostor.seen).toEqual(['POST /.well-known/est/simplereenroll']);
      expect(await b.agent.onboardingCredentials()).toEqual(before);
      expect(await sys.network.inventory.certificates(b.serial)).toEqual(certsBefore);
    } finally {
      await impostor.close();
    }
  });

  it('with requireRegistrarRa off the impostor gets past step 9, and B refuses the relayed LDevID that names A', async () => {
    const { credentials: a, serial: aSerial } = await onboardedDevice();
    const b = await sys.newDevice();
    const lax = new DeviceAgent(b.agent.store, sys.ctx, { requireRegistrarRa: false });
    const impostor = await startImpostor(sys, a, b.serial);
    const aCertsBefore = await sys.network.inventory.certificates(aSerial);
    try {
      expect(await errorCode(() => lax.onboard(impostor.url))).toBe('ERR_NETWORK_LDEVID_MISMATCH');
      // Without the RA check B went on to ask the impostor for its credentials.
      expect(impostor.seen).toContain('POST /.well-known/airlock/app-bootstrap');
      expect(impostor.seen).toContain('POST /.well-known/est/simpleenroll');
      expect(impostor.seen).not.toContain('POST /.well-known/brski/enrollstatus');
      // The real registrar issued the relayed certificate to A (it is A's LDevID that asked), not to B.
      const aCertsAfter = await sys.network.inventory.certificates(aSerial);
      expect(aCertsAfter.length).toBe(aCertsBefore.length + 1);
      expect(await sys.network.inventory.certificates(b.serial)).toEqual([]);
      expect(await b.agent.onboardingCredentials()).toBeUndefined();
      expect(await b.agent.store.names()).toEqual([SecureStoreEntry.birth]);
    } finally {
      await impostor.close();
    }
  });
});
