/**
 * The registrar's connections to a MASA (connection-pool.ts under masa-client.ts), against
 * real local TLS servers: connections are kept and reused, at most 8 per origin and anchors;
 * a connection the server closed while idle is replaced without the request being sent
 * twice, and a request that may have reached the server is never sent again; TLS checks
 * the anchors and the host name; answers over the size limit are refused; close() closes.
 * The servers count handshakes and requests: the assertions are counts, never times.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { toPem } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import {
  NodeCrypto,
  generateP256Key,
  privateKeyPem,
  type NodePrivateKey,
} from '../../src/adapters/crypto/node-crypto.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { caProfile, signerProfile } from '../../src/protocols/x509/profiles.js';
import type { Certificate } from '../../src/protocols/x509/certificate.js';
import { ConnectionPool } from '../../src/adapters/http/connection-pool.js';
import { PeerConnection, type ConnectionOptions } from '../../src/adapters/http/connection.js';
import { HttpMasaClient } from '../../src/adapters/http/masa-client.js';
import { PROBLEM_MEDIA_TYPE } from '../../src/adapters/http/problem.js';

const crypto = new NodeCrypto();
const now = Date.now();
const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) };

interface Pair {
  key: NodePrivateKey;
  cert: Certificate;
}
function ca(name: string): Pair {
  const key = generateP256Key();
  return {
    key,
    cert: issueCertificate(crypto, caProfile({ name, ...validity }), key.spki, { key }),
  };
}
function leaf(issuer: Pair, name: string, dnsNames?: string[]): Pair {
  const key = generateP256Key();
  return {
    key,
    cert: issueCertificate(
      crypto,
      signerProfile({ name, ...validity, serverAuth: true, ...(dnsNames ? { dnsNames } : {}) }),
      key.spki,
      { key: issuer.key, cert: issuer.cert },
    ),
  };
}
const pem = (...certs: Certificate[]) => certs.map((c) => toPem('CERTIFICATE', c.der)).join('');

const EMPTY_LOG = JSON.stringify({ version: '1', events: [] });

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** An HTTPS server that counts its handshakes and requests; its handler can be swapped. */
interface Peer {
  url: string;
  /** By host name: https://localhost:port. */
  localhostUrl: string;
  handshakes: number;
  requests: number;
  /** Open TLS connections now. */
  readonly open: number;
  handler: Handler;
  /** The client certificate (DER) of each connection, in order. */
  clientCerts: Array<Buffer | undefined>;
}

const servers: https.Server[] = [];
async function peer(
  server: Pair,
  chain: Certificate[],
  opts: { maxVersion?: tls.SecureVersion; keepAliveTimeout?: number } = {},
): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  const p: Peer = {
    url: '',
    localhostUrl: '',
    handshakes: 0,
    requests: 0,
    get open() {
      return sockets.size;
    },
    handler: (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(EMPTY_LOG),
    clientCerts: [],
  };
  const s = https.createServer(
    {
      key: privateKeyPem(server.key),
      cert: pem(server.cert, ...chain),
      requestCert: true,
      rejectUnauthorized: false,
      keepAliveTimeout: opts.keepAliveTimeout ?? 30_000,
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
    },
    (req, res) => {
      p.requests++;
      // The whole request is read before the handler acts, as a MASA does.
      req.resume();
      req.on('end', () => p.handler(req, res));
    },
  );
  s.on('secureConnection', (socket: tls.TLSSocket) => {
    p.handshakes++;
    const raw = socket.getPeerX509Certificate()?.raw;
    p.clientCerts.push(raw);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  servers.push(s);
  // Both address families: localhost may resolve to either.
  await new Promise<void>((resolve) => s.listen(0, resolve));
  const port = (s.address() as net.AddressInfo).port;
  p.url = `https://127.0.0.1:${port}`;
  p.localhostUrl = `https://localhost:${port}`;
  return p;
}

/** The error `p` rejects with. */
async function failure(
  p: Promise<unknown>,
): Promise<Error & { code?: string; cause?: unknown; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('it did not fail');
}

const rvr = 'x'.repeat(5 * 1024);

describe('the MASA connection pool', () => {
  let root: Pair;
  let other: Pair;
  let masa: Pair;
  let registrar: Pair;
  const clients: Array<{ close(): Promise<void> }> = [];
  /** A MASA client trusting `root`, presenting the registrar's certificate. */
  const client = (): HttpMasaClient => {
    const c = new HttpMasaClient(pem(root.cert), {
      key: registrar.key,
      certChain: [registrar.cert, root.cert],
    });
    clients.push(c);
    return c;
  };
  const connection = (): ConnectionOptions => ({
    ca: pem(root.cert),
    verifyHostname: true,
    minVersion: 'TLSv1.2',
  });
  const pool = (
    origin: string,
    extra: Partial<ConstructorParameters<typeof ConnectionPool>[1]> = {},
  ): ConnectionPool => {
    const p = new ConnectionPool(origin, { connection: connection(), ...extra });
    clients.push(p);
    return p;
  };

  beforeAll(() => {
    root = ca('pool test root');
    other = ca('another root');
    masa = leaf(root, 'masa', ['localhost', '127.0.0.1']);
    registrar = leaf(root, 'registrar');
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const c of clients.splice(0)) await c.close();
  });
  afterAll(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("sequential requests share one connection, presenting the registrar's certificate", async () => {
    const p = await peer(masa, [root.cert]);
    const c = client();
    for (let i = 0; i < 10; i++)
      expect(await c.requestAuditLog(p.url, rvr)).toEqual({ version: '1', events: [] });
    expect(p.requests).toBe(10);
    expect(p.handshakes).toBe(1);
    expect(p.clientCerts.map((d) => d && new Uint8Array(d))).toEqual([registrar.cert.der]);
  });

  it('anchors given per request are one pool per set of certificates, however often the array is rebuilt', async () => {
    const p = await peer(masa, [root.cert]);
    const c = new HttpMasaClient('');
    clients.push(c);
    for (let i = 0; i < 3; i++) await c.requestAuditLog(p.url, rvr, { anchors: [root.cert] });
    expect(p.handshakes).toBe(1);
    // Other anchors (that also name the MASA's root): a pool, and a connection, of their own.
    await c.requestAuditLog(p.url, rvr, { anchors: [other.cert, root.cert] });
    expect(p.handshakes).toBe(2);
    expect(p.requests).toBe(4);
  });

  it('20 parallel requests are carried by at most 8 connections, and all are answered', async () => {
    const p = await peer(masa, [root.cert]);
    const held: Array<() => void> = [];
    let inFlight = 0;
    let most = 0;
    p.handler = (_req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      const answer = () => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'application/json' }).end(EMPTY_LOG);
      };
      // The first 8 are held until all 8 have arrived: 8 connections in use at once.
      if (held.length < 8) {
        held.push(answer);
        if (held.length === 8) for (const a of held) a();
      } else {
        answer();
      }
    };
    const c = client();
    const logs = await Promise.all(Array.from({ length: 20 }, () => c.requestAuditLog(p.url, rvr)));
    expect(logs).toHaveLength(20);
    expect(p.requests).toBe(20);
    expect(most).toBe(8);
    expect(p.handshakes).toBe(8);
  });

  it('waiting requests are served first come, first served', async () => {
    const p = await peer(masa, [root.cert]);
    const order: string[] = [];
    p.handler = (req, res) => {
      order.push(req.url!);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url);
    };
    const one = pool(p.url, { maxConnections: 1 });
    const answers = await Promise.all(
      ['/a', '/b', '/c', '/d'].map((path) => one.request('GET', path)),
    );
    expect(answers.map((a) => a.body.toString())).toEqual(['/a', '/b', '/c', '/d']);
    expect(order).toEqual(['/a', '/b', '/c', '/d']);
    expect(p.handshakes).toBe(1);
  });

  it('a connection the server closed while idle is replaced, and the request is sent once', async () => {
    const p = await peer(masa, [root.cert]);
    // The server closes each connection once it has answered on it: an idle timeout, early.
    p.handler = (req, res) => {
      res.on('finish', () => setImmediate(() => req.socket.destroy()));
      res.writeHead(200, { 'content-type': 'application/json' }).end(EMPTY_LOG);
    };
    const masaPool = pool(p.url);
    for (let i = 1; i <= 3; i++) {
      expect(
        (
          await masaPool.request('POST', '/.well-known/brski/requestauditlog', {
            body: Buffer.from(rvr),
          })
        ).status,
      ).toBe(200);
      // The client has seen the close: the pool holds nothing.
      await vi.waitFor(() => expect(masaPool.size).toBe(0));
      expect(p.requests).toBe(i);
    }
    expect(p.handshakes).toBe(3);
  });

  it('answers that say connection: close are not reused, each request is sent once, and no TLS session is resumed', async () => {
    const p = await peer(masa, [root.cert]);
    const resumed: boolean[] = [];
    p.handler = (req, res) => {
      resumed.push((req.socket as tls.TLSSocket).isSessionReused());
      res
        .writeHead(200, { 'content-type': 'application/json', connection: 'close' })
        .end(EMPTY_LOG);
    };
    const c = client();
    for (let i = 0; i < 4; i++) await c.requestAuditLog(p.url, rvr);
    expect(p.requests).toBe(4);
    expect(p.handshakes).toBe(4);
    // The server offers tickets (Node's default); the registrar's certificate is sent every time.
    expect(resumed).toEqual([false, false, false, false]);
    expect(p.clientCerts).toHaveLength(4);
    expect(
      p.clientCerts.every((d) => d !== undefined && Buffer.from(registrar.cert.der).equals(d)),
    ).toBe(true);
  });

  it('a server Keep-Alive timeout of 2 s or less: the connection is not kept', async () => {
    const p = await peer(masa, [root.cert], { keepAliveTimeout: 1000 });
    const c = client();
    await c.requestAuditLog(p.url, rvr);
    await c.requestAuditLog(p.url, rvr);
    expect(p.requests).toBe(2);
    expect(p.handshakes).toBe(2);
  });

  it('an idle connection is closed once it has been idle for its time', async () => {
    const p = await peer(masa, [root.cert]);
    const masaPool = pool(p.url, { maxIdleTimeoutMs: 50 });
    await masaPool.request('GET', '/');
    await vi.waitFor(() => expect(p.open).toBe(0), { timeout: 10_000 });
    expect(masaPool.size).toBe(0);
    await masaPool.request('GET', '/');
    expect(p.handshakes).toBe(2);
  });

  it("an idle connection found closed when its request's turn comes, nothing written, is retried once on another", async () => {
    const p = await peer(masa, [root.cert]);
    const masaPool = pool(p.url);
    await masaPool.request('GET', '/warm');
    expect(masaPool.size).toBe(1);
    // The idle connection closes between being taken and the request being written.
    const exchange = PeerConnection.prototype.exchange;
    vi.spyOn(PeerConnection.prototype, 'exchange').mockImplementationOnce(function (
      this: PeerConnection,
      ...args
    ) {
      void this.close();
      return exchange.apply(this, args);
    });
    expect(
      (
        await masaPool.request('POST', '/.well-known/brski/requestvoucher', {
          body: Buffer.from(rvr),
        })
      ).status,
    ).toBe(200);
    expect(p.requests).toBe(2);
    expect(p.handshakes).toBe(2);
  });

  it('that retry happens at most once per request', async () => {
    const p = await peer(masa, [root.cert]);
    const masaPool = pool(p.url);
    // Two idle connections.
    await Promise.all([masaPool.request('GET', '/a'), masaPool.request('GET', '/b')]);
    expect(masaPool.size).toBe(2);
    const exchange = PeerConnection.prototype.exchange;
    const closing = function (
      this: PeerConnection,
      ...args: Parameters<PeerConnection['exchange']>
    ) {
      void this.close();
      return exchange.apply(this, args);
    };
    vi.spyOn(PeerConnection.prototype, 'exchange')
      .mockImplementationOnce(closing)
      .mockImplementationOnce(closing);
    const e = await failure(
      masaPool.request('POST', '/.well-known/brski/requestvoucher', { body: Buffer.from(rvr) }),
    );
    expect(e.code).toBe('ERR_TRANSPORT');
    expect(p.requests).toBe(2);
  });

  it('a request that fails after it was written is not retried, even on a reused connection', async () => {
    const p = await peer(masa, [root.cert]);
    const c = client();
    await c.requestAuditLog(p.url, rvr);
    // The server reads the request, then drops the connection without answering.
    p.handler = (req) => req.socket.destroy();
    const e = await failure(c.requestAuditLog(p.url, rvr));
    expect(e.code).toBe('ERR_MASA_UNREACHABLE');
    expect(isAirlockError(e.cause, 'ERR_TRANSPORT')).toBe(true);
    expect(p.requests).toBe(2);
    expect(p.handshakes).toBe(1);
    // The next request has a new connection.
    p.handler = (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(EMPTY_LOG);
    await c.requestAuditLog(p.url, rvr);
    expect(p.requests).toBe(3);
    expect(p.handshakes).toBe(2);
  });

  it('an answer cut short mid-body is refused and not retried', async () => {
    const p = await peer(masa, [root.cert]);
    p.handler = (req, res) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(EMPTY_LOG.length + 10),
      });
      res.write(EMPTY_LOG, () => req.socket.destroy());
    };
    const e = await failure(client().requestAuditLog(p.url, rvr));
    expect(e.code).toBe('ERR_MASA_UNREACHABLE');
    expect(p.requests).toBe(1);
  });

  it("the MASA's problem bodies keep their codes; another refusal is ERR_MASA_REFUSED; the connection is kept", async () => {
    const p = await peer(masa, [root.cert]);
    const c = client();
    p.handler = (_req, res) =>
      res.writeHead(403, { 'content-type': PROBLEM_MEDIA_TYPE }).end(
        JSON.stringify({
          type: 'urn:airlock:error:ERR_MASA_NOT_AUTHORIZED',
          code: 'ERR_MASA_NOT_AUTHORIZED',
          status: 403,
          detail: 'not yours',
        }),
      );
    expect((await failure(c.requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_NOT_AUTHORIZED');
    p.handler = (_req, res) =>
      res.writeHead(500, { 'content-type': 'text/html' }).end('<p>oops</p>');
    expect((await failure(c.requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_REFUSED');
    expect(p.handshakes).toBe(1);
  });

  it('a 2xx answer that is not what was asked for is ERR_MASA_ANSWER_MALFORMED, not a refusal', async () => {
    const p = await peer(masa, [root.cert]);
    const c = client();
    p.handler = (_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('<p>not a log</p>');
    expect((await failure(c.requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_ANSWER_MALFORMED');
    p.handler = (_req, res) =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ version: 'one', events: 'none' }));
    expect((await failure(c.requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_ANSWER_MALFORMED');
    p.handler = (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end('a voucher?');
    expect((await failure(c.requestVoucher(p.url, 'eyJ.e30.sig'))).code).toBe(
      'ERR_MASA_ANSWER_MALFORMED',
    );
  });

  it('bodies are bytes both ways: a binary voucher request and voucher, headers as given', async () => {
    const p = await peer(masa, [root.cert]);
    const sent = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    const back = new Uint8Array(3000).map((_, i) => (i * 13) & 0xff);
    let got: { body: Buffer; type?: string; accept?: string; path?: string } | undefined;
    p.handler = () => undefined;
    const s = servers.at(-1)!;
    s.removeAllListeners('request');
    s.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      p.requests++;
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        got = {
          body: Buffer.concat(chunks),
          type: req.headers['content-type'],
          accept: req.headers.accept,
          path: req.url,
        };
        res.writeHead(200, { 'content-type': 'application/voucher-cose+cbor' }).end(back);
      });
    });
    const v = await client().requestVoucherIn(
      `${p.url}/prefix/`,
      { mediaType: 'application/voucher-cose+cbor', bytes: sent },
      'application/voucher-cose+cbor',
    );
    expect(v.mediaType).toBe('application/voucher-cose+cbor');
    expect(Buffer.from(v.bytes).equals(Buffer.from(back))).toBe(true);
    expect(got).toEqual({
      body: Buffer.from(sent),
      type: 'application/voucher-cose+cbor',
      accept: 'application/voucher-cose+cbor',
      path: '/prefix/.well-known/brski/requestvoucher',
    });
  });

  it('the server certificate must name the host: by DNS name, or by IP address', async () => {
    const named = await peer(leaf(root, 'masa by name', ['localhost']), [root.cert]);
    const c = client();
    // Reached by the name it carries.
    await c.requestAuditLog(named.localhostUrl, rvr);
    // Reached by an address it does not carry.
    const e = await failure(c.requestAuditLog(named.url, rvr));
    expect(e.code).toBe('ERR_MASA_UNREACHABLE');
    expect(e.message).toMatch(/does not match|altnames/i);
    const elsewhere = await peer(leaf(root, 'someone else', ['masa.example']), [root.cert]);
    expect((await failure(c.requestAuditLog(elsewhere.url, rvr))).code).toBe(
      'ERR_MASA_UNREACHABLE',
    );
    expect((await failure(c.requestAuditLog(elsewhere.localhostUrl, rvr))).code).toBe(
      'ERR_MASA_UNREACHABLE',
    );
    expect(named.requests).toBe(1);
    expect(elsewhere.requests).toBe(0);
  });

  it('a server certificate not under the anchors is refused before anything is sent', async () => {
    const p = await peer(leaf(other, 'impostor', ['localhost', '127.0.0.1']), [other.cert]);
    const c = client();
    expect((await failure(c.requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_UNREACHABLE');
    // Anchors given for the request replace the client's: the other root is not among them either.
    expect((await failure(c.requestAuditLog(p.url, rvr, { anchors: [root.cert] }))).code).toBe(
      'ERR_MASA_UNREACHABLE',
    );
    expect(p.requests).toBe(0);
    // Given its own anchors, the same server is trusted.
    await c.requestAuditLog(p.url, rvr, { anchors: [other.cert] });
    expect(p.requests).toBe(1);
  });

  it('TLS 1.2 is allowed to a MASA (the device still asks for TLS 1.3)', async () => {
    const p = await peer(masa, [root.cert], { maxVersion: 'TLSv1.2' });
    await client().requestAuditLog(p.url, rvr);
    expect(p.requests).toBe(1);
    const e = await failure(PeerConnection.open(p.url, { ca: pem(root.cert) }));
    expect(e.code).toBe('ERR_TRANSPORT');
  });

  it('an IPv6 literal in the URL is connected to without its brackets', async (ctx) => {
    const p = await peer(masa, [root.cert]);
    if ((servers.at(-1)!.address() as net.AddressInfo).family !== 'IPv6') ctx.skip();
    const port = new URL(p.url).port;
    // The issuer writes no IPv6 SANs, so no host name check here: the device's defaults.
    const conn = await PeerConnection.open(`https://[::1]:${port}`, {
      ca: pem(root.cert),
      minVersion: 'TLSv1.2',
    });
    try {
      expect((await conn.request('GET', '/')).status).toBe(200);
    } finally {
      await conn.close();
    }
  });

  it('an answer over 1 MiB is refused', async () => {
    const p = await peer(masa, [root.cert]);
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    p.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(big);
    const e = await failure(client().requestAuditLog(p.url, rvr));
    expect(e.code).toBe('ERR_MASA_UNREACHABLE');
    expect((e.cause as { details?: { fault?: string } }).details?.fault).toBe('body-too-large');
    // Undeclared (chunked) too.
    p.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 17; i++) res.write(big.subarray(0, 64 * 1024));
      res.end();
    };
    expect((await failure(client().requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_UNREACHABLE');
  });

  it('close() closes idle connections; later requests are refused', async () => {
    const p = await peer(masa, [root.cert]);
    const c = client();
    await Promise.all(Array.from({ length: 3 }, () => c.requestAuditLog(p.url, rvr)));
    expect(p.open).toBe(3);
    await c.close();
    await vi.waitFor(() => expect(p.open).toBe(0));
    expect((await failure(c.requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_UNREACHABLE');
    expect(p.requests).toBe(3);
  });

  it('close() lets a request already made finish, then closes its connection', async () => {
    const p = await peer(masa, [root.cert]);
    let release: (() => void) | undefined;
    p.handler = (_req, res) =>
      (release = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('late'));
    const masaPool = pool(p.url);
    const pending = masaPool.request('GET', '/slow');
    await vi.waitFor(() => expect(release).toBeDefined());
    const closed = masaPool.close();
    release!();
    expect((await pending).body.toString()).toBe('late');
    await closed;
    expect(masaPool.size).toBe(0);
    await vi.waitFor(() => expect(p.open).toBe(0));
  });

  it('a server that cannot be reached is ERR_MASA_UNREACHABLE, and the slot is given back', async () => {
    const p = await peer(masa, [root.cert]);
    const s = servers.at(-1)!;
    await new Promise((resolve) => s.close(resolve));
    const masaPool = pool(p.url, { maxConnections: 1 });
    expect((await failure(masaPool.request('GET', '/'))).code).toBe('ERR_TRANSPORT');
    expect((await failure(masaPool.request('GET', '/'))).code).toBe('ERR_TRANSPORT');
    expect((await failure(client().requestAuditLog(p.url, rvr))).code).toBe('ERR_MASA_UNREACHABLE');
  });
});
