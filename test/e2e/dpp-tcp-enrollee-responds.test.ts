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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  listenDppTcpEnrollee,
  type DppResponderExchange,
  type DppTcpResponder,
} from '../../src/adapters/dpp/tcp-responder.js';
import type { DppCurve } from '../../src/protocols/dpp/bootstrapping-key.js';
import { formatDppUri, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { bootstrap, crypto } from '../support/dpp.js';
import {
  initiateAsConfigurator,
  startWpaSupplicantInTemp,
  until,
  wpaSupplicantSkipReason,
  type WpaSupplicant,
} from '../support/wpa-supplicant-dpp.js';

const skip = wpaSupplicantSkipReason();
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip !== undefined)(
  'DPP over TCP: a wpa_supplicant Configurator initiates to Airlock’s listening Enrollee',
  () => {
    let wpa: WpaSupplicant;
    const listeners: DppTcpResponder[] = [];

    beforeAll(async () => {
      wpa = await startWpaSupplicantInTemp('dpper-');
    });

    afterAll(async () => {
      for (const l of listeners) await l.close();
      await wpa?.stop();
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
      const from = wpa.log().length;
      const configurator = wpa.cli('DPP_CONFIGURATOR_ADD');
      expect(configurator).toMatch(/^\d+$/);
      const peer = wpa.cli('DPP_QR_CODE', uri);
      expect(peer).toMatch(/^\d+$/);
      expect(initiateAsConfigurator(wpa, peer, port, configurator, ssid, passphrase, extra)).toBe(
        'OK',
      );
      return () => wpa.log().slice(from);
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
      const theirs = wpa.cli('DPP_BOOTSTRAP_GEN', 'type=qrcode', 'curve=P-256');
      expect(theirs).toMatch(/^\d+$/);
      const theirUri = parseDppUri(wpa.cli('DPP_BOOTSTRAP_GET_URI', theirs));
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
      const from = wpa.log().length;
      const peer = wpa.cli('DPP_QR_CODE', formatDppUri({ version: 2, key: own.spkiDer }));
      expect(
        wpa.cli(
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
        wpa.log().slice(from).includes('DPP-NOT-COMPATIBLE r-capab=0x01') ? true : undefined,
      );
      await listener.close();
      expect(await listener.configured).toBeUndefined();
    });
  },
);
