/**
 * curl as a client of Airlock's verifier, as any Veraison challenge-response client would use
 * it: create a session (`-D` to read the 201 and its Location), post a device token to the
 * Location, read the EAR; `jose` verifies the EAR with the key of the well-known document that
 * curl fetched. Reference values are submitted by curl too. The verifier runs in this process:
 * curl is always spawned asynchronously.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importJWK, jwtVerify } from 'jose';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { createLogger } from '../../src/adapters/log/logger.js';
import { systemClock } from '../../src/core/ports.js';
import { Verifier } from '../../src/roles/verifier/index.js';
import { deviceTokenMediaType } from '../../src/protocols/eat/claims.js';
import { REFERENCE_VALUES_MEDIA_TYPE } from '../../src/protocols/endorsement/reference-values.js';
import { onPath } from '../support/tools.js';
import { remove, track } from '../support/temp-dirs.js';
import {
  attestationManufacturer,
  attestingDevice,
  type AttestationManufacturer,
  type AttestingDevice,
} from '../support/attestation.js';

const run = promisify(execFile);

const curlPresent = onPath('curl');
if (!curlPresent) console.log('skipped: curl not installed');

describe.skipIf(!curlPresent)("interop: curl as a client of the verifier's Veraison API", () => {
  let dir: string;
  let v: Verifier;
  let base: string;
  let port: string;
  let m: AttestationManufacturer;
  let dev: AttestingDevice;
  const file = (name: string) => path.join(dir, name);

  /** curl with the verifier's name pinned to loopback; status, response headers (lower-case names) and body. */
  async function curl(args: string[]): Promise<{
    status: number;
    headers: Map<string, string>;
    body: string;
  }> {
    const id = Math.random().toString(36).slice(2);
    const bodyFile = file(`body-${id}`);
    const headerFile = file(`headers-${id}`);
    await run('curl', [
      '-sS',
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '--cacert',
      file('verifier-ca.pem'),
      '-D',
      headerFile,
      '-o',
      bodyFile,
      ...args,
    ]);
    const lines = fs.readFileSync(headerFile, 'utf8').split('\r\n');
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(lines[0] ?? '')?.[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    return { status, headers, body: fs.readFileSync(bodyFile, 'utf8') };
  }

  beforeAll(async () => {
    dir = track(fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-verifier-curl-')));
    m = await attestationManufacturer('Curl Maker');
    dev = await attestingDevice(m, { serial: 'SN-CURL-1' });
    v = await Verifier.open({
      ctx: {
        crypto: new NodeCrypto(),
        clock: systemClock,
        logger: createLogger({ level: 'silent' }),
      },
      databaseFile: file('verifier.db'),
      kek: new Uint8Array(randomBytes(32)),
      manufacturers: [{ party: m.party, root: m.root.cert, endorsementsCa: m.endorsementsCa.cert }],
      config: { referenceValuesRefreshSeconds: 0 },
    });
    port = new URL(await v.serve(0)).port;
    base = `https://localhost:${port}`;
    fs.writeFileSync(file('verifier-ca.pem'), v.trustInfo().tlsCaPem);
    fs.writeFileSync(file('reference-values.jws'), m.referenceValues());
  });

  afterAll(async () => {
    await v?.close();
    if (dir) remove(dir);
  });

  it('submits reference values, opens a session, posts a token, and gets an EAR that jose verifies', async () => {
    const submitted = await curl([
      '-X',
      'POST',
      '-H',
      `Content-Type: ${REFERENCE_VALUES_MEDIA_TYPE}`,
      '--data-binary',
      `@${file('reference-values.jws')}`,
      `${base}/endorsement-provisioning/v1/submit`,
    ]);
    expect(submitted.status).toBe(200);
    expect(JSON.parse(submitted.body)).toEqual({ status: 'success' });

    const created = await curl([
      '-X',
      'POST',
      `${base}/challenge-response/v1/newSession?nonceSize=48`,
    ]);
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe(
      'application/vnd.veraison.challenge-response-session+json',
    );
    const location = created.headers.get('location')!;
    // The session's URL names the host curl asked for.
    expect(location).toMatch(
      new RegExp(`^https://localhost:${port}/challenge-response/v1/session/[A-Za-z0-9_-]{22}$`),
    );
    const session = JSON.parse(created.body) as { nonce: string; state: string; accept: string[] };
    expect(session.state).toBe('waiting');
    expect(Buffer.from(session.nonce, 'base64url')).toHaveLength(48);
    expect(session.accept).toContain(deviceTokenMediaType);

    fs.writeFileSync(file('token.jwt'), dev.token(session.nonce));
    const answered = await curl([
      '-X',
      'POST',
      '-H',
      `Content-Type: ${deviceTokenMediaType}`,
      '--data-binary',
      `@${file('token.jwt')}`,
      location,
    ]);
    expect(answered.status).toBe(200);
    const complete = JSON.parse(answered.body) as { state: string; result: string };
    expect(complete.state).toBe('complete');

    const wk = await curl([`${base}/.well-known/veraison/verification`]);
    expect(wk.status).toBe(200);
    const key = (JSON.parse(wk.body) as { 'ear-verification-key': Record<string, string> })[
      'ear-verification-key'
    ];
    const { payload } = await jwtVerify(complete.result, await importJWK(key, 'ES256'), {
      algorithms: ['ES256'],
    });
    expect(payload.eat_nonce).toBe(session.nonce);
    const sub = (payload.submods as Record<string, Record<string, unknown>>)['SN-CURL-1']!;
    expect(sub['ear.status']).toBe('affirming');
    expect(sub['ear.veraison.annotated-evidence']).toMatchObject({
      'serial-number': 'SN-CURL-1',
      manufacturer: m.party.id,
    });

    // A session takes evidence once.
    const again = await curl([
      '-X',
      'POST',
      '-H',
      `Content-Type: ${deviceTokenMediaType}`,
      '--data-binary',
      `@${file('token.jwt')}`,
      location,
    ]);
    expect(again.status).toBe(404);
    expect(again.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(again.body).code).toBe('ERR_ATTESTATION_SESSION');

    const deleted = await curl(['-X', 'DELETE', location]);
    expect(deleted.status).toBe(204);
  });

  it('answers 415 to evidence curl sends with its default form media type', async () => {
    const created = await curl(['-X', 'POST', `${base}/challenge-response/v1/newSession`]);
    const location = created.headers.get('location')!;
    const res = await curl(['--data-binary', 'x.y.z', location]);
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body).code).toBe('ERR_INPUT_MEDIA_TYPE');
  });
});
