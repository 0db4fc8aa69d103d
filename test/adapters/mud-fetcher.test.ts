/**
 * The MUD fetcher as a hardened client, against a real HTTPS server on loopback: what it asks
 * for, and each way a server or a URL can make it misbehave (an oversized file, a slow server,
 * a redirect loop, an address inside the network, plain HTTP, a certificate it cannot trust),
 * each a typed ERR_MUD_FETCH with its reason.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NodeCrypto,
  generateP256Key,
  privateKeyPem,
} from '../../src/adapters/crypto/node-crypto.js';
import { toPem } from '../../src/core/bytes.js';
import { addressClass, inPrefix } from '../../src/core/ip.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { signerProfile } from '../../src/protocols/x509/profiles.js';
import { MudFetcher } from '../../src/adapters/http/mud-fetcher.js';
import { AirlockError } from '../../src/core/errors.js';

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AirlockError && e.code === 'ERR_MUD_FETCH') return String(e.details.reason);
    throw e;
  }
  throw new Error('expected ERR_MUD_FETCH');
}

describe('the MUD fetcher', () => {
  let base: string;
  let plainBase: string;
  let ca: string;
  const seen: Array<{ url: string; accept: string | undefined }> = [];
  const sockets = new Set<Socket>();
  const servers: http.Server[] = [];
  const routes: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void> = {
    '/mud.json': (_q, r) => r.end('{"ietf-mud:mud":{}}'),
    '/mud.p7s': (_q, r) => r.end(Buffer.from([0x30, 0x00])),
    '/big-declared': (_q, r) => {
      r.setHeader('content-length', String(600 * 1024));
      r.write('x');
    },
    '/big-streamed': (_q, r) => {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      for (let i = 0; i < 10; i++) r.write(chunk);
      r.end();
    },
    '/slow': (_q, r) => r.write('{'),
    '/loop': (_q, r) => r.writeHead(302, { location: '/loop' }).end(),
    '/to-plain': (_q, r) => r.writeHead(301, { location: plainBase + '/mud.json' }).end(),
    '/to-inside': (_q, r) => r.writeHead(307, { location: 'https://10.1.2.3/mud.json' }).end(),
    '/once': (_q, r) => r.writeHead(308, { location: '/mud.json' }).end(),
    '/gone': (_q, r) => r.writeHead(404).end(),
  };
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ url: req.url ?? '', accept: req.headers.accept });
    (routes[req.url ?? ''] ?? routes['/gone']!)(req, res);
  };
  const listen = async (server: http.Server) => {
    servers.push(server);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };

  beforeAll(async () => {
    const key = generateP256Key();
    const now = Date.now();
    const cert = issueCertificate(
      new NodeCrypto(),
      signerProfile({
        name: 'mud.test',
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + 86_400_000),
        serverAuth: true,
        dnsNames: ['localhost', '127.0.0.1'],
      }),
      key.spki,
      { key },
    );
    ca = toPem('CERTIFICATE', cert.der);
    base = `https://127.0.0.1:${await listen(https.createServer({ cert: ca, key: privateKeyPem(key) }, handler))}`;
    plainBase = `http://127.0.0.1:${await listen(http.createServer(handler))}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  const lab = () => new MudFetcher({ ca, allowedPrefixes: ['127.0.0.1/32'], timeoutMs: 2000 });

  it('fetches the file asking for application/mud+json, and its signature, following one redirect', async () => {
    const f = lab();
    const got = await f.fetchMud(`${base}/once`);
    expect(new TextDecoder().decode(got.bytes)).toBe('{"ietf-mud:mud":{}}');
    expect(got.url).toBe(`${base}/mud.json`);
    expect(seen.at(-1)).toEqual({ url: '/mud.json', accept: 'application/mud+json' });
    expect((await f.fetchSignature(`${base}/mud.p7s`)).bytes).toEqual(new Uint8Array([0x30, 0]));
    expect(seen.at(-1)!.accept).toBe('application/pkcs7-signature');
  });

  it('refuses an oversized file, declared or streamed, a slow server, a redirect loop and a missing file', async () => {
    const f = lab();
    expect(await reasonOf(f.fetchMud(`${base}/big-declared`))).toBe('too-large');
    expect(await reasonOf(f.fetchMud(`${base}/big-streamed`))).toBe('too-large');
    expect(
      await reasonOf(
        new MudFetcher({ ca, allowedPrefixes: ['127.0.0.1/32'], timeoutMs: 300 }).fetchMud(
          `${base}/slow`,
        ),
      ),
    ).toBe('timeout');
    expect(await reasonOf(f.fetchMud(`${base}/loop`))).toBe('redirects');
    expect(await reasonOf(f.fetchMud(`${base}/gone`))).toBe('status');
  });

  it('does not reach inside the network: loopback by address or by name, a redirect inside, plain HTTP', async () => {
    const strict = new MudFetcher({ ca, timeoutMs: 2000 });
    expect(await reasonOf(strict.fetchMud(`${base}/mud.json`))).toBe('forbidden-address');
    const port = new URL(base).port;
    expect(await reasonOf(strict.fetchMud(`https://localhost:${port}/mud.json`))).toBe(
      'forbidden-address',
    );
    expect(await reasonOf(strict.fetchMud('https://[::1]/mud.json'))).toBe('forbidden-address');
    expect(await reasonOf(strict.fetchMud('https://169.254.169.254/latest'))).toBe(
      'forbidden-address',
    );
    expect(await reasonOf(lab().fetchMud(`${base}/to-inside`))).toBe('forbidden-address');
    expect(await reasonOf(lab().fetchMud(`${base}/to-plain`))).toBe('scheme');
    expect(await reasonOf(lab().fetchMud(`${plainBase}/mud.json`))).toBe('scheme');
    expect(await reasonOf(lab().fetchMud('file:///etc/passwd'))).toBe('scheme');
    // Where the policy says so (tests, labs), plain HTTP is fetched.
    const plain = new MudFetcher({ allowHttp: true, allowedPrefixes: ['127.0.0.1/32'] });
    expect((await plain.fetchMud(`${plainBase}/mud.json`)).bytes.length).toBeGreaterThan(0);
  });

  it('refuses a server whose certificate it cannot trust', async () => {
    const untrusting = new MudFetcher({ allowedPrefixes: ['127.0.0.1/32'], timeoutMs: 2000 });
    expect(await reasonOf(untrusting.fetchMud(`${base}/mud.json`))).toBe('transport');
  });

  it('classifies addresses: public, or one of the kinds it refuses', () => {
    expect(addressClass('93.184.216.34')).toBe('public');
    expect(addressClass('2606:4700::1111')).toBe('public');
    for (const [a, k] of [
      ['127.0.0.1', 'loopback'],
      ['10.9.8.7', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['224.0.0.251', 'multicast'],
      ['0.0.0.0', 'unspecified'],
      ['::1', 'loopback'],
      ['fd12::1', 'private'],
      ['fe80::1', 'link-local'],
      ['::ffff:10.0.0.1', 'reserved'],
    ] as const)
      expect(addressClass(a), a).toBe(k);
    expect(inPrefix('172.16.0.1', '172.16.0.0/12')).toBe(true);
    expect(inPrefix('172.32.0.1', '172.16.0.0/12')).toBe(false);
    expect(new MudFetcher().allows('::ffff:127.0.0.1')).toBe(false);
  });
});
