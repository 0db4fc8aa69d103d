/**
 * Airlock's Enrollee as the DPP Responder over TCP, and a real wpa_supplicant 2.10 Configurator
 * that scanned Airlock's URI and initiates to it (`DPP_AUTH_INIT peer=<id> tcp_addr=127.0.0.1
 * tcp_port=<p> role=configurator configurator=<id> conf=sta-psk ssid=<hex> pass=<hex>`): Airlock
 * authenticates it, asks for its configuration, receives exactly the SSID and passphrase
 * wpa_supplicant was given, and sends its Configuration Result; wpa_supplicant reports
 * DPP-CONF-SENT. wpa_supplicant runs with `-Dnone -i lo` (no radio) on the host's loopback, its
 * control socket and log in a private temporary directory. Needs root and wpa_supplicant/wpa_cli:
 * elsewhere it says `skipped: <reason>`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import {
  listenDppTcpEnrollee,
  type DppResponderExchange,
  type DppTcpResponder,
} from '../../src/adapters/dpp/tcp-responder.js';
import type { DppOwnBootstrap } from '../../src/protocols/dpp/authentication.js';
import {
  encodeBootstrappingKey,
  type DppCurve,
} from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../src/protocols/dpp/crypto.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { onPath } from '../support/tools.js';

const skip =
  process.getuid?.() !== 0
    ? 'wpa_supplicant is run as root here'
    : ['wpa_supplicant', 'wpa_cli']
        .map((t) => (onPath(t) ? undefined : `${t} is not installed`))
        .find(Boolean);
if (skip) console.log(`skipped: ${skip}`);

const crypto = new NodeCrypto();
const hexOf = (s: string) => Buffer.from(s, 'utf8').toString('hex');

function bootstrap(curve: DppCurve): DppOwnBootstrap {
  const pair = crypto.ecGenerate(dppCurveParams(curve).ecCurve);
  const { spkiDer } = encodeBootstrappingKey(curve, pair.publicKey);
  return { curve, privateKey: pair.privateKey, publicKey: pair.publicKey, spkiDer };
}

async function until<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(skip !== undefined)(
  'DPP over TCP: a wpa_supplicant Configurator initiates to Airlock’s listening Enrollee',
  () => {
    let dir: string;
    let log: string;
    let ctrl: string;
    let pidFile: string;
    const listeners: DppTcpResponder[] = [];

    const cli = (...args: string[]) =>
      execFileSync('wpa_cli', ['-p', ctrl, '-i', 'lo', ...args], { encoding: 'utf8' }).trim();
    const logText = () => fs.readFileSync(log, 'utf8');

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dpper-'));
      log = path.join(dir, 'configurator.log');
      ctrl = path.join(dir, 'ctrl');
      pidFile = path.join(dir, 'configurator.pid');
      const conf = path.join(dir, 'configurator.conf');
      fs.writeFileSync(conf, `ctrl_interface=${ctrl}\n`);
      fs.writeFileSync(log, '');
      execFileSync('wpa_supplicant', [
        '-B',
        '-Dnone',
        '-ilo',
        '-c',
        conf,
        '-P',
        pidFile,
        '-f',
        log,
      ]);
      for (let i = 0; i < 50 && !fs.existsSync(path.join(ctrl, 'lo')); i++)
        execFileSync('sleep', ['0.1']);
    });

    afterAll(async () => {
      for (const l of listeners) await l.close();
      try {
        const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGTERM');
      } catch {
        // not started
      }
      await new Promise((r) => setTimeout(r, 200));
      fs.rmSync(dir, { recursive: true, force: true });
    });

    async function listen(curve: DppCurve, peers?: { spkiDer: Uint8Array }[]) {
      const own = bootstrap(curve);
      const exchanges: DppResponderExchange[] = [];
      const listener = await listenDppTcpEnrollee({
        crypto,
        bootstrap: own,
        ...(peers ? { peers, onlyKnownConfigurators: true } : {}),
        name: 'airlock-responder',
        port: 0,
        onExchange: (e) => exchanges.push(e),
      });
      listeners.push(listener);
      return { own, listener, exchanges };
    }

    /** wpa_supplicant scans our URI and initiates as the Configurator; the log from then on. */
    function initiate(
      uri: string,
      port: number,
      ssid: string,
      passphrase: string,
      extra: string[] = [],
    ) {
      const from = logText().length;
      const configurator = cli('DPP_CONFIGURATOR_ADD');
      expect(configurator).toMatch(/^\d+$/);
      const peer = cli('DPP_QR_CODE', uri);
      expect(peer).toMatch(/^\d+$/);
      expect(
        cli(
          'DPP_AUTH_INIT',
          `peer=${peer}`,
          ...extra,
          'tcp_addr=127.0.0.1',
          `tcp_port=${port}`,
          'role=configurator',
          `configurator=${configurator}`,
          // With -Dnone there is no channel list: the exchange needs one frequency named.
          'neg_freq=2412',
          'conf=sta-psk',
          `ssid=${hexOf(ssid)}`,
          `pass=${hexOf(passphrase)}`,
        ),
      ).toBe('OK');
      return () => logText().slice(from);
    }

    it.each(['P-256', 'P-384', 'P-521', 'BP-256'] as const)(
      'on %s: Airlock receives exactly the SSID and passphrase wpa_supplicant was given',
      async (curve) => {
        const { own, listener, exchanges } = await listen(curve);
        const ssid = `wpas-conf-${curve}`;
        const passphrase = `given-${Math.random().toString(36).slice(2, 12)}`;
        const since = initiate(
          formatDppUri({ version: 2, key: own.spkiDer }),
          listener.port,
          ssid,
          passphrase,
        );
        const result = await listener.configured;
        expect(result?.network).toEqual({ ssid, passphrase });
        expect(result?.mutual).toBe(false);
        expect(exchanges[0]).toMatchObject({ authenticated: true, configured: true });
        const events = await until('DPP-CONF-SENT', () =>
          since().includes('DPP-CONF-SENT') ? since() : undefined,
        );
        expect(events).toContain('DPP-AUTH-SUCCESS init=1');
        expect(events).not.toContain('DPP-CONF-FAILED');
      },
    );

    it('mutual on P-256: Airlock scanned the Configurator’s URI', async () => {
      const theirs = cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', 'curve=P-256');
      expect(theirs).toMatch(/^\d+$/);
      const theirUri = parseDppUri(cli('DPP_BOOTSTRAP_GET_URI', theirs));
      const { own, listener, exchanges } = await listen('P-256', [theirUri.key]);
      const since = initiate(
        formatDppUri({ version: 2, key: own.spkiDer }),
        listener.port,
        'wpas-conf-mutual',
        'mutual-passphrase',
        [`own=${theirs}`],
      );
      const result = await listener.configured;
      expect(result?.mutual).toBe(true);
      expect(result?.network).toEqual({
        ssid: 'wpas-conf-mutual',
        passphrase: 'mutual-passphrase',
      });
      expect(exchanges[0]).toMatchObject({ mutual: true, configured: true });
      await until('DPP-CONF-SENT', () => (since().includes('DPP-CONF-SENT') ? true : undefined));
      expect(since()).toContain('DPP-AUTH-DIRECTION mutual=1');
    });

    it('a Configurator Airlock does not know, when it requires one: refused, nothing received', async () => {
      const known = bootstrap('P-256');
      const { own, listener, exchanges } = await listen('P-256', [{ spkiDer: known.spkiDer }]);
      const since = initiate(
        formatDppUri({ version: 2, key: own.spkiDer }),
        listener.port,
        'never-taken',
        'never-taken-passphrase',
      );
      const exchange = await until('the refusal', () => exchanges[0]);
      expect(exchange).toMatchObject({
        authenticated: false,
        configured: false,
        error: 'ERR_DPP_AUTH',
        reason: 'unknown-configurator',
      });
      await listener.close();
      expect(await listener.configured).toBeUndefined();
      expect(since()).not.toContain('DPP-AUTH-SUCCESS');
      expect(since()).not.toContain('DPP-CONF-SENT');
    });

    it('wpa_supplicant initiating as an Enrollee: NOT_COMPATIBLE, as hostap answers', async () => {
      const { own, listener, exchanges } = await listen('P-256');
      const from = logText().length;
      const peer = cli('DPP_QR_CODE', formatDppUri({ version: 2, key: own.spkiDer }));
      expect(
        cli(
          'DPP_AUTH_INIT',
          `peer=${peer}`,
          'tcp_addr=127.0.0.1',
          `tcp_port=${listener.port}`,
          'role=enrollee',
          'neg_freq=2412',
        ),
      ).toBe('OK');
      const exchange = await until('the refusal', () => exchanges[0]);
      expect(exchange).toMatchObject({ error: 'ERR_DPP_AUTH', reason: 'not-compatible' });
      // wpa_supplicant read our Response with Status NOT_COMPATIBLE and R-capabilities Enrollee.
      await until('DPP-NOT-COMPATIBLE', () =>
        logText().slice(from).includes('DPP-NOT-COMPATIBLE r-capab=0x01') ? true : undefined,
      );
      await listener.close();
      expect(await listener.configured).toBeUndefined();
    });
  },
);
