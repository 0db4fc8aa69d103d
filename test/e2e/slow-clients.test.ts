/**
 * Slow clients against the running registrar: connections that never handshake, send their
 * headers or body a byte at a time, or sit idle, from addresses other than the devices'. The
 * devices still onboard, and every slow connection is closed after its limit (asserted only
 * as "closed within a generous bound"). Over the per-address cap, further connections are
 * refused at once. And a slow client cannot hold the role's shutdown open.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as net from 'node:net';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { track } from '../support/temp-dirs.js';
import {
  closedWithin,
  collect,
  dribble,
  nextResponse,
  rawTcp,
  rawTls,
} from '../support/raw-http.js';

const limits = {
  tlsHandshakeTimeoutMs: 1500,
  headersTimeoutMs: 1500,
  requestTimeoutMs: 3000,
  keepAliveTimeoutMs: 3000,
  maxConnectionsPerAddress: 6,
  maxConnections: 64,
};
/** Generous: each limit is at most 3 s, and Node checks for expired requests every ~0.4 s. */
const BOUND_MS = 20_000;
const ATTACKER = '127.0.0.2';

describe('slow clients against the registrar', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ network: limits, manufacturer: limits });
  });
  afterAll(async () => sys?.close());

  it('slow headers, slow body, idle and no-handshake connections are closed after their limits while devices onboard', async () => {
    const url = sys.registrarUrl;
    const noHandshake = await rawTcp(url, { localAddress: ATTACKER });
    const slowHeaders = await rawTls(url, { localAddress: ATTACKER });
    const headersSeen = collect(slowHeaders);
    const stopHeaders = dribble(
      slowHeaders,
      `GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(500)}\r\n\r\n`,
      200,
    );
    const slowBody = await rawTls(url, { localAddress: ATTACKER });
    const bodySeen = collect(slowBody);
    slowBody.write(
      'POST /.well-known/brski/requestvoucher HTTP/1.1\r\nHost: x\r\nContent-Type: application/voucher-jws+json\r\nContent-Length: 5000\r\n\r\n',
    );
    const stopBody = dribble(slowBody, 'x'.repeat(5000), 200);
    const idle = await rawTls(url, { localAddress: ATTACKER });
    const idleSeen = collect(idle);
    idle.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await nextResponse(idleSeen))?.status).toBe(200);
    const silent = await rawTls(url, { localAddress: ATTACKER }); // handshake done, never a byte

    // Meanwhile, devices onboard.
    const devices = await Promise.all([sys.newDevice(), sys.newDevice(), sys.newDevice()]);
    const reports = await Promise.all(devices.map((d) => d.agent.onboard(url)));
    for (const r of reports) expect(r.ldevidSerial).toMatch(/^[0-9a-f]+$/);

    const closed = await Promise.all(
      [noHandshake, slowHeaders, slowBody, idle, silent].map((s) => closedWithin(s, BOUND_MS)),
    );
    stopHeaders();
    stopBody();
    expect(closed).toEqual([true, true, true, true, true]);
    // The slow requests were told why, as problem bodies.
    for (const seen of [headersSeen, bodySeen]) {
      const r = await nextResponse(seen, 1000);
      expect(r?.status).toBe(408);
      expect(r?.headers['content-type']).toBe('application/problem+json');
      expect(JSON.parse(r!.body).code).toBe('ERR_HTTP_TIMEOUT');
    }
    // Nothing was issued to the slow voucher request: only the three devices are in the inventory.
    const rows = await sys.network.db.selectFrom('net_devices').select('serial').execute();
    expect(rows.map((r) => r.serial).sort()).toEqual(devices.map((d) => d.serial).sort());
  });

  it('over the per-address cap, further connections are closed at once; other addresses still onboard', async () => {
    const url = sys.registrarUrl;
    const held: net.Socket[] = [];
    for (let i = 0; i < limits.maxConnectionsPerAddress; i++)
      held.push(await rawTcp(url, { localAddress: ATTACKER }));
    await expect(rawTls(url, { localAddress: ATTACKER })).rejects.toThrow();
    const d = await sys.newDevice();
    expect((await d.agent.onboard(url)).ldevidSerial).toMatch(/^[0-9a-f]+$/);
    // The held connections never handshake: closed after the handshake limit, freeing the address.
    expect(await Promise.all(held.map((s) => closedWithin(s, BOUND_MS)))).toEqual(
      held.map(() => true),
    );
    const again = await rawTls(url, { localAddress: ATTACKER });
    again.destroy();
  });
});

describe('shutdown with a slow client', () => {
  it('the role closes within its drain bound although a client holds a request open', async () => {
    const sys = await startTestSystem({
      network: {
        ...limits,
        requestTimeoutMs: 600_000,
        headersTimeoutMs: 600_000,
        drainTimeoutMs: 1000,
      },
    });
    const slow = await rawTls(sys.registrarUrl);
    slow.write(
      'POST /.well-known/brski/requestvoucher HTTP/1.1\r\nHost: x\r\nContent-Type: application/voucher-jws+json\r\nContent-Length: 5000\r\n\r\n',
    );
    const stop = dribble(slow, 'x'.repeat(5000), 100);
    await new Promise((r) => setTimeout(r, 200));
    const outcome = await Promise.race([
      sys.network.close().then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still open'), BOUND_MS)),
    ]);
    stop();
    expect(outcome).toBe('closed');
    expect(await closedWithin(slow, 5000)).toBe(true);
    await sys.manufacturer.close();
  });
});

describe('airlock up and SIGTERM', () => {
  it('drains and exits 0 within its drain bound although a client holds a request open; its log has a line per request', async () => {
    const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
    // Tracked: removed after the file (test/setup.ts), keys and all.
    const dataDir = track(fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-sigterm-')));
    const child = spawn(
      process.execPath,
      [
        bin,
        'up',
        '--data-dir',
        dataDir,
        '--network-port',
        '0',
        '--manufacturer-port',
        '0',
        '--verifier-port',
        '0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    try {
      const deadline = Date.now() + 60_000;
      while (!/Serving/.test(out) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      const registrar = /network\s+(https:\/\/\S+)/.exec(out)?.[1];
      expect(registrar, out).toBeDefined();
      const health = await rawTls(registrar!);
      const seen = collect(health);
      health.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect((await nextResponse(seen))?.status).toBe(200);
      // Holds a request open: headers sent, the body a byte at a time.
      const slow = await rawTls(registrar!);
      slow.write(
        'POST /.well-known/brski/requestvoucher HTTP/1.1\r\nHost: x\r\nContent-Type: application/voucher-jws+json\r\nContent-Length: 5000\r\n\r\n',
      );
      const stop = dribble(slow, 'x'.repeat(5000), 100);
      child.kill('SIGTERM');
      // Default drain bound: 10 s per role; generous here.
      const code = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r('still running'), 45_000)),
      ]);
      stop();
      expect(code, out).toBe(0);
      expect(await closedWithin(slow, 5000)).toBe(true);
      const lines = fs
        .readFileSync(path.join(dataDir, 'airlock.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.msg === 'request' && l.path === '/healthz')).toMatchObject({
        method: 'GET',
        status: 200,
      });
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
