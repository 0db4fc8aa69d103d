/**
 * Airlock as a DPP Enrollee over TCP (the Initiator), configured by a real wpa_supplicant 2.10
 * Configurator/Controller: Airlock scanned the Controller's URI, connects, authenticates it,
 * and receives the sta-psk configuration wpa_supplicant was given; wpa_supplicant reports
 * DPP-CONF-SENT. wpa_supplicant runs with `-Dnone -i lo` (no radio) on the host's loopback,
 * its control socket and log in a private temporary directory. Needs root and
 * wpa_supplicant/wpa_cli: elsewhere those tests say `skipped: <reason>`.
 *
 * Then Airlock's enrollee against Airlock's own controller, in this process: it is configured;
 * with one octet of the Authentication Response's Wrapped Data flipped in transit, it refuses.
 */
import * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDppTcpController } from '../../src/adapters/dpp/tcp-controller.js';
import { runDppTcpEnrollee } from '../../src/adapters/dpp/tcp-enrollee.js';
import type { DppCurve } from '../../src/protocols/dpp/bootstrapping-key.js';
import { DppTcpDecoder, frameDppTcpMessage } from '../../src/protocols/dpp/frames.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { bootstrap, crypto, failure, freePort } from '../support/dpp.js';
import {
  startWpaController,
  startWpaSupplicantInTemp,
  until,
  wpaSupplicantSkipReason,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const SSID = 'airlock-enrollee-e2e';
const PASSPHRASE = 'a-test-passphrase-for-dpp';

describe.skipIf(skip !== undefined)('DPP over TCP: wpa_supplicant configures Airlock', () => {
  let wpa: WpaSupplicant;
  let port: number;

  /** A bootstrapping key of the wpa_supplicant Controller, on `curve`: its URI. */
  function controllerUri(curve: DppCurve): string {
    const id = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', `curve=${curve}`);
    expect(id).toMatch(/^\d+$/);
    return wpa.cli('DPP_BOOTSTRAP_GET_URI', id);
  }

  beforeAll(async () => {
    wpa = await startWpaSupplicantInTemp('dppe-');
    ({ port } = await startWpaController(wpa, SSID, PASSPHRASE));
  });

  afterAll(async () => {
    try {
      wpa.cli('DPP_CONTROLLER_STOP');
    } catch {
      // not started
    }
    await wpa?.stop();
  });

  it.each(['P-256', 'P-384'] as const)(
    'on %s, Airlock authenticates the Controller and receives the SSID and passphrase it was given',
    async (curve) => {
      const uri = controllerUri(curve);
      const from = wpa.log().length;
      const result = await runDppTcpEnrollee({
        crypto,
        peer: parseDppUri(uri).key,
        name: 'airlock-e2e',
        host: '127.0.0.1',
        port,
      });
      expect(result.mutual).toBe(false);
      expect(result.network).toEqual({ ssid: SSID, passphrase: PASSPHRASE });
      // wpa_supplicant 2.10 prints DPP-CONF-SENT once it has read our Configuration Result,
      // status OK (DPP-CONF-FAILED otherwise).
      const events = await until('DPP-CONF-SENT', () =>
        wpa.log().slice(from).includes('DPP-CONF-SENT') ? wpa.log().slice(from) : undefined,
      );
      expect(events).toContain('DPP-AUTH-SUCCESS');
      expect(events).not.toContain('DPP-CONF-FAILED');
    },
  );

  it('mutual on P-256: the Controller scanned Airlock’s URI', async () => {
    const uri = controllerUri('P-256');
    const own = bootstrap('P-256');
    expect(wpa.cli('DPP_QR_CODE', formatDppUri({ version: 2, key: own.spkiDer }))).toMatch(/^\d+$/);
    const from = wpa.log().length;
    const result = await runDppTcpEnrollee({
      crypto,
      peer: parseDppUri(uri).key,
      own,
      name: 'airlock-e2e',
      host: '127.0.0.1',
      port,
    });
    expect(result.mutual).toBe(true);
    expect(result.network).toEqual({ ssid: SSID, passphrase: PASSPHRASE });
    await until('DPP-CONF-SENT', () =>
      wpa.log().slice(from).includes('DPP-CONF-SENT') ? true : undefined,
    );
  });

  it('a URI of another key: refused, typed, nothing received', async () => {
    const other = bootstrap('P-256');
    const from = wpa.log().length;
    const outcome = await failure(
      runDppTcpEnrollee({
        crypto,
        peer: { curve: 'P-256', spkiDer: other.spkiDer },
        name: 'airlock-e2e',
        host: '127.0.0.1',
        port,
        idleTimeoutMs: 2_000,
      }),
    );
    // wpa_supplicant ignores a Request for a key it does not have and closes the connection.
    expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'closed' });
    expect(wpa.log().slice(from)).not.toContain('DPP-CONF-SENT');
  });
});

describe('DPP over TCP: Airlock’s enrollee and Airlock’s controller', () => {
  const own = bootstrap('P-256');
  const peer = { curve: 'P-256' as const, spkiDer: own.spkiDer };
  const servers: { close(): Promise<void> }[] = [];

  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  async function controller() {
    const results: unknown[] = [];
    const c = await startDppTcpController({
      crypto,
      bootstrap: own,
      configuration: () => ({ ssid: SSID, passphrase: PASSPHRASE }),
      onResult: (r) => results.push(r),
      host: '127.0.0.1',
      port: 0,
    });
    servers.push(c);
    return { port: c.port, results };
  }

  it('is configured, and the controller hears its Result, status OK', async () => {
    const { port, results } = await controller();
    const result = await runDppTcpEnrollee({
      crypto,
      peer,
      name: 'in-process',
      host: '127.0.0.1',
      port,
    });
    expect(result.network).toEqual({ ssid: SSID, passphrase: PASSPHRASE });
    const heard = await until('the controller result', () => results[0]);
    expect(heard).toMatchObject({ status: 'ok', resultStatus: 0, authenticated: true });
  });

  it('a flipped octet in the Authentication Response’s Wrapped Data: ERR_DPP_AUTH', async () => {
    const { port, results } = await controller();
    // A relay that flips the last octet of the first message from the controller: the last
    // octet of the Response's Wrapped Data (the last attribute).
    const sockets = new Set<net.Socket>();
    const relay = net.createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1');
      sockets.add(client).add(upstream);
      const decoder = new DppTcpDecoder(65535);
      let first = true;
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        for (const frame of decoder.push(new Uint8Array(d))) {
          const copy = frame.slice();
          if (first) copy[copy.length - 1]! ^= 0x01;
          first = false;
          client.write(frameDppTcpMessage(copy));
        }
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    servers.push({
      close: () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          relay.close(() => r());
        }),
    });
    const outcome = await failure(
      runDppTcpEnrollee({
        crypto,
        peer,
        name: 'in-process',
        host: '127.0.0.1',
        port: (relay.address() as net.AddressInfo).port,
      }),
    );
    expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'wrapped-data' });
    const heard = await until('the controller result', () => results[0]);
    expect(heard).toMatchObject({ status: 'failed', authenticated: false });
  });

  it('a controller that never answers: ERR_TRANSPORT timeout, and the socket is closed', async () => {
    let closed = false;
    const silent = net.createServer((s) =>
      s
        .resume()
        .on('close', () => (closed = true))
        .on('error', () => {}),
    );
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    servers.push({ close: () => new Promise<void>((r) => silent.close(() => r())) });
    const outcome = await failure(
      runDppTcpEnrollee({
        crypto,
        peer,
        name: 'x',
        host: '127.0.0.1',
        port: (silent.address() as net.AddressInfo).port,
        idleTimeoutMs: 300,
      }),
    );
    expect(outcome).toEqual({ code: 'ERR_TRANSPORT', reason: 'timeout' });
    await until('the close', () => (closed ? true : undefined), 2_000);
  });

  it('nothing listening: ERR_TRANSPORT', async () => {
    const outcome = await failure(
      runDppTcpEnrollee({
        crypto,
        peer,
        name: 'x',
        host: '127.0.0.1',
        port: await freePort(),
      }),
    );
    expect(outcome).toEqual({ code: 'ERR_TRANSPORT', reason: 'connection' });
  });
});
