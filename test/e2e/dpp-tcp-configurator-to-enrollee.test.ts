/**
 * The other direction of DPP initiation, Airlock against Airlock in this process (no root):
 * Airlock's Configurator initiates (runDppTcpConfigurator) to Airlock's listening Enrollee
 * (listenDppTcpEnrollee), on four curves, responder-only and mutual. Then the attacks: a
 * Configurator with the wrong bootstrapping key, one octet of Wrapped Data flipped in transit in
 * each message that carries it, frames out of order, and roles that clash. Each is refused with a
 * typed error, the socket is closed, and nothing is configured.
 */
import * as net from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startDppTcpController } from '../../src/adapters/dpp/tcp-controller.js';
import { runDppTcpEnrollee } from '../../src/adapters/dpp/tcp-enrollee.js';
import { runDppTcpConfigurator } from '../../src/adapters/dpp/tcp-initiator.js';
import {
  listenDppTcpEnrollee,
  type DppResponderExchange,
  type DppTcpResponderOptions,
} from '../../src/adapters/dpp/tcp-responder.js';
import { DppAttributeId } from '../../src/protocols/dpp/attributes.js';
import type { DppOwnBootstrap, DppSession } from '../../src/protocols/dpp/authentication.js';
import { DppStatus } from '../../src/protocols/dpp/common.js';
import type { DppCurve } from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../src/protocols/dpp/crypto.js';
import { buildConfigurationRequest } from '../../src/protocols/dpp/enrollment.js';
import {
  DppFrameType,
  DppTcpDecoder,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  frameDppTcpMessage,
  type DppMessage,
} from '../../src/protocols/dpp/frames.js';
import { initiateAuth } from '../../src/protocols/dpp/initiation.js';
import { bootstrap, crypto, failure } from '../support/dpp.js';
import { until as poll } from '../support/wpa-supplicant-dpp.js';

const SSID = 'airlock-both-ways';
const PASSPHRASE = 'a-passphrase-for-both-ways';

/** Everything is in this process: polled every 20 ms, 10 s at most. */
const until = <T>(what: string, f: () => T | undefined, ms = 10_000): Promise<T> =>
  poll(what, f, ms, 20);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});
afterAll(async () => {
  for (const c of closers.splice(0)) await c();
});

/** An Airlock Enrollee listening on a free port, its exchanges recorded. */
async function enrollee(curve: DppCurve, more: Partial<DppTcpResponderOptions> = {}) {
  const own = bootstrap(curve);
  const exchanges: DppResponderExchange[] = [];
  const listener = await listenDppTcpEnrollee({
    crypto,
    bootstrap: own,
    name: 'in-process-enrollee',
    port: 0,
    onExchange: (e) => exchanges.push(e),
    ...more,
  });
  closers.push(() => listener.close());
  return { own, listener, exchanges };
}

/** The Configurator's options to reach `listener` with `own`'s URI key; the callback is counted. */
function configurator(key: DppOwnBootstrap, port: number, network?: DppOwnBootstrap) {
  const asked: string[] = [];
  return {
    asked,
    options: {
      crypto,
      enrollee: {
        key: { curve: key.curve, spkiDer: key.spkiDer },
        host: { address: '127.0.0.1', port },
      },
      ...(network ? { own: network } : {}),
      configuration: (request: { name: string }) => {
        asked.push(request.name);
        return { ssid: SSID, passphrase: PASSPHRASE };
      },
      idleTimeoutMs: 3_000,
    },
  };
}

/** Whether a socket the peer holds was closed: a raw client sees 'close'. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const decoder = new DppTcpDecoder(65535);
  const received: DppMessage[] = [];
  let closed = false;
  socket.on('data', (d) => {
    for (const f of decoder.push(new Uint8Array(d))) received.push(decodeDppTcpMessage(f));
  });
  socket.on('close', () => (closed = true)).on('error', () => undefined);
  closers.push(async () => void socket.destroy());
  return {
    send: (m: DppMessage) => socket.write(frameDppTcpMessage(encodeDppTcpMessage(m))),
    received,
    closed: () => closed,
  };
}

/** A GAS Configuration Request under a key nobody shares: well-formed, out of place. */
function strayConfigurationRequest(curve: DppCurve): DppMessage {
  const { hashLength } = dppCurveParams(curve);
  const session: DppSession = {
    curve,
    peerVersion: 2,
    bk: crypto.bytes(hashLength),
    ke: crypto.bytes(hashLength),
    enrolleeProtocolKey: new Uint8Array(65),
    mutual: false,
  };
  return buildConfigurationRequest(crypto, session, { name: 'stray' }).request;
}

/**
 * A relay between the Configurator and the Enrollee that flips the last octet (the end of
 * Wrapped Data, always the last attribute) of message number `nth` (1-based) going `direction`.
 */
async function flippingRelay(
  port: number,
  direction: 'to-enrollee' | 'to-configurator',
  nth: number,
) {
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const pipe = (from: net.Socket, to: net.Socket, flip: boolean) => {
      const decoder = new DppTcpDecoder(65535);
      let count = 0;
      from.on('data', (d) => {
        for (const frame of decoder.push(new Uint8Array(d))) {
          const copy = frame.slice();
          count++;
          if (flip && count === nth) copy[copy.length - 1]! ^= 0x01;
          to.write(frameDppTcpMessage(copy));
        }
      });
    };
    pipe(client, upstream, direction === 'to-enrollee');
    pipe(upstream, client, direction === 'to-configurator');
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        relay.close(() => r());
      }),
  );
  return (relay.address() as net.AddressInfo).port;
}

describe('Airlock’s Configurator initiates to Airlock’s Enrollee', () => {
  it.each(['P-256', 'P-384', 'P-521', 'BP-256'] as const)(
    'on %s: configured, responder-only; the Result comes back OK',
    async (curve) => {
      const { own, listener, exchanges } = await enrollee(curve);
      const { options, asked } = configurator(own, listener.port);
      const result = await runDppTcpConfigurator(options);
      expect(result).toMatchObject({
        status: 'ok',
        resultStatus: DppStatus.OK,
        configurationDelivered: true,
        request: { name: 'in-process-enrollee', netRole: 'sta' },
        enrollee: { mutual: false },
      });
      expect(asked).toEqual(['in-process-enrollee']);
      const received = await listener.configured;
      expect(received).toMatchObject({
        mutual: false,
        network: { ssid: SSID, passphrase: PASSPHRASE },
      });
      expect(exchanges[0]).toMatchObject({ authenticated: true, configured: true });
      expect(exchanges[0]!.error).toBeUndefined();
    },
  );

  it('mutual: the Enrollee scanned the network’s URI', async () => {
    const network = bootstrap('P-256');
    const { own, listener } = await enrollee('P-256', {
      peers: [{ spkiDer: network.spkiDer }],
      onlyKnownConfigurators: true,
    });
    const { options } = configurator(own, listener.port, network);
    const result = await runDppTcpConfigurator(options);
    expect(result.enrollee.mutual).toBe(true);
    expect((await listener.configured)?.mutual).toBe(true);
  });

  it('the network’s key on another curve: responder-only, configured', async () => {
    const network = bootstrap('P-256');
    const { own, listener } = await enrollee('P-384');
    const { options } = configurator(own, listener.port, network);
    expect((await runDppTcpConfigurator(options)).enrollee.mutual).toBe(false);
    expect((await listener.configured)?.network?.ssid).toBe(SSID);
  });

  it('once configured, the Enrollee stops listening', async () => {
    const { own, listener } = await enrollee('P-256');
    await runDppTcpConfigurator(configurator(own, listener.port).options);
    await listener.configured;
    const again = await failure(runDppTcpConfigurator(configurator(own, listener.port).options));
    expect(again.code).toBe('ERR_TRANSPORT');
  });
});

describe('refused: nothing configured, the socket closed', () => {
  it('a Configurator that scanned another key (R-BKH not ours)', async () => {
    const { listener, exchanges } = await enrollee('P-256');
    const other = bootstrap('P-256');
    const { options, asked } = configurator(other, listener.port);
    // The Enrollee does not answer a Request for another key: it closes.
    expect(await failure(runDppTcpConfigurator(options))).toEqual({
      code: 'ERR_DPP_AUTH',
      reason: 'closed',
    });
    const exchange = await until('the refusal', () => exchanges[0]);
    expect(exchange).toMatchObject({
      error: 'ERR_DPP_AUTH',
      reason: 'not-for-us',
      configured: false,
    });
    expect(asked).toEqual([]);
    await listener.close();
    expect(await listener.configured).toBeUndefined();
  });

  it('a Configurator whose own key (I-BKH) is not the one the Enrollee knows', async () => {
    const network = bootstrap('P-256');
    const impostor = bootstrap('P-256');
    const { own, listener, exchanges } = await enrollee('P-256', {
      peers: [{ spkiDer: network.spkiDer }],
      onlyKnownConfigurators: true,
    });
    const { options, asked } = configurator(own, listener.port, impostor);
    expect(await failure(runDppTcpConfigurator(options))).toEqual({
      code: 'ERR_DPP_AUTH',
      reason: 'closed',
    });
    const exchange = await until('the refusal', () => exchanges[0]);
    expect(exchange).toMatchObject({ reason: 'unknown-configurator', authenticated: false });
    expect(asked).toEqual([]);
    await listener.close();
    expect(await listener.configured).toBeUndefined();
  });

  it.each([
    { direction: 'to-enrollee', nth: 1, what: 'the Authentication Request' },
    { direction: 'to-configurator', nth: 1, what: 'the Authentication Response' },
    { direction: 'to-enrollee', nth: 2, what: 'the Authentication Confirm' },
    { direction: 'to-configurator', nth: 2, what: 'the Configuration Request' },
    { direction: 'to-enrollee', nth: 3, what: 'the Configuration Response' },
  ] as const)('one octet of Wrapped Data flipped in $what', async ({ direction, nth }) => {
    const { own, listener, exchanges } = await enrollee('P-256');
    const port = await flippingRelay(listener.port, direction, nth);
    const { options, asked } = configurator(own, port);
    const outcome = await failure(runDppTcpConfigurator(options));
    const exchange = await until('the Enrollee’s exchange', () => exchanges[0]);
    expect(exchange.configured).toBe(false);
    if (direction === 'to-enrollee') {
      // The Enrollee refuses; the Configurator sees it close.
      expect(exchange).toMatchObject({ error: 'ERR_DPP_AUTH', reason: 'wrapped-data' });
      expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'closed' });
    } else {
      expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'wrapped-data' });
      expect(exchange.error).toBeDefined();
    }
    // The callback is asked only for a Configuration Request that opened.
    expect(asked).toEqual(nth === 3 ? ['in-process-enrollee'] : []);
    await listener.close();
    expect(await listener.configured).toBeUndefined();
  });

  it('a Confirm first, to the Enrollee', async () => {
    const { own, listener, exchanges } = await enrollee('P-256');
    const client = rawClient(listener.port);
    client.send({
      kind: 'dpp',
      frameType: DppFrameType.AUTHENTICATION_CONFIRM,
      attributes: [
        { id: DppAttributeId.STATUS, value: Uint8Array.of(0) },
        { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: crypto.sha256(own.spkiDer) },
        { id: DppAttributeId.WRAPPED_DATA, value: crypto.bytes(48) },
      ],
    });
    await until('the close', () => (client.closed() ? true : undefined));
    expect(client.received).toEqual([]);
    expect(exchanges[0]).toMatchObject({ error: 'ERR_DPP_AUTH', reason: 'unexpected-frame' });
  });

  it('a Configuration Request before the Confirm, to the Enrollee', async () => {
    const { own, listener, exchanges } = await enrollee('P-256');
    const client = rawClient(listener.port);
    const { request } = initiateAuth(
      crypto,
      { curve: 'P-256', spkiDer: own.spkiDer },
      {
        role: 'configurator',
      },
    );
    client.send(request);
    await until('the Response', () => client.received[0]);
    expect(client.received[0]).toMatchObject({
      kind: 'dpp',
      frameType: DppFrameType.AUTHENTICATION_RESPONSE,
    });
    client.send(strayConfigurationRequest('P-256'));
    await until('the close', () => (client.closed() ? true : undefined));
    expect(client.received).toHaveLength(1);
    expect(exchanges[0]).toMatchObject({
      error: 'ERR_DPP_AUTH',
      reason: 'unexpected-frame',
      authenticated: false,
    });
  });

  it('an Enrollee that sends a Configuration Request instead of a Response, to the Configurator', async () => {
    const target = bootstrap('P-256');
    let closed = false;
    const fake = net.createServer((s) => {
      const decoder = new DppTcpDecoder(65535);
      s.on('data', (d) => {
        if (decoder.push(new Uint8Array(d)).length > 0)
          s.write(frameDppTcpMessage(encodeDppTcpMessage(strayConfigurationRequest('P-256'))));
      });
      s.on('close', () => (closed = true)).on('error', () => undefined);
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => fake.close(() => r())));
    const { options, asked } = configurator(target, (fake.address() as net.AddressInfo).port);
    expect(await failure(runDppTcpConfigurator(options))).toEqual({
      code: 'ERR_DPP_AUTH',
      reason: 'unexpected-frame',
    });
    await until('the close', () => (closed ? true : undefined));
    expect(asked).toEqual([]);
  });

  it('an Enrollee initiating to the listening Enrollee: NOT_COMPATIBLE, both sides typed', async () => {
    const { own, listener, exchanges } = await enrollee('P-256');
    const outcome = await failure(
      runDppTcpEnrollee({
        crypto,
        peer: { curve: 'P-256', spkiDer: own.spkiDer },
        name: 'another-enrollee',
        host: '127.0.0.1',
        port: listener.port,
      }),
    );
    expect(outcome).toEqual({ code: 'ERR_DPP_AUTH', reason: 'not-compatible' });
    expect(await until('the exchange', () => exchanges[0])).toMatchObject({
      error: 'ERR_DPP_AUTH',
      reason: 'not-compatible',
    });
    await listener.close();
    expect(await listener.configured).toBeUndefined();
  });

  it('the Configurator initiating to a Configurator (Airlock’s controller): refused, no answer', async () => {
    const own = bootstrap('P-256');
    const results: { reason?: string }[] = [];
    const controller = await startDppTcpController({
      crypto,
      bootstrap: own,
      configuration: () => ({ ssid: SSID, passphrase: PASSPHRASE }),
      onResult: (r) => results.push(r),
      port: 0,
    });
    closers.push(() => controller.close());
    const { options, asked } = configurator(own, controller.port);
    expect(await failure(runDppTcpConfigurator(options))).toEqual({
      code: 'ERR_DPP_AUTH',
      reason: 'closed',
    });
    expect(await until('the controller result', () => results[0])).toMatchObject({
      reason: 'roles',
    });
    expect(asked).toEqual([]);
  });

  it('a connection that sends nothing: closed at the first-message deadline', async () => {
    const { listener, exchanges } = await enrollee('P-256', { firstMessageTimeoutMs: 200 });
    const client = rawClient(listener.port);
    await until('the close', () => (client.closed() ? true : undefined), 3_000);
    expect(exchanges[0]).toMatchObject({ error: 'ERR_TRANSPORT', reason: 'timeout' });
  });

  it('a URI without a host: ERR_CONFIG, nothing attempted', async () => {
    const target = bootstrap('P-256');
    const outcome = await failure(
      runDppTcpConfigurator({
        crypto,
        enrollee: { key: { curve: 'P-256', spkiDer: target.spkiDer } },
        configuration: () => undefined,
      }),
    );
    expect(outcome).toEqual({ code: 'ERR_CONFIG', reason: 'no-host' });
  });
});
