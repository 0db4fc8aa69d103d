/**
 * The registrar relies on any verifier that speaks Veraison's challenge-response API, not only
 * on Airlock's: here a verifier built from node:https and `jose` alone (sessions, nonces, and
 * EARs signed with the public EAR corpus key, test/fixtures/interop/eat/ear_skey.json), which
 * neither annotates its results nor knows Airlock's reason claim. A network pointed at it
 * onboards a device on its affirming result and stops one on its contraindicated result; a
 * result signed with another key, or for another nonce, is refused and nothing is issued.
 */
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { SignJWT, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { errorCode } from '../support/errors.js';
import { readInterop } from '../support/interop.js';
import { issue, T0 } from '../support/pki.js';
import { caProfile, signerProfile } from '../../src/protocols/x509/profiles.js';
import { toPem } from '../../src/core/bytes.js';
import { exportPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import { HttpVerifierClient, type EcPublicJwk } from '../../src/adapters/http/verifier-client.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';

const corpusKey = JSON.parse(readInterop('eat', 'ear_skey.json')) as JWK;
const { d: _d, ...corpusPublic } = corpusKey;

interface Behaviour {
  status: 'affirming' | 'contraindicated';
  /** Sign with another key than the one the network was given. */
  otherKey?: boolean;
  /** Put another nonce in the result. */
  otherNonce?: boolean;
}

/** A verifier that is not Airlock: Veraison's session API, EARs signed by `jose`. */
async function foreignVerifier(behaviour: Behaviour) {
  const ca = await issue(
    caProfile({ name: 'Other Verifier CA', notBefore: T0, notAfter: new Date('2036-01-01') }),
  );
  const tls = await issue(
    signerProfile({
      name: 'other verifier',
      notBefore: T0,
      notAfter: new Date('2030-01-01'),
      dnsNames: ['127.0.0.1'],
      serverAuth: true,
    }),
    ca,
  );
  const sessions = new Map<string, { nonce: string; used: boolean }>();
  const seen: Array<{ path: string; contentType: string | undefined }> = [];
  const signingKey = await importJWK(corpusKey, 'ES256');
  const otherKey = (await import('node:crypto')).generateKeyPairSync('ec', {
    namedCurve: 'P-256',
  }).privateKey;
  const server = https.createServer(
    {
      key: toPem('PRIVATE KEY', exportPkcs8(tls.key)),
      cert: toPem('CERTIFICATE', tls.cert.der),
    },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ path: req.url ?? '', contentType: req.headers['content-type'] });
        const json = 'application/vnd.veraison.challenge-response-session+json';
        if (req.method === 'POST' && req.url?.startsWith('/challenge-response/v1/newSession')) {
          const id = randomBytes(8).toString('hex');
          // Veraison's rules: the client's nonce, decoded as Go's base64.URLEncoding does
          // (padded base64url, nothing else), else nonceSize random bytes; written back in
          // standard base64, as Go marshals bytes.
          const query = new URL(req.url, 'https://x').searchParams;
          const asked = query.get('nonce');
          if (asked !== null && !(/^[A-Za-z0-9_-]*={0,2}$/.test(asked) && asked.length % 4 === 0)) {
            res.writeHead(400).end();
            return;
          }
          const nonce = (
            asked !== null
              ? Buffer.from(asked, 'base64url')
              : randomBytes(Number(query.get('nonceSize') ?? 32))
          ).toString('base64');
          sessions.set(id, { nonce, used: false });
          res.writeHead(201, { 'content-type': json, location: `session/${id}` }).end(
            JSON.stringify({
              nonce,
              expiry: new Date(Date.now() + 60_000).toISOString(),
              accept: ['application/eat+jwt'],
              state: 'waiting',
            }),
          );
          return;
        }
        const m = /^\/challenge-response\/v1\/session\/([0-9a-f]+)$/.exec(req.url ?? '');
        const s = m ? sessions.get(m[1]!) : undefined;
        if (req.method !== 'POST' || !s || s.used) {
          res.writeHead(404).end();
          return;
        }
        s.used = true;
        const claims = {
          eat_profile: 'tag:github.com,2023:veraison/ear',
          'ear.verifier-id': { developer: 'Another Verifier Inc.', build: 'jose' },
          eat_nonce: behaviour.otherNonce ? randomBytes(32).toString('base64') : s.nonce,
          submods: {
            device: {
              'ear.status': behaviour.status,
              'ear.trustworthiness-vector':
                behaviour.status === 'affirming'
                  ? { 'instance-identity': 2, executables: 2, hardware: 2 }
                  : { 'instance-identity': 2, executables: 99, hardware: 2 },
            },
          },
        };
        void new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
          .setIssuedAt()
          .sign(behaviour.otherKey ? otherKey : signingKey)
          .then((result) =>
            res.writeHead(200, { 'content-type': json }).end(
              JSON.stringify({
                nonce: s.nonce,
                expiry: new Date(Date.now() + 60_000).toISOString(),
                accept: ['application/eat+jwt'],
                state: 'complete',
                evidence: { type: req.headers['content-type'], value: body },
                result,
              }),
            ),
          );
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    caPem: toPem('CERTIFICATE', ca.cert.der),
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('interop: a verifier that is not Airlock, built from node:https and jose', () => {
  let sys: TestSystem;
  const closers: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await sys?.close();
  });

  /** Another network of this owner's kind, relying on the foreign verifier. */
  const networkWith = async (behaviour: Behaviour, name: string) => {
    const v = await foreignVerifier(behaviour);
    closers.push(v.close);
    const { Network } = await import('../../src/roles/network/index.js');
    const { loadKek } = await import('../../src/adapters/crypto/kek.js');
    const network = await Network.open({
      ctx: sys.ctx,
      databaseFile: path.join(sys.dir, `${name}.db`),
      kek: loadKek({ envVar: 'AIRLOCK_TEST_UNSET_KEK', file: path.join(sys.dir, `${name}.kek`) })
        .kek,
      manufacturers: [sys.manufacturer.trustBundle()],
      verifier: new HttpVerifierClient(v.url, {
        tlsCaPem: v.caPem,
        earKey: corpusPublic as EcPublicJwk,
      }),
    });
    closers.push(() => network.close());
    return { network, url: await network.serve(0), verifier: v };
  };

  /** A device sold to `network`'s owner, measuring its model's released image. */
  const deviceFor = async (network: { owner: { id: string; name: string } }) => {
    const { agent, serial, firmware } = await sys.newDevice({ sell: false });
    await sys.manufacturer.sell(serial, network.owner);
    return {
      agent: new DeviceAgent(agent.store, sys.ctx, { measuredBoot: fileMeasuredBoot(firmware) }),
      serial,
    };
  };

  it('onboards a device on the affirming result of a verifier that speaks the same API', async () => {
    const { network, url, verifier } = await networkWith({ status: 'affirming' }, 'fv-ok');
    const { agent, serial } = await deviceFor(network);
    await agent.onboard(url);
    expect(await network.inventory.device(serial)).toMatchObject({
      state: 'onboarded',
      attestation_status: 'affirming',
    });
    // The registrar spoke Veraison's API: a new session for the nonce of the device's channel,
    // then the evidence to its Location.
    expect(
      verifier.seen.map((s) =>
        s.path
          .replace(/[0-9a-f]{16}$/, '<id>')
          .replace(/nonce=[A-Za-z0-9_-]{43}%3D$/, 'nonce=<43 + padding>'),
      ),
    ).toEqual([
      '/challenge-response/v1/newSession?nonce=<43 + padding>',
      '/challenge-response/v1/session/<id>',
    ]);
    expect(verifier.seen[1]!.contentType).toMatch(/^application\/eat\+jwt; eat_profile=/);
  });

  it("stops a device on that verifier's contraindicated result, with nothing issued", async () => {
    const { network, url } = await networkWith({ status: 'contraindicated' }, 'fv-bad');
    const { agent, serial } = await deviceFor(network);
    expect(await errorCode(() => agent.onboard(url))).toBe('ERR_ATTESTATION_REFUSED');
    expect(await network.inventory.certificates(serial)).toEqual([]);
    expect((await network.inventory.device(serial)).state).toBe('refused');
  });

  it('refuses a result signed with a key other than the one configured, or for another nonce', async () => {
    for (const [name, behaviour] of [
      ['fv-key', { status: 'affirming', otherKey: true }],
      ['fv-nonce', { status: 'affirming', otherNonce: true }],
    ] as const) {
      const { network, url } = await networkWith(behaviour, name);
      const { agent, serial } = await deviceFor(network);
      expect(await errorCode(() => agent.onboard(url)), name).toBe('ERR_EAR_UNTRUSTED');
      expect(await network.inventory.certificates(serial), name).toEqual([]);
      // Nothing was recorded of the device: it may try again as if it never had.
      expect(await errorCode(() => network.inventory.device(serial)), name).toBe(
        'ERR_DEVICE_NOT_FOUND',
      );
    }
  });
});
