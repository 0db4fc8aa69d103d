/**
 * PeerConnection's HTTP/1.1 against a raw TLS peer that writes its answers byte for byte:
 * what goes on the wire, chunked answers, an answer that closes the connection, bytes nobody
 * asked for, answers read until close, and requests made while another is outstanding (sent
 * one at a time, answered in order). The peer controls framing exactly, which no HTTP server
 * library lets a test do.
 */
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toPem } from '../../src/core/bytes.js';
import { isAirlockError } from '../../src/core/errors.js';
import {
  NodeCrypto,
  generateP256Key,
  privateKeyPem,
} from '../../src/adapters/crypto/node-crypto.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signerProfile } from '../../src/protocols/x509/profiles.js';
import { PeerConnection } from '../../src/adapters/http/connection.js';
import { errorCode } from '../support/wire.js';

interface Seen {
  head: string;
  body: string;
}

/** Splits a client's bytes into requests (head and Content-Length body), calling `onRequest` for each as it completes. */
function readRequests(socket: tls.TLSSocket, onRequest: (req: Seen, n: number) => void): void {
  let buf = Buffer.alloc(0);
  let n = 0;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      const body = buf.toString('utf8', end + 4, end + 4 + length);
      buf = buf.subarray(end + 4 + length);
      onRequest({ head, body }, n++);
    }
  });
}

describe('PeerConnection over a raw TLS peer', () => {
  let tlsOpts: { cert: string; key: string; certDer: Uint8Array };
  const servers: tls.Server[] = [];
  const sockets = new Set<net.Socket>();
  beforeAll(() => {
    const key = generateP256Key();
    const at = new Date();
    const cert = issueCertificate(
      new NodeCrypto(),
      signerProfile({
        name: 'raw peer',
        notBefore: new Date(at.getTime() - 60_000),
        notAfter: new Date(at.getTime() + 86_400_000),
        serverAuth: true,
      }),
      key.spki,
      { key },
    );
    tlsOpts = { cert: toPem('CERTIFICATE', cert.der), key: privateKeyPem(key), certDer: cert.der };
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  /** A TLS peer calling `handler` for each connection; also counts the connections it accepted. */
  async function peer(
    handler: (socket: tls.TLSSocket) => void,
  ): Promise<{ url: string; connections: () => number }> {
    let count = 0;
    const server = tls.createServer(
      { cert: tlsOpts.cert, key: tlsOpts.key, minVersion: 'TLSv1.3' },
      (socket) => {
        count++;
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        handler(socket);
      },
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      connections: () => count,
    };
  }

  it('writes the request as specified: request line, host with port, headers, UTF-8 length; no connection header', async () => {
    const seen: Seen[] = [];
    const { url } = await peer((s) =>
      readRequests(s, (req) => {
        seen.push(req);
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      await conn.request('POST', '/.well-known/brski/requestvoucher', {
        body: 'voucher \u20ac',
        contentType: 'application/voucher-jws+json',
        accept: 'application/voucher-jws+json',
      });
      await conn.request('POST', '/.well-known/airlock/wifi');
      await conn.request('GET', '/.well-known/est/cacerts');
      await conn.request('POST', '/x', { body: '{}', headers: { 'Airlock-Evidence': 'a.b.c' } });
    } finally {
      await conn.close();
    }
    const port = new URL(url).port;
    expect(seen.map((r) => r.head)).toEqual([
      `POST /.well-known/brski/requestvoucher HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/voucher-jws+json\r\naccept: application/voucher-jws+json\r\ncontent-length: 11`,
      `POST /.well-known/airlock/wifi HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: 0`,
      `GET /.well-known/est/cacerts HTTP/1.1\r\nhost: 127.0.0.1:${port}`,
      `POST /x HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nairlock-evidence: a.b.c\r\ncontent-length: 2`,
    ]);
    expect(seen[0]!.body).toBe('voucher \u20ac');
  });

  it("peerCertificate is the peer's leaf, the same each time", async () => {
    const { url } = await peer(() => undefined);
    const conn = await PeerConnection.open(url, {});
    try {
      const a = conn.peerCertificate();
      expect(Buffer.from(a).equals(Buffer.from(tlsOpts.certDer))).toBe(true);
      expect(Buffer.from(conn.peerCertificate()).equals(Buffer.from(a))).toBe(true);
    } finally {
      await conn.close();
    }
  });

  it('a chunked answer written in pieces, then a second request on the same connection', async () => {
    const { url, connections } = await peer((s) =>
      readRequests(s, (_req, n) => {
        s.write(
          'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n4;x=y\r\n{"a"',
        );
        setTimeout(() => s.write(`\r\n${n === 0 ? 3 : 4}\r\n:${n}}`), 10);
        setTimeout(() => s.write(`${n === 0 ? '' : ' '}\r\n0\r\nx-checksum: none\r\n\r\n`), 20);
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      expect(await conn.request('GET', '/one')).toMatchObject({
        status: 200,
        contentType: 'application/json',
        body: '{"a":0}',
      });
      expect(await conn.request('GET', '/two')).toMatchObject({
        status: 200,
        contentType: 'application/json',
        body: '{"a":1} ',
      });
      expect(conn.socket.destroyed).toBe(false);
      expect(connections()).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it('after an answer with connection: close, the next request fails ERR_TRANSPORT and nothing reconnects', async () => {
    const { url, connections } = await peer((s) =>
      readRequests(s, () =>
        s.write(
          'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nbad',
        ),
      ),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      expect(await conn.request('POST', '/x', { body: '{' })).toMatchObject({
        status: 400,
        contentType: 'text/plain',
        body: 'bad',
      });
      expect(await errorCode(() => conn.request('GET', '/y'))).toBe('ERR_TRANSPORT');
      expect(await errorCode(() => conn.request('GET', '/z'))).toBe('ERR_TRANSPORT');
      expect(connections()).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it('bytes sent when no request is outstanding close the connection', async () => {
    const { url } = await peer((s) =>
      readRequests(s, () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
        setTimeout(() => s.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged'), 20);
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      const closed = once(conn.socket, 'close');
      expect((await conn.request('GET', '/')).body).toBe('ok');
      await closed;
      expect(await errorCode(() => conn.request('GET', '/'))).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('bytes after an answer, in the same write, are not taken as the next answer', async () => {
    const { url } = await peer((s) =>
      readRequests(s, () =>
        s.write(
          'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged',
        ),
      ),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      expect((await conn.request('GET', '/')).body).toBe('ok');
      expect(await errorCode(() => conn.request('GET', '/'))).toBe('ERR_TRANSPORT');
      expect(conn.socket.destroyed).toBe(true);
    } finally {
      await conn.close();
    }
  });

  it('two requests made at once are sent one after the other and answered in order', async () => {
    const arrivals: string[] = [];
    const { url, connections } = await peer((s) =>
      readRequests(s, (req) => {
        const target = req.head.split(' ')[1]!;
        arrivals.push(`request ${target}`);
        // The answer is held back a while: a client that did not wait would send the second request meanwhile.
        setTimeout(() => {
          arrivals.push(`answer ${target}`);
          s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${target.length}\r\n\r\n${target}`);
        }, 50);
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      const [a, b, c] = await Promise.all([
        conn.request('GET', '/first'),
        conn.request('POST', '/second', { body: 'x' }),
        conn.request('GET', '/third'),
      ]);
      expect([a.body, b.body, c.body]).toEqual(['/first', '/second', '/third']);
      expect(arrivals).toEqual([
        'request /first',
        'answer /first',
        'request /second',
        'answer /second',
        'request /third',
        'answer /third',
      ]);
      expect(connections()).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it('a request queued behind one that fails fails too, typed, and is never sent', async () => {
    let requests = 0;
    const { url } = await peer((s) =>
      readRequests(s, () => {
        requests++;
        s.write(
          'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n',
        );
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      const results = await Promise.allSettled([
        conn.request('GET', '/a'),
        conn.request('GET', '/b'),
      ]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        const e = (r as PromiseRejectedResult).reason as unknown;
        expect(isAirlockError(e, 'ERR_TRANSPORT')).toBe(true);
      }
      expect(
        ((results[0] as PromiseRejectedResult).reason as { details: { fault?: string } }).details
          .fault,
      ).toBe('ambiguous-length');
      expect(conn.socket.destroyed).toBe(true);
      expect(requests).toBe(1);
    } finally {
      await conn.close();
    }
  });

  it('an answer without a length is read until the peer closes, and is the last', async () => {
    const { url } = await peer((s) =>
      readRequests(s, () => {
        s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
        setTimeout(() => s.end('part two'), 20);
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      const res = await conn.request('GET', '/');
      expect(res).toMatchObject({
        status: 200,
        contentType: 'text/plain',
        body: 'part one, part two',
      });
      expect([...res.headers]).toEqual([['content-type', 'text/plain']]);
      expect(await errorCode(() => conn.request('GET', '/'))).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('an answer cut short by the peer closing fails ERR_TRANSPORT', async () => {
    const { url } = await peer((s) =>
      readRequests(s, () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this')),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      expect(await errorCode(() => conn.request('GET', '/'))).toBe('ERR_TRANSPORT');
    } finally {
      await conn.close();
    }
  });

  it('a request with a target or a field that could split it is refused before anything is sent, and the connection stays usable', async () => {
    const seen: string[] = [];
    const { url } = await peer((s) =>
      readRequests(s, (req) => {
        seen.push(req.head.split('\r\n')[0]!);
        s.write('HTTP/1.1 204 No Content\r\n\r\n');
      }),
    );
    const conn = await PeerConnection.open(url, {});
    try {
      expect(
        await errorCode(() => conn.request('GET', '/a HTTP/1.1\r\nx-smuggled: 1\r\n\r\nGET /b')),
      ).toBe('ERR_TRANSPORT');
      // Nor may a caller's field frame or route it, or split it with its value.
      for (const headers of <Array<Record<string, string>>>[
        { 'content-length': '0' },
        { Host: 'elsewhere' },
        { 'x-a': 'b\r\nx-smuggled: 1' },
        { 'x a': 'b' },
      ])
        expect(await errorCode(() => conn.request('POST', '/x', { headers }))).toBe(
          'ERR_TRANSPORT',
        );
      expect((await conn.request('GET', '/ok')).status).toBe(204);
      expect(seen).toEqual(['GET /ok HTTP/1.1']);
    } finally {
      await conn.close();
    }
  });
});
