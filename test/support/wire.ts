/**
 * Helpers for driving the registrar by hand in tests: a device's TLS connection from its
 * birth credentials, hand-made voucher requests, state snapshots and byte searches.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { fromBase64, toBase64, toPem } from '../../src/core/bytes.js';
import type { BirthCredentials } from '../../src/core/credentials.js';
import {
  importPkcs8,
  privateKeyPem,
  type NodePrivateKey,
} from '../../src/adapters/crypto/node-crypto.js';
import { PeerConnection, type HttpResponse } from '../../src/adapters/http/connection.js';
import {
  parseCertificate,
  parseCertificateBase64,
  type Certificate,
} from '../../src/protocols/x509/certificate.js';
import { signPledgeVoucherRequest } from '../../src/protocols/voucher/pledge-voucher-request.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../src/protocols/voucher/schema.js';
import {
  CHANNEL_BINDING_LABEL,
  CHANNEL_BINDING_LENGTH,
  signVoucherStatus,
} from '../../src/protocols/brski/status.js';
import type { Crypto } from '../../src/core/ports.js';
import type { TestSystem } from './harness.js';
import { track } from './temp-dirs.js';

// The error assertions live in errors.ts; tests still find them here.
export { errorCode, expectProblem } from './errors.js';

export interface DeviceIdentity {
  birth: BirthCredentials;
  idevid: Certificate;
  key: NodePrivateKey;
  certPem: string;
  keyPem: string;
}

export function identityOf(birth: BirthCredentials): DeviceIdentity {
  const key = importPkcs8(fromBase64(birth.idevidKey)!);
  return {
    birth,
    idevid: parseCertificateBase64(birth.idevidChain[0]!),
    key,
    certPem: birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join(''),
    keyPem: privateKeyPem(key),
  };
}

export async function connectAs(
  url: string,
  id: DeviceIdentity | undefined,
): Promise<PeerConnection> {
  return PeerConnection.open(url, id ? { cert: id.certPem, key: id.keyPem } : {});
}

/** A pledge voucher request as the device would build it for the registrar on `conn`. */
export function pledgeVoucherRequest(
  c: Crypto,
  id: DeviceIdentity,
  conn: PeerConnection,
  nonce = toBase64(crypto.randomBytes(16)),
): { pvr: string; nonce: string } {
  const registrarCert = parseCertificate(conn.peerCertificate());
  const pvr = signPledgeVoucherRequest(c, id.key, id.idevid, {
    serialNumber: id.birth.serialNumber,
    nonce,
    createdOn: new Date(),
    proximityRegistrarCert: registrarCert.der,
  });
  return { pvr, nonce };
}

export async function postVoucherRequest(conn: PeerConnection, pvr: string): Promise<HttpResponse> {
  return conn.request('POST', '/.well-known/brski/requestvoucher', {
    body: pvr,
    contentType: VOUCHER_JWS_MEDIA_TYPE,
    accept: VOUCHER_JWS_MEDIA_TYPE,
  });
}

/** Steps 5 to 7 by hand: voucher, declaration, channel-bound status. Leaves the device `authenticated`. */
export async function authenticateByHand(
  c: Crypto,
  id: DeviceIdentity,
  conn: PeerConnection,
): Promise<void> {
  const { pvr, nonce } = pledgeVoucherRequest(c, id, conn);
  expect((await postVoucherRequest(conn, pvr)).status).toBe(200);
  expect((await conn.request('GET', '/.well-known/airlock/declaration')).status).toBe(200);
  const binding = conn.exportKeyingMaterial(CHANNEL_BINDING_LENGTH, CHANNEL_BINDING_LABEL);
  const status = signVoucherStatus(c, id.key, id.idevid, {
    ok: true,
    reason: 'voucher accepted',
    nonce,
    channelBinding: binding,
  });
  expect(
    (
      await conn.request('POST', '/.well-known/brski/voucher_status', {
        body: status,
        contentType: 'application/jose',
      })
    ).status,
  ).toBe(200);
}

/** Every row of the state tables (not the audit/event tables). */
export async function stateSnapshot(sys: TestSystem): Promise<Record<string, unknown[]>> {
  const n = sys.network.db;
  const m = sys.manufacturer.db;
  return {
    net_devices: await n.selectFrom('net_devices').selectAll().orderBy('serial').execute(),
    net_certificates: await n
      .selectFrom('net_certificates')
      .selectAll()
      .orderBy('serial')
      .execute(),
    net_psks: await n.selectFrom('net_psks').selectAll().orderBy('id').execute(),
    net_declarations: await n
      .selectFrom('net_declarations')
      .selectAll()
      .orderBy('serial')
      .execute(),
    mfg_declarations: await m
      .selectFrom('mfg_declarations')
      .selectAll()
      .orderBy('serial')
      .orderBy('sequence')
      .execute(),
    masa_nonces: await m
      .selectFrom('masa_nonces')
      .selectAll()
      .orderBy('serial')
      .orderBy('nonce')
      .execute(),
  };
}

/** A fresh temporary directory, outside any test system's directory. */
/** A fresh temporary directory, removed after the test file (test/setup.ts). */
export function tempDir(prefix: string): string {
  return track(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
}

export function randomKek(): Uint8Array {
  return new Uint8Array(crypto.randomBytes(32));
}

/** The encodings under which a secret could leak. */
export function secretForms(
  label: string,
  secret: string | Uint8Array,
): Array<{ label: string; bytes: Buffer }> {
  if (typeof secret === 'string') return [{ label, bytes: Buffer.from(secret, 'utf8') }];
  const b = Buffer.from(secret);
  return [
    { label: `${label} (DER)`, bytes: b },
    { label: `${label} (base64)`, bytes: Buffer.from(b.toString('base64'), 'utf8') },
    { label: `${label} (base64url)`, bytes: Buffer.from(b.toString('base64url'), 'utf8') },
    { label: `${label} (hex)`, bytes: Buffer.from(b.toString('hex'), 'utf8') },
    {
      label: `${label} (PEM body line)`,
      bytes: Buffer.from(b.toString('base64').slice(64, 128), 'utf8'),
    },
  ];
}

/** Which of `needles` occur in `haystack`. */
export function leaks(
  haystack: Buffer,
  needles: Array<{ label: string; bytes: Buffer }>,
): string[] {
  return needles.filter((n) => haystack.indexOf(n.bytes) >= 0).map((n) => n.label);
}

/** A GET whose body is kept as bytes (the CRL is DER). */
export async function getBinary(
  base: string,
  p: string,
): Promise<{ status: number; contentType: string; body: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: p,
        method: 'GET',
        rejectUnauthorized: false,
        minVersion: 'TLSv1.3',
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A certificate serial number in hex, as X.509 tools print it: lower case, no leading zeros. */
export function bareSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+/, '');
}
