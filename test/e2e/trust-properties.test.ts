/**
 * The five properties of trusted network-layer onboarding (NIST IR 8350 section 3), each
 * checked against a whole system on loopback: real TLS, real SQLite files.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { X509Certificate, X509Crl } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import type { OnboardingCredentials } from '../../src/core/credentials.js';
import { MemorySecureStore } from '../../src/adapters/secure-store/memory-store.js';
import { exportPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import type { MasaClient } from '../../src/adapters/http/masa-client.js';
import { PeerConnection, type HttpResponse } from '../../src/adapters/http/connection.js';
import { HttpVerifierClient } from '../../src/adapters/http/verifier-client.js';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { Network } from '../../src/roles/network/index.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { signVoucher } from '../../src/protocols/voucher/voucher.js';
import { signPledgeVoucherRequest } from '../../src/protocols/voucher/pledge-voucher-request.js';
import { verifyRegistrarVoucherRequest } from '../../src/protocols/voucher/registrar-voucher-request.js';
import { parseCertificate, parseCertificateBase64 } from '../../src/protocols/x509/certificate.js';
import { filesUnder, startTestSystem, type TestSystem } from '../support/harness.js';
import {
  captureOutput,
  findSecrets,
  privateKeyNeedles,
  textSecretNeedles,
  type Needle,
} from '../support/secrets.js';
import {
  bareSerial,
  connectAs,
  errorCode,
  getBinary,
  expectProblem,
  identityOf,
  leaks,
  pledgeVoucherRequest,
  postVoucherRequest,
  randomKek,
  secretForms,
  tempDir,
} from '../support/wire.js';

const runCli = promisify(execFile);
const airlockBin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

describe('(1) unique credentials', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('gives three devices distinct LDevID serials, LDevID keys and Wi-Fi PSKs', async () => {
    const creds: OnboardingCredentials[] = [];
    const serials: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { agent } = await sys.newDevice();
      const report = await agent.onboard(sys.registrarUrl);
      serials.push(report.ldevidSerial);
      const c = await agent.onboardingCredentials();
      expect(c).toBeDefined();
      creds.push(c!);
    }
    const ldevidSerials = creds.map((c) => parseCertificateBase64(c.ldevid).serial);
    expect(ldevidSerials).toEqual(serials);
    expect(new Set(ldevidSerials).size).toBe(3);
    expect(new Set(creds.map((c) => c.ldevidKey)).size).toBe(3);
    // Distinct keys, not merely distinct encodings of one key.
    expect(new Set(creds.map((c) => toBase64(parseCertificateBase64(c.ldevid).spki))).size).toBe(3);
    expect(new Set(creds.map((c) => c.wifi.psk)).size).toBe(3);
    for (const c of creds) expect(c.wifi.psk.length).toBeGreaterThanOrEqual(8);
  });
});

describe('(2) mutual authentication', () => {
  let sys: TestSystem;
  let mallory: Network;
  let malloryUrl: string;
  let rogue: Network;
  let rogueUrl: string;
  let other: Manufacturer;
  const closers: Array<() => Promise<void>> = [];

  /** A client of the system's verifier: Mallory and the rogue network ask it too (devices attest to them). */
  const sameVerifier = () => {
    const info = sys.verifier!.trustInfo();
    return new HttpVerifierClient(sys.verifierUrl!, {
      tlsCaPem: info.tlsCaPem,
      earKey: info.earKeyJwk,
    });
  };

  beforeAll(async () => {
    sys = await startTestSystem();
    const anchors = [sys.manufacturer.trustBundle()];
    mallory = await Network.open({
      ctx: sys.ctx,
      verifier: sameVerifier(),
      databaseFile: path.join(tempDir('airlock-mallory-'), 'network.db'),
      kek: randomKek(),
      manufacturers: anchors,
      config: { ownerName: 'Mallory' },
    });
    malloryUrl = await mallory.serve(0);
    closers.push(() => mallory.close());

    // A rogue registrar whose "MASA" signs with the real MASA key without checking ownership.
    const forging: MasaClient = {
      async requestVoucher(_masaUrl, rvr) {
        const at = new Date();
        const v = verifyRegistrarVoucherRequest(sys.ctx.crypto, rvr, {
          idevidAnchors: [sys.manufacturer.pki.idevidCa.cert],
          at,
        });
        return signVoucher(
          sys.ctx.crypto,
          sys.manufacturer.pki.masa.key,
          [sys.manufacturer.pki.masa.cert],
          {
            serialNumber: v.serialNumber,
            nonce: v.nonce,
            pinnedDomainCert: v.domainCa ?? v.registrarCert,
            createdOn: at,
            expiresOn: new Date(at.getTime() + 600_000),
            assertion: 'logged',
          },
        );
      },
      fetchDeclarationChain: async (_masaUrl, serial) =>
        sys.manufacturer.declarations.chain(serial),
      sendOwnershipRequest: async () => {
        throw new Error('not used by the rogue registrar');
      },
      close: async () => undefined,
    };
    rogue = await Network.open({
      ctx: sys.ctx,
      verifier: sameVerifier(),
      databaseFile: path.join(tempDir('airlock-rogue-'), 'network.db'),
      kek: randomKek(),
      manufacturers: anchors,
      config: { ownerName: 'Rogue' },
      masaClient: forging,
    });
    rogueUrl = await rogue.serve(0);
    closers.push(() => rogue.close());

    other = await Manufacturer.open({
      ctx: sys.ctx,
      databaseFile: path.join(tempDir('airlock-othermfg-'), 'manufacturer.db'),
      kek: randomKek(),
      config: { name: 'Unknown Gadgets Ltd' },
    });
    closers.push(() => other.close());
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await sys?.close();
  });

  it('(a) the MASA refuses a voucher to a network whose owner may not onboard the device', async () => {
    const { agent, serial } = await sys.newDevice();
    expect(mallory.owner.id).not.toBe(sys.network.owner.id);
    expect(await errorCode(() => agent.onboard(malloryUrl))).toBe('ERR_MASA_NOT_AUTHORIZED');
    expect(await agent.onboardingCredentials()).toBeUndefined();
    const refused = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .selectAll()
      .where('subject', '=', serial)
      .where('outcome', '=', 'refused')
      .execute();
    expect(refused.map((r) => r.code)).toEqual(['ERR_MASA_NOT_AUTHORIZED']);
    expect(JSON.parse(refused[0]!.detail!)).toMatchObject({ owner: mallory.owner.id });
    const issued = await sys.manufacturer.db
      .selectFrom('masa_audit')
      .selectAll()
      .where('subject', '=', serial)
      .where('outcome', '=', 'ok')
      .execute();
    expect(issued).toEqual([]);
    // The device is still good for its real owner.
    await agent.onboard(sys.registrarUrl);
  });

  it('(b) the device refuses a network with a genuine voucher whose owner it does not know', async () => {
    const { agent, serial } = await sys.newDevice();
    expect(await errorCode(() => agent.onboard(rogueUrl))).toBe('ERR_NETWORK_NOT_AUTHORIZED');
    expect(await agent.onboardingCredentials()).toBeUndefined();
    expect(await agent.store.names()).toEqual(['birth']);
    // The rogue network did get that far: it vouched and authenticated the device, but issued nothing.
    const row = await rogue.db
      .selectFrom('net_devices')
      .select(['state', 'ldevid_serial', 'psk_id'])
      .where('serial', '=', serial)
      .executeTakeFirst();
    expect(row).toMatchObject({ ldevid_serial: null, psk_id: null });
    const report = await agent.onboard(sys.registrarUrl);
    expect(report.networkOwner.id).toBe(sys.network.owner.id);
  });

  it('(c) the registrar refuses a device from a manufacturer it does not trust, before any state', async () => {
    const store = new MemorySecureStore();
    const birth = await other.factory.mint(store, { model: 'gizmo' });
    const agent = new DeviceAgent(store, sys.ctx);
    const before = await sys.network.db.selectFrom('net_devices').selectAll().execute();
    expect(await errorCode(() => agent.onboard(sys.registrarUrl))).toBe('ERR_IDEVID_UNTRUSTED');
    expect(
      await sys.network.db
        .selectFrom('net_devices')
        .selectAll()
        .where('serial', '=', birth.serialNumber)
        .execute(),
    ).toEqual([]);
    expect(await sys.network.db.selectFrom('net_devices').selectAll().execute()).toEqual(before);
    expect(await agent.onboardingCredentials()).toBeUndefined();
  });

  it('(d) a party without the device private key cannot speak for it', async () => {
    const genuine = await sys.newDevice();
    const victim = identityOf(await genuine.agent.birth());

    // A self-made certificate (another manufacturer's) in TLS, the genuine IDevID in the request.
    const forgerStore = new MemorySecureStore();
    const forger = identityOf(await other.factory.mint(forgerStore, { model: 'gizmo' }));
    const c1 = await connectAs(sys.registrarUrl, forger);
    try {
      const registrarCert = parseCertificate(c1.peerCertificate());
      const pvr = signPledgeVoucherRequest(sys.ctx.crypto, forger.key, victim.idevid, {
        serialNumber: victim.birth.serialNumber,
        nonce: 'bm9uY2Vub25jZQ==',
        createdOn: new Date(),
        proximityRegistrarCert: registrarCert.der,
      });
      const res = await postVoucherRequest(c1, pvr);
      // The registrar judges the TLS certificate first: a device of an unknown manufacturer.
      expectProblem(res, 'ERR_IDEVID_UNTRUSTED', 403);
    } finally {
      await c1.close();
    }

    // A genuine device of the same manufacturer in TLS, the victim's IDevID in the request's x5c.
    const accomplice = identityOf(await (await sys.newDevice()).agent.birth());
    const c2 = await connectAs(sys.registrarUrl, accomplice);
    try {
      const registrarCert = parseCertificate(c2.peerCertificate());
      const withVictimCert = signPledgeVoucherRequest(
        sys.ctx.crypto,
        accomplice.key,
        victim.idevid,
        {
          serialNumber: victim.birth.serialNumber,
          nonce: 'bm9uY2Vub25jZQ==',
          createdOn: new Date(),
          proximityRegistrarCert: registrarCert.der,
        },
      );
      expectProblem(await postVoucherRequest(c2, withVictimCert), 'ERR_IDEVID_MISMATCH', 403);
      // Its own certificate, but the victim's serial number.
      const withVictimSerial = signPledgeVoucherRequest(
        sys.ctx.crypto,
        accomplice.key,
        accomplice.idevid,
        {
          serialNumber: victim.birth.serialNumber,
          nonce: 'bm9uY2Vub25jZQ==',
          createdOn: new Date(),
          proximityRegistrarCert: registrarCert.der,
        },
      );
      expectProblem(await postVoucherRequest(c2, withVictimSerial), 'ERR_IDEVID_MISMATCH', 403);
    } finally {
      await c2.close();
    }
    expect(
      await sys.network.db
        .selectFrom('net_devices')
        .selectAll()
        .where('serial', '=', victim.birth.serialNumber)
        .execute(),
    ).toEqual([]);

    // The genuine IDevID certificate in TLS with another key: the TLS handshake itself fails.
    // (That this rejection is not a typed AirlockError is checked in test/adapters/connection.test.ts.)
    await expect(
      PeerConnection.open(sys.registrarUrl, { cert: victim.certPem, key: forger.keyPem }),
    ).rejects.toThrow();

    // No client certificate at all.
    const c3 = await connectAs(sys.registrarUrl, undefined);
    try {
      const { pvr } = pledgeVoucherRequest(sys.ctx.crypto, victim, c3);
      expectProblem(await postVoucherRequest(c3, pvr), 'ERR_IDEVID_MISSING', 401);
      expectProblem(
        await c3.request('POST', '/.well-known/airlock/wifi'),
        'ERR_IDEVID_MISSING',
        401,
      );
    } finally {
      await c3.close();
    }
    expect(
      await sys.network.db
        .selectFrom('net_devices')
        .selectAll()
        .where('serial', '=', victim.birth.serialNumber)
        .execute(),
    ).toEqual([]);
  });
});

interface Recording {
  url: string;
  bytes(): Buffer;
  close(): Promise<void>;
}

/** A TCP proxy in front of `target` that records every byte in both directions. */
async function recordingProxy(target: string): Promise<Recording> {
  const t = new URL(target);
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(t.port), t.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    upstream.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    bytes: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('(3) encrypted channel', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('nothing secret crosses the wire in the clear', async () => {
    const proxy = await recordingProxy(sys.registrarUrl);
    try {
      const { agent } = await sys.newDevice();
      await agent.onboard(proxy.url);
      const creds = (await agent.onboardingCredentials())!;
      const wire = proxy.bytes();
      expect(wire.length).toBeGreaterThan(2000);
      const ldevidDer = fromBase64(creds.ldevid)!;
      const needles = [
        ...secretForms('PSK', creds.wifi.psk),
        ...secretForms('LDevID', ldevidDer),
        ...secretForms('LDevID key', fromBase64(creds.ldevidKey)!),
        // Neither is secret, but in clear text they would show the channel is not encrypted.
        ...secretForms('domain CA', fromBase64(creds.domainCa)!),
        { label: 'SSID', bytes: Buffer.from(`"${creds.wifi.ssid}"`) },
        { label: 'HTTP', bytes: Buffer.from('/.well-known/') },
      ];
      // The search works: the plain text would be found.
      expect(
        leaks(Buffer.concat([Buffer.from('x'), ldevidDer, Buffer.from(creds.wifi.psk)]), needles),
      ).toEqual(expect.arrayContaining(['LDevID (DER)', 'PSK']));
      expect(leaks(wire, needles)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('plain HTTP to the registrar port gets no HTTP response', async () => {
    const port = Number(new URL(sys.registrarUrl).port);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () =>
        s.write(
          'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
        ),
      );
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.on('error', () => undefined);
      s.on('close', () => resolve(Buffer.concat(got)));
      s.setTimeout(10_000, () => reject(new Error('the registrar neither answered nor closed')));
    });
    expect(received.toString('latin1')).not.toMatch(/HTTP\/1/);
    expect(received.toString('latin1')).not.toContain('BEGIN CERTIFICATE');
  });

  it('TLS 1.2 is accepted only with ECDHE and an AEAD cipher (RFC 8995 section 5.1); TLS 1.1, CBC and static-key suites are refused', async () => {
    const port = Number(new URL(sys.registrarUrl).port);
    const attempt = (o: tls.ConnectionOptions) =>
      new Promise<{ connected: boolean; cipher?: string }>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...o });
        s.once('secureConnect', () => {
          resolve({ connected: true, cipher: s.getCipher().standardName });
          s.destroy();
        });
        s.once('error', () => resolve({ connected: false }));
        s.once('close', () => resolve({ connected: false }));
      });
    const ok = await attempt({ maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2' });
    expect(ok.connected).toBe(true);
    expect(ok.cipher).toMatch(
      /^TLS_ECDHE_ECDSA_WITH_(AES_\d+_GCM_SHA\d+|CHACHA20_POLY1305_SHA256)$/,
    );
    for (const ciphers of ['ECDHE-ECDSA-AES128-SHA', 'AES128-SHA', 'AES128-GCM-SHA256']) {
      expect(
        (await attempt({ maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2', ciphers })).connected,
        ciphers,
      ).toBe(false);
    }
    expect((await attempt({ maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).connected).toBe(false);
  });
});

describe('(4) nobody but the device sees its credentials', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('no issued secret is in any database, journal, log, inventory result, problem body, stdout, stderr or CLI output, in any encoding', async () => {
    const output = captureOutput();
    let printed: { stdout: string; stderr: string } | undefined;
    try {
      await checkNoSecretLeaves();
    } finally {
      printed ??= output.stop();
    }
    async function checkNoSecretLeaves(): Promise<void> {
      const devices = [];
      for (let i = 0; i < 3; i++) {
        const d = await sys.newDevice();
        await d.agent.onboard(sys.registrarUrl);
        devices.push(d);
      }
      const needles: Needle[] = [];
      const plain: Array<{ label: string; bytes: Buffer }> = [];
      // A re-onboarding and a renewal too: a superseded credential is still a secret.
      const superseded = [(await devices[0]!.agent.onboardingCredentials())!];
      await devices[0]!.agent.factoryReset();
      await devices[0]!.agent.onboard(sys.registrarUrl);
      superseded.push((await devices[0]!.agent.onboardingCredentials())!);
      await devices[0]!.agent.renew(sys.registrarUrl);
      for (const [j, c] of superseded.entries()) {
        needles.push(
          ...textSecretNeedles(`superseded ${j} PSK`, c.wifi.psk),
          ...privateKeyNeedles(`superseded ${j} LDevID key`, fromBase64(c.ldevidKey)!),
        );
        plain.push(
          { label: `superseded ${j} PSK`, bytes: Buffer.from(c.wifi.psk) },
          { label: `superseded ${j} LDevID key`, bytes: Buffer.from(c.ldevidKey) },
        );
      }
      // The roles' own private keys are secrets too.
      const roleKeys = {
        'manufacturer root': sys.manufacturer.pki.root.key,
        'MASA signing': sys.manufacturer.pki.masa.key,
        'declaration signing': sys.manufacturer.pki.declarations.key,
        'domain CA': sys.network.pki.domainCa.key,
        registrar: sys.network.pki.registrar.key,
        'attestation CA': sys.manufacturer.pki.attestationCa.key,
        'endorsements CA': sys.manufacturer.pki.endorsementsCa.key,
        'endorsements signing': sys.manufacturer.pki.endorsements.key,
        'verifier CA': sys.verifier!.pki.ca.key,
        'verifier TLS': sys.verifier!.pki.tls.key,
        'EAR signing': sys.verifier!.pki.ear.key,
      };
      for (const [label, key] of Object.entries(roleKeys))
        needles.push(...privateKeyNeedles(`${label} key`, exportPkcs8(key)));

      for (const [i, d] of devices.entries()) {
        const c = (await d.agent.onboardingCredentials())!;
        const b = await d.agent.birth();
        needles.push(
          ...textSecretNeedles(`device ${i} PSK`, c.wifi.psk),
          ...privateKeyNeedles(`device ${i} LDevID key`, fromBase64(c.ldevidKey)!),
          ...privateKeyNeedles(`device ${i} IDevID key`, fromBase64(b.idevidKey)!),
          ...privateKeyNeedles(`device ${i} attestation key`, fromBase64(b.attestation!.key)!),
        );
        plain.push(
          { label: `device ${i} PSK`, bytes: Buffer.from(c.wifi.psk) },
          { label: `device ${i} LDevID key`, bytes: Buffer.from(c.ldevidKey) },
          { label: `device ${i} IDevID key`, bytes: Buffer.from(b.idevidKey) },
          { label: `device ${i} attestation key`, bytes: Buffer.from(b.attestation!.key) },
        );
      }

      // Problem responses the registrar gives to a device's and to a stranger's mistakes.
      const problems: HttpResponse[] = [];
      const id = identityOf(await devices[1]!.agent.birth());
      const asks: Array<
        [method: 'GET' | 'POST', path: string, body?: string, contentType?: string]
      > = [
        ['POST', '/.well-known/airlock/wifi'],
        ['POST', '/.well-known/est/simpleenroll', 'AAAA', 'application/pkcs10'],
        ['POST', '/.well-known/brski/requestvoucher', 'not.a.jws', 'application/voucher-jws+json'],
        ['POST', '/.well-known/brski/enrollstatus', '{', 'application/json'],
        ['GET', '/.well-known/airlock/psk'],
      ];
      for (const [method, p, body, contentType] of asks) {
        // One connection each: the registrar may close a connection after a refusal.
        const conn = await connectAs(sys.registrarUrl, id);
        try {
          problems.push(await conn.request(method, p, { body, contentType }));
        } finally {
          await conn.close();
        }
      }
      for (const p of problems) expect(p.status).toBeGreaterThanOrEqual(400);

      const sources: Array<{ name: string; bytes: Buffer }> = [];
      for (const d of devices) {
        sources.push({
          name: `events(${d.serial})`,
          bytes: Buffer.from(JSON.stringify(await sys.network.inventory.events(d.serial))),
        });
        sources.push({
          name: `device(${d.serial})`,
          bytes: Buffer.from(JSON.stringify(await sys.network.inventory.device(d.serial))),
        });
        sources.push({
          name: `certificates(${d.serial})`,
          bytes: Buffer.from(JSON.stringify(await sys.network.inventory.certificates(d.serial))),
        });
      }
      sources.push({
        name: 'devices()',
        bytes: Buffer.from(JSON.stringify(await sys.network.inventory.devices())),
      });
      problems.forEach((p, i) =>
        sources.push({ name: `problem ${i}`, bytes: Buffer.from(p.body) }),
      );

      const devicesDir = path.join(sys.dir, 'devices') + path.sep;
      const scanFiles = () =>
        filesUnder(sys.dir)
          .filter((f) => !f.startsWith(devicesDir))
          .map((f) => ({ name: path.relative(sys.dir, f), bytes: fs.readFileSync(f) }));
      const whileOpen = scanFiles();
      expect(whileOpen.map((f) => f.name)).toEqual(
        expect.arrayContaining([
          'airlock.log',
          path.join('data', 'network.db'),
          path.join('data', 'manufacturer.db'),
        ]),
      );

      // What the operator's commands print, on stdout and stderr.
      const cli = async (...args: string[]) => {
        const r = await runCli(process.execPath, [airlockBin, ...args], { timeout: 60_000 });
        sources.push(
          { name: `airlock ${args.slice(0, 2).join(' ')} (stdout)`, bytes: Buffer.from(r.stdout) },
          { name: `airlock ${args.slice(0, 2).join(' ')} (stderr)`, bytes: Buffer.from(r.stderr) },
        );
      };
      const dataDir = path.join(sys.dir, 'data');
      await cli('network', 'devices', '--data-dir', dataDir);
      await cli('network', 'devices', '--json', '--data-dir', dataDir);
      await cli(
        'network',
        'devices',
        '--events',
        devices[0]!.serial,
        '--json',
        '--data-dir',
        dataDir,
      );
      await cli('device', 'status', '--store', devices[1]!.storeDir);

      await sys.closeRoles();
      const afterClose = scanFiles();
      printed = output.stop();
      sources.push(
        { name: 'stdout', bytes: Buffer.from(printed.stdout) },
        { name: 'stderr', bytes: Buffer.from(printed.stderr) },
      );

      const found: string[] = [];
      for (const s of [...sources, ...whileOpen, ...afterClose])
        for (const l of findSecrets(s.bytes, needles)) found.push(`${l} in ${s.name}`);
      expect(found).toEqual([]);

      // The device's own secure store holds them, sealed, readable by its owner only.
      for (const d of devices) {
        const files = filesUnder(d.storeDir);
        expect(files.length).toBeGreaterThanOrEqual(2);
        for (const f of files) {
          expect(fs.statSync(f).mode & 0o777, f).toBe(0o600);
          const bytes = fs.readFileSync(f);
          expect(findSecrets(bytes, needles), f).toEqual([]);
          expect(findSecrets(bytes, plain), f).toEqual([]);
        }
        expect(fs.statSync(d.storeDir).mode & 0o777).toBe(0o700);
      }
    }
  });
});

describe('(5) repeatable onboarding', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('a factory reset and a second onboarding give new credentials and revoke the old LDevID', async () => {
    const { agent, serial } = await sys.newDevice();
    const first = await agent.onboard(sys.registrarUrl);
    const c1 = (await agent.onboardingCredentials())!;

    await agent.factoryReset();
    expect(await agent.onboardingCredentials()).toBeUndefined();
    expect(await agent.store.names()).toEqual(['birth']);

    const second = await agent.onboard(sys.registrarUrl);
    const c2 = (await agent.onboardingCredentials())!;
    expect(second.ldevidSerial).not.toBe(first.ldevidSerial);
    expect(c2.wifi.psk).not.toBe(c1.wifi.psk);
    expect(c2.ldevidKey).not.toBe(c1.ldevidKey);
    expect(toBase64(parseCertificateBase64(c2.ldevid).spki)).not.toBe(
      toBase64(parseCertificateBase64(c1.ldevid).spki),
    );

    const {
      status,
      contentType,
      body: crlDer,
    } = await getBinary(sys.registrarUrl, '/.well-known/airlock/crl');
    expect(status).toBe(200);
    expect(contentType).toMatch(/^application\/pkix-crl/);
    const crl = new X509Crl(new Uint8Array(crlDer));
    const domainCa = new X509Certificate(
      sys.network.pki.domainCa.cert.der as Uint8Array<ArrayBuffer>,
    );
    expect(await crl.verify({ publicKey: domainCa })).toBe(true);
    const revoked = crl.entries.map((e) => bareSerial(e.serialNumber));
    expect(revoked).toContain(bareSerial(first.ldevidSerial));
    expect(revoked).not.toContain(bareSerial(second.ldevidSerial));

    const certs = await sys.network.inventory.certificates(serial);
    const old = certs.find((c) => c.serial === first.ldevidSerial);
    const current = certs.find((c) => c.serial === second.ldevidSerial);
    expect(old?.revoked_at).not.toBeNull();
    expect(old?.revocation_reason).toBe('superseded');
    expect(current?.revoked_at).toBeNull();

    const psks = await sys.network.db
      .selectFrom('net_psks')
      .selectAll()
      .where('device_serial', '=', serial)
      .orderBy('created_at')
      .execute();
    expect(psks.filter((p) => p.retired_at === null)).toHaveLength(1);

    const record = await sys.network.inventory.device(serial);
    expect(record.onboardings).toBe(2);
    expect(record.ldevid_serial).toBe(second.ldevidSerial);
    expect(record.state).toBe('onboarded');
  });
});
