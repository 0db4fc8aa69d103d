/**
 * PeerConnection failure modes: a connection the peer closes, a client key that does not
 * match its certificate, a peer that stalls or answers without end. Each must end in a typed
 * AirlockError, never a hang or an uncaught exception.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/core/bytes.js';
import {
  NodeCrypto,
  generateP256Key,
  privateKeyPem,
} from '../../src/adapters/crypto/node-crypto.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signerProfile } from '../../src/protocols/x509/profiles.js';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { connectAs, errorCode, expectProblem, identityOf } from '../support/wire.js';

/** Settles with 'still pending' when `p` has not settled in `ms`: a hang made a failure, not a measurement. */
async function settledWithin<T>(
  p: Promise<T>,
  ms: number,
): Promise<{ value?: T; error?: unknown; pending?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<{ pending: true }>(
    (resolve) => (timer = setTimeout(() => resolve({ pending: true }), ms)),
  );
  try {
    return await Promise.race([
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      bound,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PeerConnection', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
  });
  afterAll(async () => sys?.close());

  it('a request after the peer closed the connection rejects with ERR_TRANSPORT instead of hanging', async () => {
    const { agent } = await sys.newDevice();
    const conn = await connectAs(sys.registrarUrl, identityOf(await agent.birth()));
    try {
      // The registrar closes the connection after this refusal (a body it could not parse).
      expectProblem(
        await conn.request('POST', '/.well-known/brski/enrollstatus', {
          body: '{',
          contentType: 'application/json',
        }),
        'ERR_INPUT_MALFORMED_JSON',
        400,
      );
      const next = await settledWithin(conn.request('GET', '/.well-known/est/cacerts'), 10_000);
      expect(next.pending, 'the request neither completed nor failed').toBeUndefined();
      if (next.error !== undefined)
        expect((next.error as { code?: string }).code).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('a client key that does not match the certificate is a typed configuration error', async () => {
    const a = identityOf(await (await sys.newDevice()).agent.birth());
    const b = identityOf(await (await sys.newDevice()).agent.birth());
    expect(
      await errorCode(() =>
        PeerConnection.open(sys.registrarUrl, { cert: a.certPem, key: b.keyPem }),
      ),
    ).toBe('ERR_CONFIG');
  });
});

/**
 * Deadlines and limits: a stalled or hostile peer (no handshake, no answer, an answer dripped
 * a byte at a time, an endless answer) ends in ERR_TRANSPORT, and the connection is closed.
 * The deadlines are made short here; the assertion is the outcome, never the time taken.
 */
describe('PeerConnection limits', () => {
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  let tlsOpts: { cert: string; key: string };
  beforeAll(() => {
    const key = generateP256Key();
    const at = new Date();
    const cert = issueCertificate(
      new NodeCrypto(),
      signerProfile({
        name: 'stalling peer',
        notBefore: new Date(at.getTime() - 60_000),
        notAfter: new Date(at.getTime() + 86_400_000),
        serverAuth: true,
      }),
      key.spki,
      { key },
    );
    tlsOpts = { cert: toPem('CERTIFICATE', cert.der), key: privateKeyPem(key) };
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  async function listen(server: net.Server): Promise<string> {
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  /** An HTTPS server answering every request with `handler`. */
  const httpsPeer = (handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) =>
    listen(https.createServer({ ...tlsOpts, minVersion: 'TLSv1.3' }, handler));

  it('a peer that never completes the TLS handshake', async () => {
    const url = await listen(net.createServer(() => undefined));
    const r = await settledWithin(PeerConnection.open(url, { handshakeTimeoutMs: 200 }), 10_000);
    expect(r.pending, 'the handshake neither completed nor failed').toBeUndefined();
    expect((r.error as { code?: string }).code).toBe('ERR_TRANSPORT');
  });

  it('a peer that never answers: the request fails and the connection is closed', async () => {
    const url = await httpsPeer(() => undefined);
    const conn = await PeerConnection.open(url, { requestTimeoutMs: 200 });
    try {
      const r = await settledWithin(conn.request('GET', '/'), 10_000);
      expect(r.pending, 'the request neither completed nor failed').toBeUndefined();
      expect((r.error as { code?: string }).code).toBe('ERR_TRANSPORT');
      expect(conn.socket.destroyed).toBe(true);
      expect(await errorCode(() => conn.request('GET', '/'))).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('a peer that drips its answer a byte at a time, each within the idle timers, is cut off', async () => {
    const url = await httpsPeer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('x'), 20);
      res.on('close', () => clearInterval(t));
    });
    const conn = await PeerConnection.open(url, { requestTimeoutMs: 400 });
    try {
      const r = await settledWithin(conn.request('GET', '/'), 10_000);
      expect(r.pending, 'the request neither completed nor failed').toBeUndefined();
      expect((r.error as { code?: string }).code).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('an answer larger than maxResponseBytes is refused, declared or not', async () => {
    const big = 'y'.repeat(64 * 1024);
    const declared = await httpsPeer((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/plain', 'content-length': String(big.length) })
        .end(big),
    );
    const chunked = await httpsPeer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 8; i++) res.write(big.slice(0, 8 * 1024));
      res.end();
    });
    for (const url of [declared, chunked]) {
      const conn = await PeerConnection.open(url, { maxResponseBytes: 32 * 1024 });
      try {
        expect(await errorCode(() => conn.request('GET', '/'))).toBe('ERR_TRANSPORT');
      } finally {
        await conn.close();
      }
      // At the limit it is accepted.
      const ok = await PeerConnection.open(url, { maxResponseBytes: big.length });
      try {
        expect((await ok.request('GET', '/')).body.length).toBe(big.length);
      } finally {
        await ok.close();
      }
    }
  });
});
