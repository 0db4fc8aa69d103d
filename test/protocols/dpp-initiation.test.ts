/**
 * The Initiator/Enrollee side of DPP (src/protocols/dpp/initiation.ts, enrollment.ts) against
 * wpa_supplicant 2.10. From the keys, nonces and frames of real runs
 * (test/fixtures/interop/dpp/key-schedule-*.json: six curves, mutual on P-256 and P-384),
 * given wpa_supplicant's Initiator protocol key and I-nonce, our Authentication Request is the
 * one wpa_supplicant built, octet for octet; given its Responder's Response, our Confirm is
 * the one wpa_supplicant built, and ke is the one it derived. The recorded TCP exchanges
 * (tcp-capture-*.json) give the shape of the Request and the Configuration Request. The
 * Configuration exchange runs against Airlock's Configurator code; tampered, foreign or
 * out-of-order frames are refused with ERR_DPP_AUTH or ERR_DPP_FRAME and the reason.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex } from '../../src/core/bytes.js';
import {
  DppAttributeId,
  decodeDppAttributes,
  encodeDppAttributes,
} from '../../src/protocols/dpp/attributes.js';
import {
  checkAuthConfirm,
  respondToAuthRequest,
  type DppOwnBootstrap,
  type DppSession,
} from '../../src/protocols/dpp/authentication.js';
import { dppFrameHeader } from '../../src/protocols/dpp/common.js';
import {
  buildConfigurationResponse,
  readConfigurationRequest,
  readConfigurationResult,
} from '../../src/protocols/dpp/configuration.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams, unwrapDppData, wrapDppData } from '../../src/protocols/dpp/crypto.js';
import {
  buildConfigurationRequest,
  buildConfigurationResult,
  readConfigurationResponse,
} from '../../src/protocols/dpp/enrollment.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DppFrameType,
  decodeDppTcpMessage,
  encodeDppTcpMessage,
  type DppActionFrame,
  type GasInitialResponse,
} from '../../src/protocols/dpp/frames.js';
import { initiateAuth, readAuthResponse } from '../../src/protocols/dpp/initiation.js';
import { parseDppUri, type DppCurve } from '../../src/protocols/dpp/uri.js';
import { interopPath, readInterop } from '../support/interop.js';
import { reasonOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

interface KeyPair {
  privateKey: string;
  publicKey: string;
}
interface Fixture {
  curve: string;
  mutual: boolean;
  responderUri: string;
  initiatorUri?: string;
  keys: {
    responderBootstrap: KeyPair;
    responderProtocol: KeyPair;
    initiatorProtocol: KeyPair;
    initiatorBootstrap?: KeyPair;
  };
  iNonce: string;
  rNonce: string;
  values: Record<string, string>;
  aesSiv: { frame: string; ad: string[]; ciphertext: string }[];
}

const DPP_CURVE: Record<string, DppCurve> = {
  'P-256': 'P-256',
  'P-384': 'P-384',
  'P-521': 'P-521',
  brainpoolP256r1: 'BP-256',
  brainpoolP384r1: 'BP-384',
  brainpoolP512r1: 'BP-512',
};

const fixtures = fs
  .readdirSync(interopPath('dpp'))
  .filter((f) => /^key-schedule-.*\.json$/.test(f))
  .sort()
  .map((f) => [f, JSON.parse(readInterop('dpp', f)) as Fixture] as [string, Fixture]);

function frameOf(frameType: number, op: { ad: string[]; ciphertext: string }): DppActionFrame {
  return {
    kind: 'dpp',
    frameType,
    attributes: [
      ...decodeDppAttributes(hex(op.ad[1]!)),
      { id: DppAttributeId.WRAPPED_DATA, value: hex(op.ciphertext) },
    ],
  };
}

function setup(fx: Fixture) {
  const curve = DPP_CURVE[fx.curve]!;
  const { ecCurve } = dppCurveParams(curve);
  const peer = parseDppUri(fx.responderUri).key;
  const op = (name: string) => fx.aesSiv.find((o) => o.frame === name)!;
  const request = frameOf(DppFrameType.AUTHENTICATION_REQUEST, op('Authentication Request'));
  const response = frameOf(DppFrameType.AUTHENTICATION_RESPONSE, op('Authentication Response'));
  const confirm = frameOf(
    DppFrameType.AUTHENTICATION_CONFIRM,
    op('Authentication Confirm {I-auth}ke'),
  );
  const own: DppOwnBootstrap | undefined =
    fx.initiatorUri && fx.keys.initiatorBootstrap
      ? {
          curve,
          privateKey: hex(fx.keys.initiatorBootstrap.privateKey),
          publicKey: hex(fx.keys.initiatorBootstrap.publicKey),
          spkiDer: parseDppUri(fx.initiatorUri).key.spkiDer,
        }
      : undefined;
  // Without a key of its own, wpa_supplicant sends the hash of one it made for the exchange.
  const recordedIbkh = request.attributes.find(
    (a) => a.id === DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH,
  )!.value;
  const options = {
    protocolKey: {
      curve: ecCurve,
      privateKey: hex(fx.keys.initiatorProtocol.privateKey),
      publicKey: hex(fx.keys.initiatorProtocol.publicKey),
    },
    iNonce: hex(fx.iNonce),
    ...(own ? { own } : { initiatorBootstrapHash: recordedIbkh }),
  };
  return { curve, peer, own, options, request, response, confirm };
}

const bytesOf = (f: DppActionFrame) => toHex(encodeDppTcpMessage(f));

describe.each(fixtures)('%s: the Initiator as wpa_supplicant', (_name, fx) => {
  it('builds wpa_supplicant’s Authentication Request, octet for octet', () => {
    const { peer, options, request } = setup(fx);
    const out = initiateAuth(crypto, peer, options);
    expect(bytesOf(out.request)).toBe(bytesOf(request));
    expect(toHex(out.initiation.mx)).toBe(fx.values['M.x']);
  });

  it('reads its Responder’s Response and builds wpa_supplicant’s Confirm, octet for octet', () => {
    const { peer, options, response, confirm } = setup(fx);
    const { initiation } = initiateAuth(crypto, peer, options);
    const out = readAuthResponse(crypto, initiation, response);
    expect(bytesOf(out.confirm)).toBe(bytesOf(confirm));
    expect(toHex(out.session.ke)).toBe(fx.values.ke);
    expect(out.session.mutual).toBe(fx.mutual);
    expect(out.session.peerVersion).toBe(2);
  });
});

describe('the recorded TCP exchanges', () => {
  for (const file of ['tcp-capture-p256-sta-psk.json', 'tcp-capture-p384-sta-psk.json']) {
    it(`${file}: our Request and Configuration Request have wpa_supplicant’s shape`, () => {
      const cap = JSON.parse(readInterop('dpp', file)) as {
        controller: { uri: string };
        messages: { direction: string; hex: string }[];
      };
      const peer = parseDppUri(cap.controller.uri).key;
      const theirs = cap.messages.map((m) => decodeDppTcpMessage(hex(m.hex).subarray(4)));
      const { request } = initiateAuth(crypto, peer);
      const shape = (m: ReturnType<typeof decodeDppTcpMessage>) =>
        m.kind === 'dpp'
          ? m.attributes.map((a) => [a.id, a.value.length])
          : m.kind === 'gas-initial-request'
            ? [m.advertisement, m.query.map((a) => a.id)]
            : [];
      expect(shape(request)).toEqual(shape(theirs[0]!));
      const session: DppSession = {
        curve: peer.curve,
        peerVersion: 2,
        bk: crypto.bytes(dppCurveParams(peer.curve).hashLength),
        ke: crypto.bytes(dppCurveParams(peer.curve).hashLength),
        enrolleeProtocolKey: crypto.ecGenerate(dppCurveParams(peer.curve).ecCurve).publicKey,
        mutual: false,
      };
      const conf = buildConfigurationRequest(crypto, session, { name: 'Test' }).request;
      expect(theirs[3]!.kind).toBe('gas-initial-request');
      expect(shape(conf)).toEqual(shape(theirs[3]!));
    });
  }
});

/** Airlock's Responder/Configurator with a fresh key, and the key its URI would carry. */
function responderPair(curve: DppCurve = 'P-256') {
  const kp = crypto.ecGenerate(dppCurveParams(curve).ecCurve);
  const peer = encodeBootstrappingKey(curve, kp.publicKey);
  const own: DppOwnBootstrap = {
    curve,
    privateKey: kp.privateKey,
    publicKey: kp.publicKey,
    spkiDer: peer.spkiDer,
  };
  return { own, peer };
}

const encodeSpki = (curve: DppCurve, point: Uint8Array) =>
  encodeBootstrappingKey(curve, point).spkiDer;

function authenticate(curve: DppCurve = 'P-256') {
  const { own, peer } = responderPair(curve);
  const { request, initiation } = initiateAuth(crypto, peer);
  const { response, pending } = respondToAuthRequest(crypto, own, request);
  const { confirm, session } = readAuthResponse(crypto, initiation, response);
  const rSession = checkAuthConfirm(crypto, pending, confirm);
  return { own, peer, initiation, response, session, rSession };
}

describe('against Airlock’s Responder and Configurator', () => {
  it.each(['P-256', 'P-384', 'P-521', 'BP-256'] as DppCurve[])(
    '%s: authenticates and is configured with sta-psk; the Result reads OK',
    (curve) => {
      const { session, rSession } = authenticate(curve);
      expect(toHex(session.ke)).toBe(toHex(rSession.ke));
      const { request, enrollment } = buildConfigurationRequest(crypto, session, {
        name: 'sensor-1',
      });
      const req = readConfigurationRequest(rSession, request);
      expect([req.name, req.wifiTech, req.netRole]).toEqual(['sensor-1', 'infra', 'sta']);
      const resp = buildConfigurationResponse(rSession, req, {
        ssid: 'airlock-net',
        passphrase: 'correct horse battery',
      });
      const got = readConfigurationResponse(session, enrollment, resp);
      expect(got.status).toBe(0);
      expect(got.objects).toHaveLength(1);
      const obj = got.objects[0]!;
      expect(obj.kind).toBe('sta-psk');
      if (obj.kind === 'sta-psk') {
        expect(obj.ssid).toBe('airlock-net');
        expect(obj.passphrase).toBe('correct horse battery');
      }
      const result = buildConfigurationResult(session, enrollment, 0);
      expect(readConfigurationResult(rSession, req, result)).toBe(0);
    },
  );

  it('mutual: the Responder knows our URI', () => {
    const { own, peer } = responderPair();
    const kp = crypto.ecGenerate('P-256');
    const mine: DppOwnBootstrap = {
      curve: 'P-256',
      privateKey: kp.privateKey,
      publicKey: kp.publicKey,
      spkiDer: encodeSpki('P-256', kp.publicKey),
    };
    const { request, initiation } = initiateAuth(crypto, peer, { own: mine });
    const { response, pending } = respondToAuthRequest(crypto, own, request, {
      peers: [{ spkiDer: mine.spkiDer }],
    });
    const { confirm, session } = readAuthResponse(crypto, initiation, response);
    expect(session.mutual).toBe(true);
    expect(checkAuthConfirm(crypto, pending, confirm).mutual).toBe(true);
  });

  it('a Configure Failure comes back as a status, with no object', () => {
    const { session, rSession } = authenticate();
    const { request, enrollment } = buildConfigurationRequest(crypto, session, { name: 'x' });
    const req = readConfigurationRequest(rSession, request);
    const got = readConfigurationResponse(
      session,
      enrollment,
      buildConfigurationResponse(rSession, req, undefined),
    );
    expect(got).toEqual({ status: 5, objects: [] }); // Configure Failure
  });
});

describe('Configuration Objects', () => {
  const { session } = authenticate();
  const { enrollment } = buildConfigurationRequest(crypto, session, { name: 'x' });
  const respond = (objects: string[], nonce = enrollment.eNonce): GasInitialResponse => {
    const status = { id: DppAttributeId.STATUS, value: Uint8Array.of(0) };
    return {
      kind: 'gas-initial-response',
      dialogToken: enrollment.dialogToken,
      statusCode: 0,
      comebackDelay: 0,
      advertisement: { ...DEFAULT_GAS_ADVERTISEMENT },
      query: [
        status,
        {
          id: DppAttributeId.WRAPPED_DATA,
          value: wrapDppData(
            session.ke,
            [encodeDppAttributes([status])],
            encodeDppAttributes([
              { id: DppAttributeId.ENROLLEE_NONCE, value: nonce },
              ...objects.map((o) => ({
                id: DppAttributeId.CONFIGURATION_OBJECT,
                value: new TextEncoder().encode(o),
              })),
            ]),
          ),
        },
      ],
    };
  };

  it('psk_hex and ssid64 are read; a DPP Connector object is kept, unsupported', () => {
    const psk = 'ab'.repeat(32);
    const dpp = '{"wi-fi_tech":"infra","discovery":{"ssid":"n"},"cred":{"akm":"dpp"}}';
    const got = readConfigurationResponse(
      session,
      enrollment,
      respond([
        `{"wi-fi_tech":"infra","discovery":{"ssid64":"${Buffer.from('net-64').toString('base64url')}"},"cred":{"akm":"psk","psk_hex":"${psk}"}}`,
        dpp,
      ]),
    );
    expect(got.objects[0]).toMatchObject({ kind: 'sta-psk', ssid: 'net-64', pskHex: psk });
    expect(got.objects[1]).toEqual({ kind: 'unsupported', akm: 'dpp', json: dpp });
  });

  it('refused: another E-nonce, changed Wrapped Data, objects not well-formed, a comeback', () => {
    const ok =
      '{"wi-fi_tech":"infra","discovery":{"ssid":"n"},"cred":{"akm":"psk","pass":"12345678"}}';
    expect(
      reasonOf(() =>
        readConfigurationResponse(session, enrollment, respond([ok], crypto.bytes(16))),
      ),
    ).toBe('ERR_DPP_AUTH/nonce');
    const tampered = respond([ok]);
    tampered.query[1]!.value[20]! ^= 1;
    expect(reasonOf(() => readConfigurationResponse(session, enrollment, tampered))).toBe(
      'ERR_DPP_AUTH/wrapped-data',
    );
    for (const bad of [
      'not json',
      '{"wi-fi_tech":"infra","discovery":{"ssid":"n"},"cred":{"akm":"psk","pass":"short"}}',
      '{"wi-fi_tech":"infra","discovery":{"ssid":""},"cred":{"akm":"psk","pass":"12345678"}}',
      '{"wi-fi_tech":"infra","discovery":{"ssid":"n"},"cred":{"akm":"psk"}}',
      '{"wi-fi_tech":"infra","discovery":{"ssid":"n"}}',
    ])
      expect(reasonOf(() => readConfigurationResponse(session, enrollment, respond([bad])))).toBe(
        'ERR_DPP_FRAME/',
      );
    const comeback = { ...respond([ok]), comebackDelay: 1, query: [] };
    expect(reasonOf(() => readConfigurationResponse(session, enrollment, comeback))).toBe(
      'ERR_DPP_AUTH/comeback',
    );
  });

  it('the Result wraps {Status, E-nonce} with the frame header as associated data', () => {
    const result = buildConfigurationResult(session, enrollment, 0);
    const clear = unwrapDppData(
      session.ke,
      [dppFrameHeader(DppFrameType.CONFIGURATION_RESULT), new Uint8Array(0)],
      result.attributes[0]!.value,
    );
    expect(decodeDppAttributes(clear).map((a) => [a.id, toHex(a.value)])).toEqual([
      [DppAttributeId.STATUS, '00'],
      [DppAttributeId.ENROLLEE_NONCE, toHex(enrollment.eNonce)],
    ]);
  });
});

describe('refusals of the Authentication Response', () => {
  const fx = fixtures.find(([n]) => n === 'key-schedule-p256.json')![1];
  const { peer, options, response } = setup(fx);
  const { initiation } = initiateAuth(crypto, peer, options);
  const withAttr = (id: number, change: (v: Uint8Array) => Uint8Array): DppActionFrame => ({
    ...response,
    attributes: response.attributes.map((a) => (a.id === id ? { id, value: change(a.value) } : a)),
  });
  const flip = (v: Uint8Array) => {
    const c = v.slice();
    c[c.length - 1]! ^= 1;
    return c;
  };
  const read = (f: DppActionFrame) => reasonOf(() => readAuthResponse(crypto, initiation, f));

  it('another frame, a failure status, another R-BKH', () => {
    expect(reasonOf(() => readAuthResponse(crypto, initiation, setup(fx).request))).toBe(
      'ERR_DPP_AUTH/unexpected-frame',
    );
    expect(read(withAttr(DppAttributeId.STATUS, () => Uint8Array.of(2)))).toBe(
      'ERR_DPP_AUTH/status',
    );
    expect(read(withAttr(DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, flip))).toBe(
      'ERR_DPP_AUTH/not-for-us',
    );
  });

  it('changed Wrapped Data or associated data; a key off the curve; a missing key', () => {
    expect(read(withAttr(DppAttributeId.WRAPPED_DATA, flip))).toBe('ERR_DPP_AUTH/wrapped-data');
    expect(read(withAttr(DppAttributeId.PROTOCOL_VERSION, () => Uint8Array.of(3)))).toBe(
      'ERR_DPP_AUTH/wrapped-data',
    );
    expect(read(withAttr(DppAttributeId.RESPONDER_PROTOCOL_KEY, flip))).toBe('ERR_DPP_AUTH/point');
    expect(
      read({
        ...response,
        attributes: response.attributes.filter(
          (a) => a.id !== DppAttributeId.RESPONDER_PROTOCOL_KEY,
        ),
      }),
    ).toBe('ERR_DPP_FRAME/');
  });

  it('a Responder asking for mutual authentication with a key we did not send, or do not hold', () => {
    const iBkh = {
      id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH,
      value: crypto.bytes(32),
    };
    const [status, rBkh, ...rest] = response.attributes;
    expect(read({ ...response, attributes: [status!, rBkh!, iBkh, ...rest] })).toBe(
      'ERR_DPP_AUTH/mutual',
    );
    const ours = { ...iBkh, value: initiation.ownHash };
    expect(read({ ...response, attributes: [status!, rBkh!, ours, ...rest] })).toBe(
      'ERR_DPP_AUTH/mutual',
    );
  });

  it('a wrong I-nonce, a wrong R-auth, a Responder that will not configure', () => {
    // Rebuild the Response's Wrapped Data with the recorded k2 and ke, changing one value.
    const k2 = hex(fx.values.k2!);
    const ke = hex(fx.values.ke!);
    const before = encodeDppAttributes(response.attributes.slice(0, -1));
    const rebuild = (change: { iNonce?: boolean; rAuth?: boolean; caps?: number }) => {
      const rAuth = hex(fx.values['R-auth']!);
      if (change.rAuth) rAuth[0]! ^= 1;
      const iNonce = hex(fx.iNonce);
      if (change.iNonce) iNonce[0]! ^= 1;
      const clear = encodeDppAttributes([
        { id: DppAttributeId.RESPONDER_NONCE, value: hex(fx.rNonce) },
        { id: DppAttributeId.INITIATOR_NONCE, value: iNonce },
        { id: DppAttributeId.RESPONDER_CAPABILITIES, value: Uint8Array.of(change.caps ?? 2) },
        {
          id: DppAttributeId.WRAPPED_DATA,
          value: wrapDppData(
            ke,
            [],
            encodeDppAttributes([
              { id: DppAttributeId.RESPONDER_AUTHENTICATING_TAG, value: rAuth },
            ]),
          ),
        },
      ]);
      return withAttr(DppAttributeId.WRAPPED_DATA, () =>
        wrapDppData(k2, [dppFrameHeader(DppFrameType.AUTHENTICATION_RESPONSE), before], clear),
      );
    };
    expect(read(rebuild({}))).toBe('OK');
    expect(read(rebuild({ iNonce: true }))).toBe('ERR_DPP_AUTH/nonce');
    expect(read(rebuild({ rAuth: true }))).toBe('ERR_DPP_AUTH/r-auth');
    expect(read(rebuild({ caps: 1 }))).toBe('ERR_DPP_AUTH/roles');
  });
});
