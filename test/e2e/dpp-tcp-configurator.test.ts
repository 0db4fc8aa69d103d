/**
 * Airlock as a DPP Configurator over TCP (the Controller, Responder), and a real
 * wpa_supplicant 2.10 enrollee that scanned Airlock's URI and initiates to it: it
 * authenticates Airlock, receives the sta-psk configuration Airlock chose, and reports its
 * Configuration Result. wpa_supplicant runs with `-Dnone -i lo` (no radio) on the host's
 * loopback, its control socket and log in a private temporary directory.
 * Needs root and wpa_supplicant/wpa_cli: elsewhere it says `skipped: <reason>`.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startDppTcpController,
  type DppExchangeResult,
  type DppTcpController,
} from '../../src/adapters/dpp/tcp-controller.js';
import type { DppOwnBootstrap, DppPeerBootstrap } from '../../src/protocols/dpp/authentication.js';
import type { DppCurve } from '../../src/protocols/dpp/bootstrapping-key.js';
import { frameDppTcpMessage } from '../../src/protocols/dpp/frames.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { bootstrap, crypto } from '../support/dpp.js';
import {
  initiateAsEnrollee,
  startWpaSupplicantInTemp,
  until,
  wpaSupplicantSkipReason,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const SSID = 'airlock-dpp-e2e';
const PASSPHRASE = 'a-test-passphrase-only';

function uriOf(b: DppOwnBootstrap): string {
  return formatDppUri({ version: 2, key: b.spkiDer });
}

describe.skipIf(skip !== undefined)('DPP over TCP: Airlock configures wpa_supplicant', () => {
  let wpa: WpaSupplicant;
  const controllers: DppTcpController[] = [];
  const results: DppExchangeResult[] = [];

  async function start(curve: DppCurve, peers?: DppPeerBootstrap[], give = true) {
    const own = bootstrap(curve);
    const controller = await startDppTcpController({
      crypto,
      bootstrap: own,
      ...(peers ? { peers } : {}),
      configuration: () => (give ? { ssid: SSID, passphrase: PASSPHRASE } : undefined),
      onResult: (r) => results.push(r),
      host: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 5_000,
    });
    controllers.push(controller);
    return { own, controller };
  }

  /** DPP_QR_CODE then DPP_AUTH_INIT as an enrollee; the log from then on, and the result. */
  async function enroll(uri: string, port: number, own?: string) {
    const from = wpa.log().length;
    const seen = results.length;
    const peer = wpa.cli('DPP_QR_CODE', uri);
    expect(peer).toMatch(/^\d+$/);
    expect(initiateAsEnrollee(wpa, peer, port, own)).toBe('OK');
    const result = await until('the controller result', () => results[seen]);
    return { result, since: () => wpa.log().slice(from) };
  }

  beforeAll(async () => {
    wpa = await startWpaSupplicantInTemp('dppa-');
  });

  afterAll(async () => {
    for (const c of controllers) await c.close();
    await wpa?.stop();
  });

  let p256: Awaited<ReturnType<typeof start>>;

  it.each(['P-256', 'P-384'] as const)(
    'on %s, the enrollee authenticates Airlock and receives the SSID and passphrase it chose',
    async (curve) => {
      const { own, controller } = await start(curve);
      if (curve === 'P-256') p256 = { own, controller };
      const { result, since } = await enroll(uriOf(own), controller.port);
      expect(result).toMatchObject({
        authenticated: true,
        configurationDelivered: true,
        resultStatus: 0,
        status: 'ok',
        mutual: false,
        enrollee: { netRole: 'sta' },
      });
      const events = await until('DPP-CONF-RECEIVED', () =>
        since().includes('DPP-CONF-RECEIVED') ? since() : undefined,
      );
      expect(events).toContain('DPP-AUTH-SUCCESS');
      expect(events).toMatch(/DPP-CONFOBJ-AKM psk/);
      expect(/DPP-CONFOBJ-SSID (.*)/.exec(events)?.[1]?.trim()).toBe(SSID);
      const pass = /DPP-CONFOBJ-PASS ([0-9a-f]+)/.exec(events)?.[1];
      expect(pass && Buffer.from(pass, 'hex').toString('utf8') === PASSPHRASE).toBe(true);
    },
  );

  it('mutual: Airlock scanned the enrollee’s URI, and the enrollee proves its key', async () => {
    const id = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', 'curve=P-256');
    expect(id).toMatch(/^\d+$/);
    const enrolleeUri = wpa.cli('DPP_BOOTSTRAP_GET_URI', id);
    const { spkiDer } = parseDppUri(enrolleeUri).key;
    const { own, controller } = await start('P-256', [{ spkiDer }]);
    const { result, since } = await enroll(uriOf(own), controller.port, id);
    expect(result).toMatchObject({ authenticated: true, mutual: true, status: 'ok' });
    expect(result.enrolleeBootstrapKeyHash).toBe(
      Buffer.from(crypto.sha256(spkiDer)).toString('hex'),
    );
    await until('DPP-CONF-RECEIVED', () =>
      since().includes('DPP-CONF-RECEIVED') ? true : undefined,
    );
    expect(since()).toContain('DPP-AUTH-SUCCESS init=1');
  });

  it('nothing to give: Configure Failure sent, and the exchange ends without waiting for a Result', async () => {
    const { own, controller } = await start('P-256', undefined, false);
    const began = Date.now();
    const { result } = await enroll(uriOf(own), controller.port);
    expect(result).toMatchObject({
      authenticated: true,
      configurationDelivered: false,
      status: 'failed',
      error: 'ERR_DPP_AUTH',
      reason: 'configure-failure',
    });
    expect(result.resultStatus).toBeUndefined();
    expect(Date.now() - began).toBeLessThan(5_000);
  });

  it('an enrollee that scanned another key gets nothing; the connection is closed', async () => {
    const other = bootstrap('P-256');
    const { result, since } = await enroll(uriOf(other), p256.controller.port);
    expect(result).toMatchObject({
      authenticated: false,
      configurationDelivered: false,
      status: 'failed',
      error: 'ERR_DPP_AUTH',
      reason: 'not-for-us',
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(since()).not.toContain('DPP-CONF-RECEIVED');
    expect(since()).not.toContain('DPP-AUTH-SUCCESS');
  });

  async function raw(port: number, bytes: Uint8Array): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.on('connect', () => socket.write(bytes));
      socket.on('data', () => reject(new Error('the controller answered')));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
  }

  it('a tampered or truncated frame gets a clean close, and the controller keeps serving', async () => {
    const port = p256.controller.port;
    // An Authentication Request whose OUI is wrong.
    const seen = results.length;
    await raw(port, frameDppTcpMessage(Uint8Array.of(0x09, 0x50, 0x6f, 0x9b, 0x1a, 0x01, 0x00)));
    // A length prefix of 40 octets followed by 7, then the end of the stream.
    const cut = new Uint8Array(11);
    new DataView(cut.buffer).setUint32(0, 40);
    cut.set([0x09, 0x50, 0x6f, 0x9a, 0x1a, 0x01, 0x00], 4);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      socket.on('connect', () => socket.end(cut));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    // A length of 0.
    await raw(port, Uint8Array.of(0, 0, 0, 0));
    await until('three results', () => (results.length >= seen + 3 ? true : undefined));
    for (const r of results.slice(seen, seen + 3))
      expect(r).toMatchObject({ status: 'failed', error: 'ERR_DPP_FRAME', authenticated: false });

    const { result } = await enroll(uriOf(p256.own), port);
    expect(result.status).toBe('ok');
  });
});

describe('DPP over TCP: the controller’s limits', () => {
  const results: DppExchangeResult[] = [];
  let controller: DppTcpController;
  let own: DppOwnBootstrap;

  beforeAll(async () => {
    own = bootstrap('P-256');
    controller = await startDppTcpController({
      crypto,
      bootstrap: own,
      configuration: () => ({ ssid: SSID, passphrase: PASSPHRASE }),
      onResult: (r) => results.push(r),
      host: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 10_000,
      firstMessageTimeoutMs: 300,
      maxConnectionsPerAddress: 2,
    });
  });
  afterAll(() => controller.close());

  function open(): { socket: net.Socket; closed: Promise<number> } {
    const socket = net.connect(controller.port, '127.0.0.1');
    const began = Date.now();
    const closed = new Promise<number>((resolve) => {
      socket.on('close', () => resolve(Date.now() - began));
      socket.on('error', () => undefined);
    });
    return { socket, closed };
  }

  it('a connection that sends nothing is closed after the first-message deadline: ERR_TRANSPORT timeout', async () => {
    const seen = results.length;
    const { closed } = open();
    const after = await closed;
    expect(after).toBeLessThan(5_000);
    await until('the result', () => results[seen]);
    expect(results[seen]).toMatchObject({
      status: 'failed',
      error: 'ERR_TRANSPORT',
      reason: 'timeout',
      authenticated: false,
    });
  });

  it('a clean close with nothing sent is ERR_TRANSPORT closed; one cut short is ERR_DPP_FRAME', async () => {
    const seen = results.length;
    const a = open();
    a.socket.on('connect', () => a.socket.end());
    await a.closed;
    const b = open();
    b.socket.on('connect', () => b.socket.end(Uint8Array.of(0, 0, 0, 40, 0x09)));
    await b.closed;
    await until('two results', () => (results.length >= seen + 2 ? true : undefined));
    expect(results[seen]).toMatchObject({ error: 'ERR_TRANSPORT', reason: 'closed' });
    expect(results[seen + 1]).toMatchObject({ error: 'ERR_DPP_FRAME' });
  });

  it('at most maxConnectionsPerAddress connections from one address: the next is closed at once', async () => {
    const first = open();
    const second = open();
    await Promise.all([first, second].map((c) => new Promise((r) => c.socket.once('connect', r))));
    const third = open();
    const after = await third.closed;
    expect(after).toBeLessThan(250); // well before the first-message deadline
    await Promise.all([first.closed, second.closed]);
  });
});
