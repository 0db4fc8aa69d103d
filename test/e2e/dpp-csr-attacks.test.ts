/**
 * Attacks on the certificate request of sta-dot1x (docs/DPP.md), against the running network:
 * Network.serveDpp on loopback, a device added by its URI with `akm: 'dot1x'`, and the enrollee
 * played here at the protocol level over TCP (initiateAuth / readAuthResponse with its own
 * bootstrapping key, then GAS Configuration Requests built by hand, with or without `pkcs10`).
 *
 * - the first Configuration Request is answered CSR Needed, with the CsrAttrs;
 * - a CSR for a key other than the exchange's protocol key, even with the right
 *   challengePassword, is answered CSR Bad (13); the exchange ends; no LDevID is issued (no
 *   device record, no certificate); an event records the refusal;
 * - a CSR for the right key carrying another exchange's challengePassword: CSR Bad, nothing;
 * - the right CSR: status OK, a dot1x object whose certBag holds an LDevID for exactly the
 *   protocol key (OpenSSL verifies it against the domain CA) and the domain CA; a Connector for
 *   the protocol key; the device onboarded after the Configuration Result;
 * - CSR Needed is offered once: asking again without a CSR gets Configure Failure.
 *
 * No root needed: everything is in this process, on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex, toPem } from '../../src/core/bytes.js';
import { DppAttributeId, encodeDppAttributes } from '../../src/protocols/dpp/attributes.js';
import type { DppSession } from '../../src/protocols/dpp/authentication.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { csrChallengePassword } from '../../src/protocols/dpp/configuration.js';
import { dppCurveParams, wrapDppData } from '../../src/protocols/dpp/crypto.js';
import {
  buildConfigurationRequest,
  buildConfigurationResult,
  readConfigurationResponse,
  type DppEnrollment,
} from '../../src/protocols/dpp/enrollment.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
  type GasInitialRequest,
} from '../../src/protocols/dpp/frames.js';
import { initiateAuth, readAuthResponse } from '../../src/protocols/dpp/initiation.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { csrAttributes } from '../../src/protocols/est/csr.js';
import { decodeCertsOnly } from '../../src/protocols/est/certs-only.js';
import { parseCertificate } from '../../src/protocols/x509/certificate.js';
import type { DppConfiguratorHandle, DppExchangeOutcome } from '../../src/roles/network/dpp.js';
import { buildTestCsr, ecKeyFromScalar, spkiOf } from '../support/dpp-csr.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { until as poll } from '../support/wpa-supplicant-dpp.js';

const crypto = new NodeCrypto();
const SSID = 'airlock-dot1x';

/** Everything is in this process: polled every 20 ms, 10 s at most. */
const until = <T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> =>
  poll(what, f, ms, 20);

/** A TCP connection to the controller, its messages decoded as they arrive. */
interface Peer {
  send(m: DppMessage): void;
  /** The `i`th message received (from 0). */
  message(i: number): Promise<DppMessage>;
  readonly inbox: DppMessage[];
  closed(): boolean;
  destroy(): void;
}

async function connect(port: number): Promise<Peer> {
  const socket = net.connect(port, '127.0.0.1');
  const decoder = new DppTcpDecoder(65535);
  const inbox: DppMessage[] = [];
  let closed = false;
  socket.on('data', (c: Buffer) => {
    for (const f of decoder.push(new Uint8Array(c))) inbox.push(decodeDppTcpMessage(f));
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  await new Promise((r) => socket.once('connect', r));
  return {
    send: (m) => socket.write(frameDppTcpMessage(encodeDppTcpMessage(m))),
    message: (i) => until(`message ${i}`, () => inbox[i]),
    inbox,
    closed: () => closed,
    destroy: () => socket.destroy(),
  };
}

/** A device: its bootstrapping key (P-256), its URI, its serial at the network. */
interface Device {
  serial: string;
  own: {
    curve: 'P-256' | 'P-384';
    privateKey: Uint8Array;
    publicKey: Uint8Array;
    spkiDer: Uint8Array;
  };
  uri: string;
}

function newDevice(serial: string, curve: 'P-256' | 'P-384' = 'P-256'): Device {
  const pair = crypto.ecGenerate(curve);
  const { spkiDer } = encodeBootstrappingKey(curve, pair.publicKey);
  return {
    serial,
    own: { curve, privateKey: pair.privateKey, publicKey: pair.publicKey, spkiDer },
    uri: formatDppUri({ version: 2, key: spkiDer, info: `SN=${serial}` }),
  };
}

/** The Configuration Request with this object, {E-nonce, object}ke. */
function configurationRequest(
  session: DppSession,
  object: Record<string, unknown>,
  dialogToken: number,
): { request: GasInitialRequest; enrollment: DppEnrollment } {
  const eNonce = crypto.bytes(dppCurveParams(session.curve).nonceLength);
  return {
    request: {
      kind: 'gas-initial-request',
      dialogToken,
      advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
      query: [
        {
          id: DppAttributeId.WRAPPED_DATA,
          value: wrapDppData(
            session.ke,
            [],
            encodeDppAttributes([
              { id: DppAttributeId.ENROLLEE_NONCE, value: eNonce },
              {
                id: DppAttributeId.CONFIGURATION_ATTRIBUTES_OBJECT,
                value: new TextEncoder().encode(JSON.stringify(object)),
              },
            ]),
          ),
        },
      ],
    },
    enrollment: { dialogToken, eNonce },
  };
}

describe('the certificate request of sta-dot1x, attacked on the running network', () => {
  let sys: TestSystem;
  let dpp: DppConfiguratorHandle;
  const outcomes: DppExchangeOutcome[] = [];
  const victim = newDevice('dpp-dot1x-victim');
  const once = newDevice('dpp-dot1x-once');
  const p384 = newDevice('dpp-dot1x-p384', 'P-384');
  /** The bk of an exchange of the victim's, for (c). */
  let earlierSession: DppSession | undefined;

  beforeAll(async () => {
    sys = await startTestSystem();
    for (const d of [victim, once, p384]) {
      const added = await sys.network.dpp.add(d.uri, { akm: 'dot1x' });
      expect(added).toMatchObject({ serial: d.serial, akm: 'dot1x' });
    }
    dpp = await sys.network.serveDpp({
      port: 0,
      host: '127.0.0.1',
      ssid: SSID,
      onExchange: (o) => outcomes.push(o),
      idleTimeoutMs: 5_000,
    });
  }, 120_000);

  afterAll(async () => {
    await dpp?.close();
    await sys?.close();
  });

  const CHECK = { crypto, now: new Date() };

  /** Authenticates mutually as `device`; returns the connection and the session. */
  async function authenticate(device: Device) {
    const peer = await connect(dpp.port);
    const networkUri = await sys.network.dpp.uri(device.own.curve);
    const { request, initiation } = initiateAuth(crypto, parseDppUri(networkUri).key, {
      own: device.own,
    });
    peer.send(request);
    const { confirm, session } = readAuthResponse(crypto, initiation, await peer.message(0));
    expect(session.mutual).toBe(true);
    expect(session.enrolleeProtocolPrivateKey).toBeDefined();
    peer.send(confirm);
    return { peer, session };
  }

  /** Authenticates, sends the first Configuration Request (no CSR): must be CSR Needed. */
  async function untilCsrNeeded(device: Device) {
    const { peer, session } = await authenticate(device);
    const { request, enrollment } = buildConfigurationRequest(crypto, session, {
      name: device.serial,
      dialogToken: 1,
    });
    peer.send(request);
    const first = readConfigurationResponse(session, enrollment, await peer.message(1), CHECK);
    return { peer, session, first };
  }

  /** The protocol key of `session` as a node:crypto key (from its private scalar). */
  const protocolKeyOf = (session: DppSession) =>
    ecKeyFromScalar(
      session.curve === 'P-384' ? 'P-384' : 'P-256',
      session.enrolleeProtocolPrivateKey!,
      session.enrolleeProtocolKey,
    );

  /** Nothing was issued to `serial`: no device record, no certificate, no LDevID. */
  async function nothingIssued(serial: string) {
    expect((await sys.network.inventory.devices()).map((d) => d.serial)).not.toContain(serial);
    const certs = await sys.network.db
      .selectFrom('net_certificates')
      .selectAll()
      .where('device_serial', '=', serial)
      .execute();
    expect(certs).toEqual([]);
    expect(await sys.network.inventory.certificates(serial)).toEqual([]);
  }

  const allCertificates = () =>
    sys.network.db.selectFrom('net_certificates').select('serial').execute();

  /** Sends message `at`: a Configuration Request for `device` with this `pkcs10`; its answer. */
  async function requestWithCsr(
    device: Device,
    peer: Peer,
    session: DppSession,
    pkcs10: unknown,
    at = 2,
  ) {
    const { request, enrollment } = configurationRequest(
      session,
      { name: device.serial, 'wi-fi_tech': 'infra', netRole: 'sta', pkcs10 },
      at,
    );
    peer.send(request);
    const answer = readConfigurationResponse(session, enrollment, await peer.message(at), CHECK);
    return { answer, enrollment };
  }

  /** The exchange ends: the controller closes the connection; the outcome it recorded. */
  async function ended(peer: Peer, seen: number) {
    await until('the connection closed', () => (peer.closed() ? true : undefined));
    return until('the exchange recorded', () => outcomes[seen]);
  }

  it('(a) the first Configuration Request is answered CSR Needed, with the CSR Attributes', async () => {
    const seen = outcomes.length;
    const { peer, first } = await untilCsrNeeded(victim);
    expect(first.status).toBe(12);
    expect(first.objects).toEqual([]);
    expect(toHex(first.csrAttributes!)).toBe(toHex(csrAttributes()));
    // The exchange is still open: the controller waits for the request with the CSR.
    await new Promise((r) => setTimeout(r, 100));
    expect(peer.closed()).toBe(false);
    expect(outcomes.length).toBe(seen);
    peer.destroy();
    const outcome = await until('the exchange recorded', () => outcomes[seen]);
    expect(outcome).toMatchObject({
      serial: victim.serial,
      authenticated: true,
      mutual: true,
      configurationDelivered: false,
      error: 'ERR_TRANSPORT',
    });
    await nothingIssued(victim.serial);
  });

  it('(b) a CSR for a foreign key, with the right challengePassword: CSR Bad, the exchange ends, nothing issued', async () => {
    const before = (await allCertificates()).length;
    const trailBefore = (await sys.network.inventory.events(victim.serial)).length;
    const seen = outcomes.length;
    const { peer, session, first } = await untilCsrNeeded(victim);
    expect(first.status).toBe(12);
    earlierSession = session;
    const foreign = crypto.ecGenerate('P-256');
    const csr = buildTestCsr({
      signer: ecKeyFromScalar('P-256', foreign.privateKey, foreign.publicKey),
      challengePassword: csrChallengePassword(crypto, session),
    });
    const { answer: second } = await requestWithCsr(
      victim,
      peer,
      session,
      Buffer.from(csr).toString('base64'),
    );
    expect(second).toEqual({ status: 13, objects: [] });
    // The exchange ends: the controller closes, and says why.
    const outcome = await ended(peer, seen);
    expect(outcome).toMatchObject({
      serial: victim.serial,
      authenticated: true,
      mutual: true,
      configurationDelivered: false,
      status: 'failed',
      error: 'ERR_DPP_CSR',
      reason: 'key',
    });
    expect(outcome.resultStatus).toBeUndefined();
    await nothingIssued(victim.serial);
    expect((await allCertificates()).length).toBe(before);
    // The refusal is in the device's trail; nothing was made or delivered.
    const added = (await sys.network.inventory.events(victim.serial)).slice(trailBefore);
    expect(added.map((e) => e.action)).toEqual(['dpp exchange']);
    expect(added[0]).toMatchObject({ outcome: 'error', code: 'ERR_DPP_CSR' });
    expect(JSON.parse(added[0]!.detail!)).toMatchObject({ reason: 'key', configured: false });
  });

  it('(b) also: a CSR not base64, signed by another key than it names, or on P-521, even in the first request: CSR Bad, nothing issued', async () => {
    const before = (await allCertificates()).length;
    const cases: {
      reason: string;
      pkcs10: (s: DppSession) => unknown;
      afterCsrNeeded: boolean;
    }[] = [
      { reason: 'malformed', pkcs10: () => 'not base64!', afterCsrNeeded: true },
      {
        reason: 'signature',
        pkcs10: (s) => {
          const other = crypto.ecGenerate('P-256');
          return Buffer.from(
            buildTestCsr({
              signer: ecKeyFromScalar('P-256', other.privateKey, other.publicKey),
              spki: spkiOf(protocolKeyOf(s)),
              challengePassword: csrChallengePassword(crypto, s),
            }),
          ).toString('base64');
        },
        afterCsrNeeded: true,
      },
      {
        reason: 'key',
        pkcs10: (s) => {
          const p521 = crypto.ecGenerate('P-521');
          return Buffer.from(
            buildTestCsr({
              signer: ecKeyFromScalar('P-521', p521.privateKey, p521.publicKey),
              hash: 'sha512',
              challengePassword: csrChallengePassword(crypto, s),
            }),
          ).toString('base64');
        },
        afterCsrNeeded: false,
      },
      {
        // A foreign key in the very first request, before any CSR Needed.
        reason: 'key',
        pkcs10: (s) => {
          const other = crypto.ecGenerate('P-256');
          return Buffer.from(
            buildTestCsr({
              signer: ecKeyFromScalar('P-256', other.privateKey, other.publicKey),
              challengePassword: csrChallengePassword(crypto, s),
            }),
          ).toString('base64');
        },
        afterCsrNeeded: false,
      },
    ];
    for (const c of cases) {
      const seen = outcomes.length;
      const { peer, session } = c.afterCsrNeeded
        ? await untilCsrNeeded(victim)
        : await authenticate(victim);
      const at = c.afterCsrNeeded ? 2 : 1;
      const { answer } = await requestWithCsr(victim, peer, session, c.pkcs10(session), at);
      expect(answer, c.reason).toEqual({ status: 13, objects: [] });
      const outcome = await ended(peer, seen);
      expect(outcome, c.reason).toMatchObject({
        serial: victim.serial,
        configurationDelivered: false,
        error: 'ERR_DPP_CSR',
        reason: c.reason,
      });
    }
    await nothingIssued(victim.serial);
    expect((await allCertificates()).length).toBe(before);
  });

  it('(c) a CSR for the right key with the challengePassword of another exchange: CSR Bad, nothing issued', async () => {
    expect(earlierSession).toBeDefined();
    const before = (await allCertificates()).length;
    const seen = outcomes.length;
    const { peer, session, first } = await untilCsrNeeded(victim);
    expect(first.status).toBe(12);
    const stale = csrChallengePassword(crypto, earlierSession!);
    expect(stale).not.toBe(csrChallengePassword(crypto, session));
    const csr = buildTestCsr({ signer: protocolKeyOf(session), challengePassword: stale });
    const { answer: second } = await requestWithCsr(
      victim,
      peer,
      session,
      Buffer.from(csr).toString('base64'),
    );
    expect(second).toEqual({ status: 13, objects: [] });
    const outcome = await ended(peer, seen);
    expect(outcome).toMatchObject({
      serial: victim.serial,
      configurationDelivered: false,
      error: 'ERR_DPP_CSR',
      reason: 'challenge-password',
    });
    await nothingIssued(victim.serial);
    expect((await allCertificates()).length).toBe(before);
  });

  it('(d) the right CSR: an LDevID for exactly the protocol key, with the domain CA; onboarded after the Result', async () => {
    const seen = outcomes.length;
    const { peer, session, first } = await untilCsrNeeded(victim);
    expect(first.status).toBe(12);
    const key = protocolKeyOf(session);
    const csr = buildTestCsr({
      signer: key,
      challengePassword: csrChallengePassword(crypto, session),
    });
    const { answer: second, enrollment } = await requestWithCsr(
      victim,
      peer,
      session,
      Buffer.from(csr).toString('base64'),
    );
    expect(second.status).toBe(0);
    expect(second.objects).toHaveLength(1);
    const object = second.objects[0]!;
    if (object.kind !== 'sta-dot1x') throw new Error(`expected sta-dot1x, got ${object.kind}`);
    expect(object.ssid).toBe(SSID);
    // The Connector (verified by readConfigurationResponse) names the protocol key, signed by
    // the network's C-sign key.
    expect(toHex(object.connector.netAccessKey.point)).toBe(toHex(session.enrolleeProtocolKey));
    const csign = (await sys.network.dpp.csign()).key;
    expect(object.csign.kid).toBe(csign.kid);

    const domainCa = sys.network.pki.domainCa.cert;
    const certs = decodeCertsOnly(Buffer.from(object.certBag).toString('base64'));
    expect(certs).toHaveLength(2);
    const ldevid = parseCertificate(certs[0]!);
    expect(toHex(ldevid.spki)).toBe(toHex(spkiOf(key)));
    expect(toHex(ldevid.spki).endsWith(toHex(session.enrolleeProtocolKey))).toBe(true);
    expect(ldevid.isCa).toBe(false);
    expect(toHex(certs[1]!)).toBe(toHex(domainCa.der));
    expect(toHex(object.caCert!)).toBe(toHex(domainCa.der));

    // OpenSSL: the certBag is a PKCS#7 of these two certificates, and the LDevID verifies
    // against the domain CA.
    const dir = path.join(sys.dir, 'dot1x-openssl');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'bag.p7b'), object.certBag);
    const printed = execFileSync(
      'openssl',
      ['pkcs7', '-inform', 'DER', '-in', path.join(dir, 'bag.p7b'), '-print_certs'],
      { encoding: 'utf8' },
    );
    expect(printed.match(/-----BEGIN CERTIFICATE-----/g)).toHaveLength(2);
    fs.writeFileSync(path.join(dir, 'ca.pem'), toPem('CERTIFICATE', domainCa.der));
    fs.writeFileSync(path.join(dir, 'ldevid.pem'), toPem('CERTIFICATE', ldevid.der));
    const verified = execFileSync(
      'openssl',
      [
        'verify',
        '-CAfile',
        path.join(dir, 'ca.pem'),
        '-partial_chain',
        path.join(dir, 'ldevid.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(verified).toContain(': OK');

    // Provisioned, not yet onboarded, until the Configuration Result.
    const provisioned = await sys.network.inventory.device(victim.serial);
    expect(provisioned).toMatchObject({ state: 'provisioned', ldevid_serial: ldevid.serial });
    peer.send(buildConfigurationResult(session, enrollment, 0));
    const outcome = await until('the exchange recorded', () => outcomes[seen]);
    expect(outcome).toMatchObject({
      serial: victim.serial,
      configurationDelivered: true,
      resultStatus: 0,
      status: 'ok',
    });
    const device = await sys.network.inventory.device(victim.serial);
    expect(device).toMatchObject({ state: 'onboarded', ldevid_serial: ldevid.serial });
    const issued = await sys.network.inventory.certificates(victim.serial);
    expect(issued.map((c) => c.serial)).toEqual([ldevid.serial]);
    const trail = await sys.network.inventory.events(victim.serial);
    const delivered = trail.find((e) => e.action === 'dpp configuration delivered (sta-dot1x)');
    expect(JSON.parse(delivered!.detail!)).toMatchObject({ ldevid: ldevid.serial, ssid: SSID });
  });

  it('(e) CSR Needed is offered once: asking again without a CSR gets Configure Failure', async () => {
    const before = (await allCertificates()).length;
    const seen = outcomes.length;
    const { peer, session, first } = await untilCsrNeeded(once);
    expect(first.status).toBe(12);
    const { request, enrollment } = buildConfigurationRequest(crypto, session, {
      name: once.serial,
      dialogToken: 2,
    });
    peer.send(request);
    const second = readConfigurationResponse(session, enrollment, await peer.message(2), CHECK);
    expect(second).toEqual({ status: 5, objects: [] });
    expect(second.csrAttributes).toBeUndefined();
    const outcome = await ended(peer, seen);
    expect(outcome).toMatchObject({
      serial: once.serial,
      configurationDelivered: false,
      error: 'ERR_DPP_AUTH',
      reason: 'configure-failure',
    });
    await nothingIssued(once.serial);
    expect((await allCertificates()).length).toBe(before);
  });

  it('(f) on P-384: the CSR for the P-384 protocol key (SHA-384, the challengePassword on SHA-384) gets its LDevID', async () => {
    const seen = outcomes.length;
    const { peer, session, first } = await untilCsrNeeded(p384);
    expect(session.curve).toBe('P-384');
    expect(first.status).toBe(12);
    const key = protocolKeyOf(session);
    const csr = buildTestCsr({
      signer: key,
      hash: 'sha384',
      challengePassword: csrChallengePassword(crypto, session),
    });
    const { answer: second, enrollment } = await requestWithCsr(
      p384,
      peer,
      session,
      Buffer.from(csr).toString('base64'),
    );
    expect(second.status).toBe(0);
    const object = second.objects[0]!;
    if (object.kind !== 'sta-dot1x') throw new Error(`expected sta-dot1x, got ${object.kind}`);
    expect(object.connector.netAccessKey.curve).toBe('P-384');
    const ldevid = parseCertificate(
      decodeCertsOnly(Buffer.from(object.certBag).toString('base64'))[0]!,
    );
    expect(toHex(ldevid.spki)).toBe(toHex(spkiOf(key)));
    peer.send(buildConfigurationResult(session, enrollment, 0));
    const outcome = await until('the exchange recorded', () => outcomes[seen]);
    expect(outcome).toMatchObject({ serial: p384.serial, resultStatus: 0, status: 'ok' });
    expect(await sys.network.inventory.device(p384.serial)).toMatchObject({
      state: 'onboarded',
      ldevid_serial: ldevid.serial,
    });
  });
});
