/**
 * The roles' HTTPS server (src/adapters/http/server.ts): TLS 1.2 beside 1.3 with ECDHE+AEAD
 * suites only (RFC 8995 section 5.1), RFC 5705 exporter values on TLS 1.2, problem bodies for
 * what Node's parser refuses (414, 431, 400) and for 413 and 404 (never echoing the request),
 * /healthz, one log line per request, connection caps, and a bounded graceful close.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/adapters/log/logger.js';
import { sourceOf } from '../../src/adapters/http/limits.js';
import {
  channelBinding,
  closeGracefully,
  createHttpsServer,
  isDraining,
  listen,
  setRequestSerial,
  TLS12_CIPHERS,
} from '../../src/adapters/http/server.js';
import { toPem } from '../../src/core/bytes.js';
import { caProfile } from '../../src/protocols/x509/profiles.js';
import { issue, T0 } from '../support/pki.js';
import { errorCode, tempDir } from '../support/wire.js';
import { onPath } from '../support/tools.js';
import {
  closedWithin,
  collect,
  dribble,
  nextResponse,
  rawTcp,
  rawTls,
} from '../support/raw-http.js';

const run = promisify(execFile);
/** openssl s_client with its standard input closed, so that it ends after the handshake. */
function sClient(args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', ...args],
      { timeout: 20_000 },
      (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }),
    );
    child.stdin?.on('error', () => undefined); // it may exit before its input closes
    child.stdin?.end();
  });
}
const tools = onPath('curl') && onPath('openssl');
if (!tools) console.log('skipped: curl/openssl not installed');

interface TestServer {
  app: FastifyInstance;
  url: string;
  logFile: string;
  certPem: string;
  logLines(): Array<Record<string, unknown>>;
}

async function startServer(
  limits: Parameters<typeof createHttpsServer>[0]['limits'] = {},
): Promise<TestServer> {
  const dir = tempDir('airlock-server-');
  const logFile = path.join(dir, 'server.log');
  const pair = await issue(
    caProfile({
      name: 'Test Server',
      notBefore: T0,
      notAfter: new Date(T0.getTime() + 10 * 365 * 86_400_000),
    }),
  );
  const app = createHttpsServer({
    key: pair.key,
    certChain: [pair.cert],
    requestClientCert: true,
    logger: createLogger({ level: 'debug', destination: logFile }),
    bodyLimit: 1024,
    limits,
  });
  app.get('/exporter', async (req) => ({
    value: Buffer.from(channelBinding(req, 'EXPORTER-test', 32)).toString('hex'),
  }));
  app.post('/echo-length', async (req) => {
    setRequestSerial(req, 'SN-LOGGED');
    return { length: String(req.body).length };
  });
  app.post('/fail', async () => {
    throw new Error('an internal detail');
  });
  const { url } = await listen(app, 0);
  return {
    app,
    url,
    logFile,
    certPem: toPem('CERTIFICATE', pair.cert.der),
    logLines: () =>
      fs
        .readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Sends one raw request on a fresh TLS connection and returns the response. */
async function rawRequest(url: string, request: string) {
  const s = await rawTls(url);
  const c = collect(s);
  s.write(request);
  const r = await nextResponse(c);
  s.destroy();
  return r;
}

describe('HTTPS server: TLS versions and suites', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => srv?.app.close());

  it('accepts TLS 1.3 and TLS 1.2, and on TLS 1.2 only the ECDHE-ECDSA AEAD suites', async () => {
    const s13 = await rawTls(srv.url);
    expect(s13.getProtocol()).toBe('TLSv1.3');
    s13.destroy();
    for (const cipher of TLS12_CIPHERS) {
      const s = await rawTls(srv.url, { maxVersion: 'TLSv1.2', ciphers: cipher });
      expect(s.getProtocol()).toBe('TLSv1.2');
      expect(s.getCipher().standardName).toMatch(
        /^TLS_ECDHE_ECDSA_WITH_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/,
      );
      s.destroy();
    }
    for (const refused of [
      'ECDHE-ECDSA-AES128-SHA',
      'ECDHE-ECDSA-AES256-SHA384',
      'AES128-SHA',
      'AES128-GCM-SHA256',
      'ECDHE-RSA-AES128-GCM-SHA256',
    ]) {
      await expect(
        rawTls(srv.url, { maxVersion: 'TLSv1.2', ciphers: refused }),
        refused,
      ).rejects.toThrow();
    }
    await expect(rawTls(srv.url, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });

  it('RFC 5705 exporter values agree on both ends over TLS 1.2 (extended master secret negotiated)', async () => {
    const s = await rawTls(srv.url, { maxVersion: 'TLSv1.2' });
    const c = collect(s);
    s.write('GET /exporter HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await nextResponse(c);
    expect(r?.status).toBe(200);
    const mine = s.exportKeyingMaterial(32, 'EXPORTER-test', Buffer.alloc(0)).toString('hex');
    expect(JSON.parse(r!.body).value).toBe(mine);
    s.destroy();
  });

  it.skipIf(!tools)(
    'curl --tls-max 1.2 and openssl s_client -tls1_2 connect; a CBC or non-ECDHE suite is refused',
    async () => {
      const port = new URL(srv.url).port;
      const { stdout } = await run('curl', [
        '-sS',
        '-k',
        '--tls-max',
        '1.2',
        '-w',
        '\n%{http_code}',
        `${srv.url}/healthz`,
      ]);
      expect(stdout.trim().split('\n')).toEqual(['{"status":"ok"}', '200']);
      const ok = await sClient(['-connect', `127.0.0.1:${port}`, '-tls1_2']);
      expect(ok.out).toMatch(/Protocol\s*:\s*TLSv1\.2/);
      expect(ok.out).toMatch(
        /Cipher\s*:\s*ECDHE-ECDSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)/,
      );
      expect(ok.out).toMatch(/Extended master secret: yes/);
      for (const cipher of [
        'AES128-SHA',
        'ECDHE-ECDSA-AES128-SHA',
        'ECDHE-RSA-AES128-GCM-SHA256',
      ]) {
        const bad = await sClient(['-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', cipher]);
        expect(bad.ok, cipher).toBe(false);
        expect(bad.out, cipher).toMatch(/handshake failure|no cipher|alert/i);
        expect(bad.out, cipher).toMatch(/Cipher is \(NONE\)/);
      }
    },
  );
});

describe('HTTPS server: problem bodies, health, request log', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ maxUrlBytes: 256, maxHeaderBytes: 4096 });
  });
  afterAll(async () => srv?.app.close());

  it('GET /healthz is 200 {"status":"ok"} without a client certificate', async () => {
    const r = await rawRequest(srv.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(r?.status).toBe(200);
    expect(JSON.parse(r!.body)).toEqual({ status: 'ok' });
  });

  it('a request target over the limit is 414 ERR_HTTP_URI_TOO_LONG and is not echoed', async () => {
    const marker = 'SECRETPATHMARKER';
    const r = await rawRequest(srv.url, `GET /${marker.repeat(30)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(r?.status).toBe(414);
    expect(r?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(r!.body).code).toBe('ERR_HTTP_URI_TOO_LONG');
    expect(r!.body).not.toContain(marker);
  });

  it('an unknown path is 404 ERR_NOT_FOUND and is not echoed', async () => {
    const r = await rawRequest(
      srv.url,
      'GET /no-such-MARKER-path?q=MARKER HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(r?.status).toBe(404);
    expect(JSON.parse(r!.body).code).toBe('ERR_NOT_FOUND');
    expect(r!.body).not.toContain('MARKER');
  });

  it('headers over the limit are 431 ERR_HTTP_HEADERS_TOO_LARGE (answered before any route) and the connection closes', async () => {
    const s = await rawTls(srv.url);
    const c = collect(s);
    s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
    const r = await nextResponse(c);
    expect(r?.status).toBe(431);
    expect(r?.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r!.body).code).toBe('ERR_HTTP_HEADERS_TOO_LARGE');
    expect(await closedWithin(s, 10_000)).toBe(true);
  });

  it('malformed HTTP, and a request target that is not a valid URL, are 400 ERR_HTTP_MALFORMED (not echoed)', async () => {
    const r = await rawRequest(srv.url, 'THIS IS NOT HTTP\r\n\r\n');
    expect(r?.status).toBe(400);
    expect(JSON.parse(r!.body).code).toBe('ERR_HTTP_MALFORMED');
    const bad = await rawRequest(srv.url, 'GET /MARKER%zz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(bad?.status).toBe(400);
    expect(bad?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(bad!.body).code).toBe('ERR_HTTP_MALFORMED');
    expect(bad!.body).not.toContain('MARKER');
  });

  it('limits that cannot hold together are ERR_CONFIG, before anything listens', async () => {
    expect(
      await errorCode(() => startServer({ headersTimeoutMs: 5000, requestTimeoutMs: 1000 })),
    ).toBe('ERR_CONFIG');
    expect(await errorCode(() => startServer({ maxConnections: 0 }))).toBe('ERR_CONFIG');
  });

  it('a body over the limit is 413 ERR_INPUT_TOO_LARGE; an internal failure is 500 ERR_INTERNAL without its detail', async () => {
    const body = 'x'.repeat(2000);
    const big = await rawRequest(
      srv.url,
      `POST /echo-length HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(big?.status).toBe(413);
    expect(JSON.parse(big!.body).code).toBe('ERR_INPUT_TOO_LARGE');
    const fail = await rawRequest(
      srv.url,
      'POST /fail HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx',
    );
    expect(fail?.status).toBe(500);
    expect(JSON.parse(fail!.body).code).toBe('ERR_INTERNAL');
    expect(fail!.body).not.toContain('internal detail');
  });

  it('logs one line per request: method, path without query, status, ms, serial, code; never the body or query', async () => {
    const body = 'BODY-MARKER';
    const ok = await rawRequest(
      srv.url,
      `POST /echo-length?token=QUERY-MARKER HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(ok?.status).toBe(200);
    await rawRequest(srv.url, 'GET /missing HTTP/1.1\r\nHost: x\r\n\r\n');
    const lines = srv.logLines().filter((l) => l.msg === 'request');
    const echo = lines.filter((l) => l.path === '/echo-length' && l.status === 200);
    expect(echo).toHaveLength(1);
    expect(echo[0]).toMatchObject({ level: 30, method: 'POST', status: 200, serial: 'SN-LOGGED' });
    expect(typeof echo[0]!.ms).toBe('number');
    expect(lines.find((l) => l.path === '/missing')).toMatchObject({
      method: 'GET',
      status: 404,
      code: 'ERR_NOT_FOUND',
    });
    const all = fs.readFileSync(srv.logFile, 'utf8');
    expect(all).not.toContain('BODY-MARKER');
    expect(all).not.toContain('QUERY-MARKER');
  });
});

describe('HTTPS server: connection caps', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({
      maxConnections: 6,
      maxConnectionsPerAddress: 4,
      tlsHandshakeTimeoutMs: 60_000,
    });
  });
  afterAll(async () => srv?.app.close());

  it('refuses a connection over the per-address cap at once, while another address still gets in; then over the total cap', async () => {
    const held = await Promise.all(
      Array.from({ length: 4 }, () => rawTcp(srv.url, { localAddress: '127.0.0.2' })),
    );
    // The fifth from the same address: closed without a handshake.
    await expect(rawTls(srv.url, { localAddress: '127.0.0.2' })).rejects.toThrow();
    // Another address is under its own cap.
    const other = await rawTls(srv.url, { localAddress: '127.0.0.3' });
    const c = collect(other);
    other.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await nextResponse(c))?.status).toBe(200);
    const second = await rawTcp(srv.url, { localAddress: '127.0.0.3' });
    // 4 + 2 = 6 held: the total cap refuses a third address too.
    await expect(rawTls(srv.url, { localAddress: '127.0.0.4' })).rejects.toThrow();
    for (const s of [...held, other, second]) s.destroy();
    // Once they are gone, connections are admitted again.
    await new Promise((r) => setTimeout(r, 200));
    const again = await rawTls(srv.url, { localAddress: '127.0.0.2' });
    again.destroy();
  });
});

describe('HTTPS server: no connection lives for ever', () => {
  it('closes a busy connection at its lifetime, and after its last allowed request', async () => {
    const srv = await startServer({
      maxConnectionLifetimeMs: 600,
      maxRequestsPerConnection: 3,
      keepAliveTimeoutMs: 5_000,
    });
    try {
      // A client that keeps its connection busy (a request every 100 ms) is still closed.
      const busy = await rawTls(srv.url);
      const c = collect(busy);
      const timer = setInterval(() => busy.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), 100);
      try {
        expect(await closedWithin(busy, 5_000)).toBe(true);
      } finally {
        clearInterval(timer);
      }
      expect(c.text()).toContain('200');
      // The third request on a connection is answered, and the connection then closes.
      const counted = await rawTls(srv.url);
      const d = collect(counted);
      counted.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3));
      expect(await closedWithin(counted, 5_000)).toBe(true);
      expect(d.text().match(/HTTP\/1\.1 200/g)).toHaveLength(3);
    } finally {
      await closeGracefully(srv.app, 1_000);
    }
  });

  it('counts an IPv6 /64 as one source', () => {
    expect(sourceOf('2001:db8:1:2:aaaa::1')).toBe(sourceOf('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(sourceOf('2001:db8:1:2::1')).not.toBe(sourceOf('2001:db8:1:3::1'));
    expect(sourceOf('::1')).toBe('0:0:0:0::/64');
    expect(sourceOf('127.0.0.1')).toBe('127.0.0.1');
    expect(sourceOf('::ffff:10.0.0.1')).toBe('::ffff:10.0.0.1');
  });
});

describe('HTTPS server: closeGracefully', () => {
  it('answers requests in flight, refuses new ones with 503 ERR_HTTP_SHUTTING_DOWN, and returns once they are done', async () => {
    const srv = await startServer({ requestTimeoutMs: 120_000, headersTimeoutMs: 60_000 });
    // A kept-alive connection that has made one request.
    const kept = await rawTls(srv.url);
    const kc = collect(kept);
    kept.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await nextResponse(kc))?.status).toBe(200);
    // A request in flight: headers sent, half of its body.
    const inflight = await rawTls(srv.url);
    const ic = collect(inflight);
    inflight.write(
      'POST /echo-length HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n12345',
    );
    await new Promise((r) => setTimeout(r, 100));

    const closed = closeGracefully(srv.app, 60_000);
    expect(isDraining(srv.app)).toBe(true);
    // The kept-alive connection was idle: Node closes it; a new connection is refused.
    expect(await closedWithin(kept, 10_000)).toBe(true);
    await expect(rawTls(srv.url)).rejects.toThrow();
    // The request in flight finishes with its real answer, and its connection closes.
    inflight.write('67890');
    const r = await nextResponse(ic);
    expect(r?.status).toBe(200);
    expect(JSON.parse(r!.body)).toEqual({ length: 10 });
    expect(r?.headers.connection).toBe('close');
    await closed;
  });

  it('a request on a kept-alive connection that completes during the drain gets a 503 problem (health too)', async () => {
    const srv = await startServer({ requestTimeoutMs: 120_000, headersTimeoutMs: 60_000 });
    const s = await rawTls(srv.url);
    const c = collect(s);
    s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await nextResponse(c))?.status).toBe(200);
    // The next request has begun (so the connection is not idle) when the drain starts.
    s.write('GET /healthz HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 100));
    const closed = closeGracefully(srv.app, 60_000);
    s.write('st: x\r\n\r\n');
    const r = await nextResponse(c, 10_000, 1);
    expect(r?.status).toBe(503);
    expect(r?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(r!.body).code).toBe('ERR_HTTP_SHUTTING_DOWN');
    expect(r?.headers.connection).toBe('close');
    expect(await closedWithin(s, 10_000)).toBe(true);
    await closed;
  });

  it('a client that never finishes its request cannot hold the close beyond its bound', async () => {
    const srv = await startServer({
      requestTimeoutMs: 600_000,
      headersTimeoutMs: 600_000,
      tlsHandshakeTimeoutMs: 600_000,
    });
    const slow = await rawTls(srv.url);
    slow.write(
      'POST /echo-length HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n',
    );
    const stop = dribble(slow, 'x'.repeat(1000), 100);
    const noHandshake = await rawTcp(srv.url);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const outcome = await Promise.race([
      closeGracefully(srv.app, 1000).then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still open'), 30_000)),
    ]);
    stop();
    expect(outcome).toBe('closed');
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(await closedWithin(slow, 5000)).toBe(true);
    expect(await closedWithin(noHandshake, 5000)).toBe(true);
  });
});
