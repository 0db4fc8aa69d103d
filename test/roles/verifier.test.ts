/**
 * The verification service over real HTTPS: Veraison's challenge-response API (sessions,
 * evidence, EARs that `jose` verifies with the key of the well-known document), reference
 * values provisioning (rollback, foreign signers), pulling reference values from a
 * manufacturer, and the registrar's client (HttpVerifierClient) against it.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import {
  NodeCrypto,
  exportPkcs8,
  generateP256Key,
  privateKeyPem,
} from '../../src/adapters/crypto/node-crypto.js';
import { createLogger } from '../../src/adapters/log/logger.js';
import { LocalVerifierClient } from '../../src/roles/verifier/local-client.js';
import { HttpVerifierClient } from '../../src/adapters/http/verifier-client.js';
import { jwkFromSpki } from '../../src/adapters/crypto/p256-encoding.js';
import { fromBase64Url, toBase64, toBase64Url, toPem } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import { Verifier, type ManufacturerTrustInput } from '../../src/roles/verifier/index.js';
import { readManufacturerTrustFile } from '../../src/roles/verifier/trust.js';
import { deviceTokenMediaType, supplyChainMediaType } from '../../src/protocols/eat/claims.js';
import { SESSION_MEDIA_TYPE } from '../../src/protocols/rats/challenge-response.js';
import { REFERENCE_VALUES_MEDIA_TYPE } from '../../src/protocols/endorsement/reference-values.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signerProfile } from '../../src/protocols/x509/profiles.js';
import { signEar } from '../../src/protocols/ear/result.js';
import { EAR_PROFILE } from '../../src/protocols/ear/claims.js';
import { codeOf, errorCode } from '../support/errors.js';
import { remove, track } from '../support/temp-dirs.js';
import { createDatabase, startPostgres, type PostgresServer } from '../support/postgres-server.js';
import {
  MODEL,
  RELEASES,
  attestationManufacturer,
  attestingDevice,
  crypto,
  supplyChainEvidence,
  type AttestationManufacturer,
  type AttestingDevice,
} from '../support/attestation.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request trusting `ca`, checking the host name. */
function request(
  method: string,
  url: string,
  ca: string,
  opts: { contentType?: string; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca,
        agent: false,
        headers: {
          ...(opts.contentType ? { 'content-type': opts.contentType } : {}),
          ...(opts.body !== undefined ? { 'content-length': Buffer.byteLength(opts.body) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function problemCode(a: Answer): unknown {
  expect(a.headers['content-type']).toMatch(/^application\/problem\+json/);
  return (JSON.parse(a.body) as { code?: unknown }).code;
}

function trustOf(m: AttestationManufacturer, url?: string): ManufacturerTrustInput {
  return {
    party: m.party,
    root: m.root.cert,
    endorsementsCa: m.endorsementsCa.cert,
    ...(url ? { url } : {}),
  };
}

/** A clock the test moves. */
const clock = {
  offsetMs: 0,
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  },
};

describe('the verification service', () => {
  let dir: string;
  let logFile: string;
  let m: AttestationManufacturer;
  let foreign: AttestationManufacturer;
  let dev: AttestingDevice;
  let v: Verifier;
  let url: string;
  let ca: string;
  const kek = new Uint8Array(randomBytes(32));

  const newSession = async (query = '') => {
    const a = await request('POST', `${url}/challenge-response/v1/newSession${query}`, ca);
    return {
      answer: a,
      json: a.status === 201 ? (JSON.parse(a.body) as Record<string, any>) : undefined,
    };
  };
  const submit = (m: AttestationManufacturer, doc = m.referenceValues()) =>
    request('POST', `${url}/endorsement-provisioning/v1/submit`, ca, {
      contentType: REFERENCE_VALUES_MEDIA_TYPE,
      body: doc,
    });
  const posted: string[] = [];
  const post = (location: string, evidence: string, contentType = deviceTokenMediaType) => {
    posted.push(evidence);
    return request('POST', location, ca, { contentType, body: evidence });
  };

  beforeAll(async () => {
    dir = track(fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-verifier-')));
    logFile = path.join(dir, 'verifier.log');
    m = await attestationManufacturer('Thermo Maker');
    foreign = await attestationManufacturer('Foreign Maker');
    dev = await attestingDevice(m, { serial: 'SN-ROLE-1' });
    v = await Verifier.open({
      ctx: {
        crypto: new NodeCrypto(),
        clock,
        logger: createLogger({ level: 'debug', destination: logFile }),
      },
      databaseFile: path.join(dir, 'verifier.db'),
      kek,
      manufacturers: [trustOf(m)],
      config: { referenceValuesRefreshSeconds: 0 },
    });
    url = await v.serve(0);
    ca = v.trustInfo().tlsCaPem;
  });

  afterAll(async () => {
    await v?.close();
    if (dir) remove(dir);
  });

  describe('sessions', () => {
    it('creates a session: 201, an absolute Location, a 32-byte nonce by default, the media types it accepts', async () => {
      const before = Date.now();
      const { answer, json } = await newSession();
      expect(answer.status).toBe(201);
      expect(answer.headers['content-type']).toBe(SESSION_MEDIA_TYPE);
      expect(answer.headers.location).toMatch(
        new RegExp(
          `^${url.replace(/[.]/g, '\\.')}/challenge-response/v1/session/[A-Za-z0-9_-]{22}$`,
        ),
      );
      expect(fromBase64Url(json!.nonce)!.length).toBe(32);
      expect(json!.state).toBe('waiting');
      expect(json!.accept).toEqual([deviceTokenMediaType, supplyChainMediaType]);
      const expiry = Date.parse(json!.expiry);
      expect(expiry - before).toBeGreaterThanOrEqual(119_000);
      expect(expiry - before).toBeLessThanOrEqual(125_000);
    });

    it('honours nonceSize from 8 to 64 bytes', async () => {
      for (const n of [8, 17, 64]) {
        const { answer, json } = await newSession(`?nonceSize=${n}`);
        expect(answer.status).toBe(201);
        expect(fromBase64Url(json!.nonce)!.length).toBe(n);
      }
    });

    it.each(['7', '65', '0', 'abc', '', '8.5', '-8', '1e1', '0032x'])(
      'refuses nonceSize=%j with 400 ERR_INPUT_SCHEMA',
      async (n) => {
        const { answer } = await newSession(`?nonceSize=${encodeURIComponent(n)}`);
        expect(answer.status).toBe(400);
        expect(problemCode(answer)).toBe('ERR_INPUT_SCHEMA');
      },
    );

    it('answers evidence with an EAR that jose verifies with the key of the well-known document', async () => {
      expect((await submit(m)).status).toBe(200);
      const { answer, json } = await newSession();
      const location = answer.headers.location as string;
      const token = dev.token(json!.nonce);
      const res = await post(location, token);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(SESSION_MEDIA_TYPE);
      const session = JSON.parse(res.body) as Record<string, any>;
      expect(session.state).toBe('complete');
      expect(session.nonce).toBe(json!.nonce);
      expect(session.evidence).toEqual({ type: deviceTokenMediaType, value: token });

      const wk = await request('GET', `${url}/.well-known/veraison/verification`, ca);
      expect(wk.status).toBe(200);
      const doc = JSON.parse(wk.body) as Record<string, any>;
      expect(doc['service-state']).toBe('READY');
      expect(doc['media-types']).toEqual([deviceTokenMediaType, supplyChainMediaType]);
      expect(doc['api-endpoints']).toEqual({
        newChallengeResponseSession: '/challenge-response/v1/newSession',
      });
      const jwk = doc['ear-verification-key'] as Record<string, string>;
      expect(jwk).not.toHaveProperty('d');
      const { payload, protectedHeader } = await jwtVerify(
        session.result as string,
        await importJWK(jwk, 'ES256'),
        { algorithms: ['ES256'] },
      );
      expect(protectedHeader.kid).toBe(jwk.kid);
      expect(jwk.kid).toBe(toBase64Url(crypto.sha256(v.pki.ear.cert.spki)));
      expect(payload.eat_profile).toBe('tag:github.com,2023:veraison/ear');
      expect(payload.eat_nonce).toBe(json!.nonce);
      expect(Math.abs((payload.iat as number) - Date.now() / 1000)).toBeLessThan(30);
      expect(payload['ear.verifier-id']).toEqual({ developer: 'Airlock', build: 'airlock 0.1.0' });
      const sub = (payload.submods as Record<string, Record<string, unknown>>)['SN-ROLE-1']!;
      expect(sub['ear.status']).toBe('affirming');
      expect(sub['ear.trustworthiness-vector']).toEqual({
        'instance-identity': 2,
        hardware: 2,
        executables: 2,
      });
      expect(sub['ear.appraisal-policy-id']).toBe(v.config.appraisalPolicyId);
      expect(sub['ear.airlock.reasons']).toEqual([]);
      expect(sub['ear.veraison.annotated-evidence']).toEqual({
        'serial-number': 'SN-ROLE-1',
        manufacturer: m.party.id,
        model: MODEL,
        ueid: dev.claims(json!.nonce).ueid,
        swname: RELEASES.released.name,
        swversion: RELEASES.released.version,
        dbgstat: 'disabled',
        oemboot: true,
        profile: 'tag:airlock.example,2026:eat/device/1',
      });

      // The session is used: a second post is 404; GET shows the result; DELETE removes it.
      const again = await post(location, token);
      expect(again.status).toBe(404);
      expect(problemCode(again)).toBe('ERR_ATTESTATION_SESSION');
      const got = await request('GET', location, ca);
      expect(got.status).toBe(200);
      expect(JSON.parse(got.body).result).toBe(session.result);
      expect((await request('DELETE', location, ca)).status).toBe(204);
      expect((await request('GET', location, ca)).status).toBe(404);
      expect((await request('DELETE', location, ca)).status).toBe(404);
    });

    it("takes the relying party's nonce (?nonce=, base64 or base64url, as Veraison does) and appraises evidence for it", async () => {
      const bytes = new Uint8Array(randomBytes(32));
      bytes[0] = 0xfb; // a '+' or '-' and a '/' or '_' in the encodings below
      bytes[1] = 0xff;
      for (const text of [
        toBase64Url(bytes),
        encodeURIComponent(Buffer.from(bytes).toString('base64')),
        Buffer.from(bytes).toString('base64'), // '+' unescaped: a space once decoded
        encodeURIComponent(`${toBase64Url(bytes)}=`), // Go's padded base64url, as Veraison's clients send
      ]) {
        const { answer, json } = await newSession(`?nonce=${text}`);
        expect(answer.status, text).toBe(201);
        expect(json!.nonce, text).toBe(toBase64Url(bytes));
        const res = await post(answer.headers.location as string, dev.token(json!.nonce));
        const ear = JSON.parse(res.body) as { result: string };
        const claims = JSON.parse(
          Buffer.from(ear.result.split('.')[1]!, 'base64url').toString(),
        ) as { eat_nonce: string; submods: Record<string, { 'ear.status': string }> };
        expect(claims.eat_nonce).toBe(toBase64Url(bytes));
        expect(Object.values(claims.submods)[0]!['ear.status']).toBe('affirming');
      }
    });

    it.each([
      ['too short', `?nonce=${toBase64Url(new Uint8Array(7))}`],
      ['too long', `?nonce=${toBase64Url(new Uint8Array(65))}`],
      ['not base64', '?nonce=not*base64*at*all'],
      ['of two alphabets', `?nonce=${encodeURIComponent('+_' + toBase64Url(new Uint8Array(30)))}`],
      ['empty', '?nonce='],
      ['with nonceSize', `?nonce=${toBase64Url(new Uint8Array(32))}&nonceSize=32`],
    ])('refuses a nonce %s with 400 ERR_INPUT_SCHEMA', async (_name, query) => {
      const { answer } = await newSession(query);
      expect(answer.status).toBe(400);
      expect(problemCode(answer)).toBe('ERR_INPUT_SCHEMA');
    });

    it('contraindicates evidence for another session (its nonce), and the result says why', async () => {
      const first = await newSession();
      const second = await newSession();
      const res = await post(
        second.answer.headers.location as string,
        dev.token(first.json!.nonce),
      );
      expect(res.status).toBe(200);
      const { payload } = await jwtVerify(
        JSON.parse(res.body).result as string,
        await importJWK(v.earKeyJwk(), 'ES256'),
      );
      const sub = (payload.submods as Record<string, Record<string, unknown>>)['SN-ROLE-1']!;
      expect(sub['ear.status']).toBe('contraindicated');
      expect(sub['ear.airlock.reasons']).toEqual(["nonce: not this session's"]);
      expect(payload.eat_nonce).toBe(second.json!.nonce);
    });

    it('answers an expired session with 404, and an unknown one', async () => {
      const { answer, json } = await newSession();
      const location = answer.headers.location as string;
      clock.offsetMs = 121_000;
      try {
        const res = await post(location, dev.token(json!.nonce));
        expect(res.status).toBe(404);
        expect(problemCode(res)).toBe('ERR_ATTESTATION_SESSION');
        expect((await request('GET', location, ca)).status).toBe(404);
      } finally {
        clock.offsetMs = 0;
      }
      for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'not-an-id', '..%2F..%2Fhealthz']) {
        const res = await post(
          `${url}/challenge-response/v1/session/${id}`,
          dev.token(json!.nonce),
        );
        expect(res.status).toBe(404);
      }
    });

    it('refuses evidence of a media type it does not accept with 415, and keeps the session', async () => {
      const { answer, json } = await newSession();
      const location = answer.headers.location as string;
      const token = dev.token(json!.nonce);
      for (const type of [
        'application/json',
        'text/plain',
        'application/eat+jwt',
        'application/eat+jwt; eat_profile="tag:example.com,2026:other"',
        'application/octet-stream',
      ]) {
        const res = await post(
          location,
          type === 'application/json' ? JSON.stringify(token) : token,
          type,
        );
        expect(res.status, type).toBe(415);
        expect(problemCode(res)).toBe('ERR_INPUT_MEDIA_TYPE');
      }
      const res = await post(location, token);
      expect(res.status).toBe(200);
    });

    it('refuses malformed evidence with 400 ERR_EAT_MALFORMED, and the session is used up', async () => {
      const { answer } = await newSession();
      const location = answer.headers.location as string;
      const res = await post(location, 'not.a-token');
      expect(res.status).toBe(400);
      expect(problemCode(res)).toBe('ERR_EAT_MALFORMED');
      expect(JSON.parse((await request('GET', location, ca)).body).state).toBe('failed');
      expect((await post(location, dev.token('x'.repeat(43)))).status).toBe(404);
    });

    it('refuses evidence larger than a token may be (413)', async () => {
      const { answer } = await newSession();
      const res = await post(answer.headers.location as string, 'a'.repeat(17 * 1024));
      expect(res.status).toBe(413);
    });

    it('appraises supply-chain evidence as a warning', async () => {
      const { answer } = await newSession();
      const res = await post(
        answer.headers.location as string,
        supplyChainEvidence(m, { serial: 'SN-BULB' }),
        supplyChainMediaType,
      );
      expect(res.status).toBe(200);
      const { payload } = await jwtVerify(
        JSON.parse(res.body).result as string,
        await importJWK(v.earKeyJwk(), 'ES256'),
      );
      const sub = (payload.submods as Record<string, Record<string, unknown>>)['SN-BULB']!;
      expect(sub['ear.status']).toBe('warning');
      expect(sub['ear.trustworthiness-vector']).toEqual({
        'instance-identity': 2,
        executables: 33,
      });
    });
  });

  describe('reference values', () => {
    it('refuses an older sequence, and the same sequence with other content (409), takes the same document again', async () => {
      const two = m.referenceValues({ sequence: 2 });
      expect((await submit(m, two)).status).toBe(200);
      expect(JSON.parse((await submit(m, two)).body)).toEqual({ status: 'success' });
      const older = await submit(m, m.referenceValues({ sequence: 1 }));
      expect(older.status).toBe(409);
      expect(problemCode(older)).toBe('ERR_REFERENCE_VALUES_ROLLBACK');
      const other = await submit(
        m,
        m.referenceValues({ sequence: 2, 'issued-on': '2026-03-01T00:00:00Z' }),
      );
      expect(other.status).toBe(409);
      expect(problemCode(other)).toBe('ERR_REFERENCE_VALUES_ROLLBACK');
      const held = await v.db.selectFrom('ver_reference_values').selectAll().execute();
      expect(held).toHaveLength(1);
      expect(held[0]!.sequence).toBe(2);
      expect(held[0]!.document).toBe(two);
    });

    it('refuses a document signed by a foreign endorsements CA, whoever it names', async () => {
      // The foreign manufacturer's signer, naming the trusted manufacturer.
      const forged = foreign.referenceValues({ manufacturer: m.party, sequence: 99 });
      const a = await submit(foreign, forged);
      expect(a.status).toBe(400);
      expect(problemCode(a)).toBe('ERR_REFERENCE_VALUES_MALFORMED');
      // Its own, naming itself: a manufacturer this verifier does not trust.
      const b = await submit(foreign, foreign.referenceValues({ sequence: 99 }));
      expect(b.status).toBe(400);
      expect(problemCode(b)).toBe('ERR_REFERENCE_VALUES_MALFORMED');
      const c = await submit(m, 'not a document');
      expect(problemCode(c)).toBe('ERR_REFERENCE_VALUES_MALFORMED');
      expect(
        (await v.db.selectFrom('ver_reference_values').select('sequence').execute())[0]!.sequence,
      ).toBe(2);
    });

    it('refuses a submission of another media type (415)', async () => {
      const a = await request('POST', `${url}/endorsement-provisioning/v1/submit`, ca, {
        contentType: 'application/jose',
        body: m.referenceValues({ sequence: 50 }),
      });
      expect(a.status).toBe(415);
    });

    it('appraises with the latest values held: a release withdrawn later contraindicates the same device', async () => {
      const withdrawn = {
        ...RELEASES.released,
        status: 'withdrawn' as const,
        'withdrawn-on': '2026-04-01T00:00:00Z',
      };
      const three = m.referenceValues({
        sequence: 3,
        models: { [MODEL]: { 'secure-boot': true, firmware: [RELEASES.withdrawn, withdrawn] } },
      });
      // Provisioned through a second node on the same database: this node reads it per request.
      const nodeB = await Verifier.open({
        ctx: { crypto: new NodeCrypto(), clock, logger: createLogger({ level: 'silent' }) },
        databaseFile: path.join(dir, 'verifier.db'),
        kek,
        create: false,
        manufacturers: [trustOf(m)],
        config: { referenceValuesRefreshSeconds: 0 },
      });
      try {
        expect((await nodeB.provision(three)).changed).toBe(true);
      } finally {
        await nodeB.close();
      }
      const { answer, json } = await newSession();
      const res = await post(answer.headers.location as string, dev.token(json!.nonce));
      const { payload } = await jwtVerify(
        JSON.parse(res.body).result as string,
        await importJWK(v.earKeyJwk(), 'ES256'),
      );
      const sub = (payload.submods as Record<string, Record<string, any>>)['SN-ROLE-1']!;
      expect(sub['ear.status']).toBe('contraindicated');
      expect(sub['ear.trustworthiness-vector'].executables).toBe(96);
      // Back to a document where it is released.
      expect((await submit(m, m.referenceValues({ sequence: 4 }))).status).toBe(200);
    });

    it('pulls reference values from a manufacturer over TLS to its root, and logs what fails', async () => {
      const served: { status: number; body: string } = {
        status: 200,
        body: m.referenceValues({ sequence: 5 }),
      };
      const key = generateP256Key();
      const cert = issueCertificate(
        crypto,
        signerProfile({
          name: 'maker services',
          notBefore: new Date(Date.now() - 60_000),
          notAfter: new Date(Date.now() + 86_400_000),
          dnsNames: ['127.0.0.1'],
          serverAuth: true,
        }),
        key.spki,
        { key: m.root.key, cert: m.root.cert },
      );
      let asked = 0;
      const server = https.createServer(
        { key: privateKeyPem(key), cert: toPem('CERTIFICATE', cert.der) },
        (req, res) => {
          asked++;
          if (req.url !== '/.well-known/airlock/reference-values') {
            res.writeHead(404).end();
            return;
          }
          res
            .writeHead(served.status, { 'content-type': REFERENCE_VALUES_MEDIA_TYPE })
            .end(served.body);
        },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const makerUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const puller = await Verifier.open({
        ctx: { crypto: new NodeCrypto(), clock, logger: createLogger({ level: 'silent' }) },
        databaseFile: path.join(dir, 'puller.db'),
        kek,
        manufacturers: [trustOf(m, makerUrl)],
        config: { referenceValuesRefreshSeconds: 0 },
      });
      // The same server, believed to be the foreign manufacturer's: its certificate is not.
      const wary = await Verifier.open({
        ctx: { crypto: new NodeCrypto(), clock, logger: createLogger({ level: 'silent' }) },
        databaseFile: path.join(dir, 'wary.db'),
        kek,
        manufacturers: [trustOf(foreign, makerUrl)],
        config: { referenceValuesRefreshSeconds: 0 },
      });
      try {
        const held = async (x: Verifier) =>
          (await x.db.selectFrom('ver_reference_values').select('sequence').execute()).map(
            (r) => r.sequence,
          );
        await puller.refresh();
        expect(await held(puller)).toEqual([5]);
        // An older document served later is refused, and nothing is thrown.
        served.body = m.referenceValues({ sequence: 4 });
        await expect(puller.refresh()).resolves.toBeUndefined();
        served.status = 500;
        await expect(puller.refresh()).resolves.toBeUndefined();
        expect(await held(puller)).toEqual([5]);
        const before = asked;
        await expect(wary.refresh()).resolves.toBeUndefined();
        expect(await held(wary)).toEqual([]);
        // Refused at the TLS handshake: no request reached the server.
        expect(asked).toBe(before);
      } finally {
        await puller.close();
        await wary.close();
        await new Promise((r) => server.close(r));
      }
    });
  });

  describe('HttpVerifierClient', () => {
    const client = (
      o: Partial<ConstructorParameters<typeof HttpVerifierClient>[1]> = {},
      at = url,
    ) => new HttpVerifierClient(at, { tlsCaPem: ca, ...o });

    it('opens a session and gets an EAR it verifies with the key of the well-known document', async () => {
      const c = client();
      try {
        const s = await c.openSession();
        expect(s.url.startsWith(`${url}/challenge-response/v1/session/`)).toBe(true);
        expect(s.accept).toContain(deviceTokenMediaType);
        const { claims, jwt } = await c.appraise(s, deviceTokenMediaType, dev.token(s.nonce));
        expect(claims.eat_nonce).toBe(s.nonce);
        expect(claims.submods['SN-ROLE-1']!['ear.status']).toBe('affirming');
        expect(jwt.split('.')).toHaveLength(3);
        expect(decodeProtectedHeader(jwt).kid).toBe(v.earKeyJwk().kid);
        // The used session: the verifier's problem, as ERR_VERIFIER_REFUSED naming its code.
        const e = await c
          .appraise(s, deviceTokenMediaType, dev.token(s.nonce))
          .catch((x: unknown) => x);
        expect(isAirlockError(e, 'ERR_VERIFIER_REFUSED')).toBe(true);
        expect((e as Error).message).toContain('ERR_ATTESTATION_SESSION');
        expect((e as { details: Record<string, unknown> }).details.code).toBe(
          'ERR_ATTESTATION_SESSION',
        );
      } finally {
        await c.close();
      }
    });

    it('verifies with a configured key, as a JWK or as DER', async () => {
      for (const earKey of [v.earKeyJwk(), v.pki.ear.cert.spki]) {
        const c = client({ earKey });
        try {
          const s = await c.openSession();
          const { claims } = await c.appraise(s, deviceTokenMediaType, dev.token(s.nonce));
          expect(claims.submods['SN-ROLE-1']!['ear.status']).toBe('affirming');
        } finally {
          await c.close();
        }
      }
    });

    it('refuses a result signed by another key than the one configured (ERR_EAR_UNTRUSTED)', async () => {
      const c = client({ earKey: jwkFromSpki(generateP256Key().spki)! });
      try {
        const s = await c.openSession();
        expect(await errorCode(() => c.appraise(s, deviceTokenMediaType, dev.token(s.nonce)))).toBe(
          'ERR_EAR_UNTRUSTED',
        );
      } finally {
        await c.close();
      }
    });

    it("refuses a result for another nonce than the session's (ERR_EAR_UNTRUSTED)", async () => {
      const c = client();
      try {
        const s = await c.openSession();
        const token = dev.token(s.nonce);
        // The registrar's record of the session says another nonce than the verifier's.
        const wrong = { ...s, nonce: toBase64Url(randomBytes(32)) };
        expect(await errorCode(() => c.appraise(wrong, deviceTokenMediaType, token))).toBe(
          'ERR_EAR_UNTRUSTED',
        );
      } finally {
        await c.close();
      }
    });

    it("refuses to send evidence to a session URL off the verifier's origin", async () => {
      const c = client();
      try {
        const s = await c.openSession();
        for (const u of [
          s.url.replace('https://127.0.0.1', 'https://localhost'),
          s.url.replace('https:', 'http:'),
          'https://attacker.example/challenge-response/v1/session/x',
        ])
          expect(
            await errorCode(() => c.appraise({ ...s, url: u }, deviceTokenMediaType, 'x')),
          ).toBe('ERR_VERIFIER_REFUSED');
      } finally {
        await c.close();
      }
    });

    it("refuses a Location off the verifier's origin", async () => {
      const elsewhere = await Verifier.open({
        ctx: { crypto: new NodeCrypto(), clock, logger: createLogger({ level: 'silent' }) },
        databaseFile: path.join(dir, 'elsewhere.db'),
        kek,
        manufacturers: [trustOf(m)],
        config: { referenceValuesRefreshSeconds: 0, publicUrl: 'https://elsewhere.example:8446' },
      });
      const at = await elsewhere.serve(0);
      const c = new HttpVerifierClient(at, { tlsCaPem: elsewhere.trustInfo().tlsCaPem });
      try {
        expect(await errorCode(() => c.openSession())).toBe('ERR_VERIFIER_REFUSED');
      } finally {
        await c.close();
        await elsewhere.close();
      }
    });

    it("follows a relative Location as Veraison's verifier sends it, and judges the answers of another verifier", async () => {
      // Another verifier: Veraison's relative Location, its own EAR key, answers the test sets.
      const earKey = generateP256Key();
      const serverKey = generateP256Key();
      const cert = issueCertificate(
        crypto,
        signerProfile({
          name: 'other verifier',
          notBefore: new Date(Date.now() - 60_000),
          notAfter: new Date(Date.now() + 86_400_000),
          dnsNames: ['127.0.0.1'],
          serverAuth: true,
        }),
        serverKey.spki,
        { key: m.root.key, cert: m.root.cert },
      );
      const nonce = toBase64Url(randomBytes(32));
      const behaviour = {
        created: 201,
        location: 'session/vs-1' as string | undefined,
        state: 'complete',
      };
      const seen: string[] = [];
      const server = https.createServer(
        { key: privateKeyPem(serverKey), cert: toPem('CERTIFICATE', cert.der) },
        (req, res) => {
          seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? ''}`);
          req.resume();
          req.on('end', () => {
            const session = {
              nonce,
              expiry: new Date(Date.now() + 60_000).toISOString(),
              accept: [deviceTokenMediaType],
              state: 'waiting',
            };
            if (req.url?.startsWith('/challenge-response/v1/newSession')) {
              res
                .writeHead(behaviour.created, {
                  'content-type': SESSION_MEDIA_TYPE,
                  ...(behaviour.location ? { location: behaviour.location } : {}),
                })
                .end(JSON.stringify(session));
              return;
            }
            const result = signEar(crypto, earKey, 'k', {
              eat_profile: EAR_PROFILE,
              iat: Math.floor(Date.now() / 1000),
              eat_nonce: nonce,
              'ear.verifier-id': { developer: 'Veraison', build: 'x' },
              submods: { device: { 'ear.status': 'affirming' } },
            });
            res
              .writeHead(200, { 'content-type': SESSION_MEDIA_TYPE })
              .end(JSON.stringify({ ...session, state: behaviour.state, result }));
          });
        },
      );
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const c = new HttpVerifierClient(origin, {
        tlsCaPem: toPem('CERTIFICATE', m.root.cert.der),
        earKey: earKey.spki,
      });
      try {
        const s = await c.openSession();
        expect(s.url).toBe(`${origin}/challenge-response/v1/session/vs-1`);
        expect(s.nonce).toBe(nonce);
        const { claims } = await c.appraise(s, deviceTokenMediaType, 'a.b.c');
        expect(claims.submods.device!['ear.status']).toBe('affirming');
        expect(seen).toEqual([
          'POST /challenge-response/v1/newSession?nonceSize=32 ',
          `POST /challenge-response/v1/session/vs-1 ${deviceTokenMediaType}`,
        ]);
        // A session that did not complete, a session created with 200, or with no Location.
        behaviour.state = 'failed';
        expect(await errorCode(() => c.appraise(s, deviceTokenMediaType, 'a.b.c'))).toBe(
          'ERR_VERIFIER_REFUSED',
        );
        behaviour.created = 200;
        expect(await errorCode(() => c.openSession())).toBe('ERR_VERIFIER_REFUSED');
        behaviour.created = 201;
        behaviour.location = undefined;
        expect(await errorCode(() => c.openSession())).toBe('ERR_VERIFIER_REFUSED');
        behaviour.location = '//attacker.example/challenge-response/v1/session/x';
        expect(await errorCode(() => c.openSession())).toBe('ERR_VERIFIER_REFUSED');
      } finally {
        await c.close();
        await new Promise((r) => server.close(r));
      }
    });

    it('says ERR_VERIFIER_UNREACHABLE for a verifier it cannot reach or whose TLS it does not trust', async () => {
      const wrongCa = client({
        tlsCaPem: toPem('CERTIFICATE', m.root.cert.der),
      });
      const closed = new HttpVerifierClient('https://127.0.0.1:1', { tlsCaPem: ca });
      try {
        expect(await errorCode(() => wrongCa.openSession())).toBe('ERR_VERIFIER_UNREACHABLE');
        expect(await errorCode(() => closed.openSession())).toBe('ERR_VERIFIER_UNREACHABLE');
      } finally {
        await wrongCa.close();
        await closed.close();
      }
    });

    it('refuses a URL that is not plain https (ERR_CONFIG)', () => {
      expect(codeOf(() => new HttpVerifierClient('http://127.0.0.1:1', { tlsCaPem: ca }))).toBe(
        'ERR_CONFIG',
      );
      expect(codeOf(() => new HttpVerifierClient('not a url', { tlsCaPem: ca }))).toBe(
        'ERR_CONFIG',
      );
    });
  });

  describe('LocalVerifierClient (the registrar and the verifier in one process)', () => {
    const stored = (id: string) =>
      v.db.selectFrom('ver_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    const idOf = (s: { url: string }) => s.url.split('/').at(-1)!;

    it('appraises evidence in a session it stores complete only then, with the signed EAR', async () => {
      const c = new LocalVerifierClient(v);
      const s = await c.openSession();
      expect(s.url).toMatch(
        new RegExp(
          `^${url.replace(/[.]/g, '\\.')}/challenge-response/v1/session/[A-Za-z0-9_-]{22}$`,
        ),
      );
      // Reserved, not stored: no other client can see or use it.
      expect(await stored(idOf(s))).toBeUndefined();
      const token = dev.token(s.nonce);
      const { claims, jwt } = await c.appraise(s, deviceTokenMediaType, token);
      expect(claims.submods['SN-ROLE-1']!['ear.status']).toBe('affirming');
      // The result is the verifier's own, signed with its EAR key as over the API.
      expect(await jwtVerify(jwt, await importJWK(v.earKeyJwk(), 'ES256'))).toBeDefined();
      expect(await stored(idOf(s))).toMatchObject({
        state: 'complete',
        nonce: s.nonce,
        evidence: token,
        result: jwt,
      });
    });

    it('opens a session for the nonce asked for; one that is not base64url is ERR_INPUT_SCHEMA', async () => {
      const c = new LocalVerifierClient(v);
      const nonce = toBase64Url(new Uint8Array(randomBytes(32)));
      const s = await c.openSession(nonce);
      expect(s.nonce).toBe(nonce);
      const { claims } = await c.appraise(s, deviceTokenMediaType, dev.token(nonce));
      expect(claims.submods['SN-ROLE-1']!['ear.status']).toBe('affirming');
      expect(await errorCode(() => c.openSession('not base64url!'))).toBe('ERR_INPUT_SCHEMA');
      expect(await errorCode(() => c.openSession(toBase64Url(new Uint8Array(4))))).toBe(
        'ERR_VERIFIER_REFUSED',
      );
    });

    it("refuses as the API would, naming the verifier's code: a used or expired session, malformed evidence, a media type it does not take", async () => {
      const c = new LocalVerifierClient(v);
      const refusal = async (f: () => Promise<unknown>) => {
        const e = await f().catch((x: unknown) => x);
        expect(isAirlockError(e, 'ERR_VERIFIER_REFUSED')).toBe(true);
        return (e as { details: Record<string, unknown> }).details.code;
      };
      const used = await c.openSession();
      await c.appraise(used, deviceTokenMediaType, dev.token(used.nonce));
      expect(
        await refusal(() => c.appraise(used, deviceTokenMediaType, dev.token(used.nonce))),
      ).toBe('ERR_ATTESTATION_SESSION');

      const late = await c.openSession();
      clock.offsetMs = 10 * 60_000;
      try {
        expect(
          await refusal(() => c.appraise(late, deviceTokenMediaType, dev.token(late.nonce))),
        ).toBe('ERR_ATTESTATION_SESSION');
      } finally {
        clock.offsetMs = 0;
      }
      expect(await stored(idOf(late))).toBeUndefined();

      const bad = await c.openSession();
      expect(await refusal(() => c.appraise(bad, deviceTokenMediaType, 'not.a.token'))).toBe(
        'ERR_EAT_MALFORMED',
      );
      // Malformed evidence uses the session up, as over the API: it is stored failed.
      expect(await stored(idOf(bad))).toMatchObject({ state: 'failed', result: null });

      const other = await c.openSession();
      expect(await refusal(() => c.appraise(other, 'text/plain', dev.token(other.nonce)))).toBe(
        'ERR_INPUT_MEDIA_TYPE',
      );
      expect(await stored(idOf(other))).toBeUndefined();
    });

    it("contraindicates evidence made for another session's nonce", async () => {
      const c = new LocalVerifierClient(v);
      const s = await c.openSession();
      const { claims } = await c.appraise(
        s,
        deviceTokenMediaType,
        dev.token(toBase64Url(new Uint8Array(randomBytes(32)))),
      );
      expect(claims.submods['SN-ROLE-1']!['ear.status']).toBe('contraindicated');
    });
  });

  describe('opening, trust and secrets', () => {
    it('tells relying parties its URL, TLS CA and EAR key', () => {
      const t = v.trustInfo();
      expect(t.url).toBe(url);
      expect(t.tlsCaPem).toBe(toPem('CERTIFICATE', v.pki.ca.cert.der));
      expect(t.earKeyJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(t.earKeyJwk).not.toHaveProperty('d');
    });

    it('refuses to create keys when asked not to (ERR_CONFIG)', async () => {
      expect(
        await errorCode(() =>
          Verifier.open({
            ctx: { crypto, clock, logger: createLogger({ level: 'silent' }) },
            databaseFile: path.join(dir, 'absent.db'),
            kek,
            create: false,
            manufacturers: [],
          }),
        ),
      ).toBe('ERR_CONFIG');
    });

    it('refuses a manufacturer whose party id is not its root, or whose endorsements CA is not under it', async () => {
      for (const bad of [
        { ...trustOf(m), party: foreign.party },
        { ...trustOf(m), endorsementsCa: foreign.endorsementsCa.cert },
        { ...trustOf(m), url: 'http://maker.example' },
      ])
        expect(
          await errorCode(() =>
            Verifier.open({
              ctx: { crypto, clock, logger: createLogger({ level: 'silent' }) },
              databaseFile: path.join(dir, 'bad.db'),
              kek,
              manufacturers: [bad],
            }),
          ),
        ).toBe('ERR_CONFIG');
    });

    it('reads a manufacturer trust file; one without endorsementsCa is ERR_CONFIG', () => {
      const file = {
        format: 'airlock-manufacturer-trust/1',
        root: toBase64(m.root.cert.der),
        idevidCa: toBase64(m.attestationCa.cert.der),
        endorsementsCa: toBase64(m.endorsementsCa.cert.der),
      };
      const t = readManufacturerTrustFile(crypto, file, new Date(), 'https://maker.example');
      expect(t.party.id).toBe(m.party.id);
      expect(t.party.name).toBe('Thermo Maker Root');
      expect(t.url).toBe('https://maker.example');
      const { endorsementsCa: _, ...old } = file;
      let e: unknown;
      try {
        readManufacturerTrustFile(crypto, old, new Date());
      } catch (x) {
        e = x;
      }
      expect(isAirlockError(e, 'ERR_CONFIG')).toBe(true);
      expect((e as Error).message).toContain('endorsementsCa');
      expect(
        codeOf(() =>
          readManufacturerTrustFile(
            crypto,
            { ...file, endorsementsCa: file.idevidCa.slice(0, 20) },
            new Date(),
          ),
        ),
      ).toBe('ERR_CONFIG');
    });

    it('keeps its private keys out of its log, its answers and (unsealed) its database', async () => {
      const secrets = [v.pki.ear.key, v.pki.tls.key, v.pki.ca.key].flatMap((k) => {
        const der = exportPkcs8(k);
        return [
          toBase64(der),
          toBase64Url(der),
          Buffer.from(der).toString('hex'),
          privateKeyPem(k),
        ];
      });
      const wk = (await request('GET', `${url}/.well-known/veraison/verification`, ca)).body;
      const files = fs.readdirSync(dir).filter((f) => /\.(db|db-wal|log)$/.test(f));
      expect(files).toContain('verifier.log');
      for (const text of [wk, ...files.map((f) => fs.readFileSync(path.join(dir, f), 'latin1'))])
        for (const s of secrets) expect(text.includes(s)).toBe(false);
      // The log holds what was appraised, never the evidence.
      const log = fs.readFileSync(logFile, 'utf8');
      expect(log).toContain('verifier: evidence appraised');
      for (const evidence of posted.filter((e) => e.length > 40))
        expect(log.includes(evidence.split('.')[2] ?? evidence)).toBe(false);
    });
  });
});

const started = await startPostgres();
const pgServer: PostgresServer | undefined = 'skipped' in started ? undefined : started;
if ('skipped' in started) console.log(`skipped: ${started.skipped}`);

describe.skipIf(!pgServer)('two verifier nodes on one PostgreSQL database', () => {
  let a: Verifier;
  let b: Verifier;
  let m: AttestationManufacturer;
  let dev: AttestingDevice;
  const kek = new Uint8Array(randomBytes(32));

  beforeAll(async () => {
    const databaseUrl = await createDatabase(pgServer!.url, 'verifier_nodes');
    m = await attestationManufacturer('Shared Maker');
    dev = await attestingDevice(m, { serial: 'SN-PG-1' });
    const open = () =>
      Verifier.open({
        ctx: { crypto: new NodeCrypto(), clock, logger: createLogger({ level: 'silent' }) },
        databaseFile: 'unused',
        databaseUrl,
        kek,
        manufacturers: [trustOf(m)],
        config: { referenceValuesRefreshSeconds: 0 },
      });
    a = await open();
    b = await open();
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pgServer?.stop();
  });

  it('shares keys, reference values and sessions; a session takes evidence once across nodes', async () => {
    expect(b.earKeyJwk()).toEqual(a.earKeyJwk());
    await a.provision(m.referenceValues({ sequence: 7 }));
    expect(await errorCode(() => b.provision(m.referenceValues({ sequence: 6 })))).toBe(
      'ERR_REFERENCE_VALUES_ROLLBACK',
    );
    const { id, session } = await a.sessions.open({ size: 32 });
    const token = dev.token(session.nonce);
    const outcomes = await Promise.allSettled([
      a.sessions.submit(id, deviceTokenMediaType, token),
      b.sessions.submit(id, deviceTokenMediaType, token),
    ]);
    const done = outcomes.filter((o) => o.status === 'fulfilled');
    expect(done).toHaveLength(1);
    const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(isAirlockError(refused.reason, 'ERR_ATTESTATION_SESSION')).toBe(true);
    const { appraisal } = (
      done[0] as PromiseFulfilledResult<Awaited<ReturnType<Verifier['sessions']['submit']>>>
    ).value;
    expect(appraisal.status).toBe('affirming');
    expect((await b.sessions.get(id)).state).toBe('complete');
  });
});
