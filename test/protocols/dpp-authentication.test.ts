/**
 * The Responder's DPP Authentication (src/protocols/dpp/authentication.ts) against
 * wpa_supplicant 2.10. From the keys, nonces and frames of real runs
 * (test/fixtures/interop/dpp/key-schedule-*.json, responder-only, six curves), given
 * wpa_supplicant's Responder protocol key and R-nonce, our Authentication Response is
 * wpa_supplicant's, octet for octet, and its Confirm gives the ke it derived. Our Response
 * carries the attributes, in the order and of the lengths, that wpa_supplicant's responder put
 * in the recorded TCP exchanges (tcp-capture-*.json). Out of order, tampered or foreign frames
 * are refused with ERR_DPP_AUTH or ERR_DPP_FRAME, with the reason.
 */
import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { toHex } from '../../src/core/bytes.js';
import {
  DppAttributeId,
  decodeDppAttributes,
  encodeDppAttributes,
  type DppAttribute,
} from '../../src/protocols/dpp/attributes.js';
import {
  checkAuthConfirm,
  respondToAuthRequest,
  type DppOwnBootstrap,
} from '../../src/protocols/dpp/authentication.js';
import { dppFrameHeader } from '../../src/protocols/dpp/common.js';
import { encodeBootstrappingKey } from '../../src/protocols/dpp/bootstrapping-key.js';
import { dppCurveParams, wrapDppData } from '../../src/protocols/dpp/crypto.js';
import {
  DppFrameType,
  decodeDppTcpMessage,
  type DppActionFrame,
} from '../../src/protocols/dpp/frames.js';
import { parseDppUri, type DppCurve } from '../../src/protocols/dpp/uri.js';
import { codeOf, reasonOf } from '../support/errors.js';
import { interopPath, readInterop } from '../support/interop.js';

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
  keys: { responderBootstrap: KeyPair; responderProtocol: KeyPair };
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

/** A DPP frame from the associated data wpa_supplicant logged and its ciphertext. */
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
  const own: DppOwnBootstrap = {
    curve,
    privateKey: hex(fx.keys.responderBootstrap.privateKey),
    publicKey: hex(fx.keys.responderBootstrap.publicKey),
    spkiDer: parseDppUri(fx.responderUri).key.spkiDer,
  };
  const options = {
    protocolKey: {
      curve: ecCurve,
      privateKey: hex(fx.keys.responderProtocol.privateKey),
      publicKey: hex(fx.keys.responderProtocol.publicKey),
    },
    rNonce: hex(fx.rNonce),
    // Mutual runs: the Responder scanned the Initiator's URI.
    ...(fx.initiatorUri ? { peers: [{ spkiDer: parseDppUri(fx.initiatorUri).key.spkiDer }] } : {}),
  };
  const op = (name: string) => fx.aesSiv.find((o) => o.frame === name)!;
  const request = frameOf(DppFrameType.AUTHENTICATION_REQUEST, op('Authentication Request'));
  const confirm = frameOf(
    DppFrameType.AUTHENTICATION_CONFIRM,
    op('Authentication Confirm {I-auth}ke'),
  );
  const response = frameOf(DppFrameType.AUTHENTICATION_RESPONSE, op('Authentication Response'));
  return { curve, own, options, request, confirm, response };
}

describe.each(fixtures)('%s: the Responder as wpa_supplicant', (_name, fx) => {
  it('builds wpa_supplicant’s Authentication Response, octet for octet', () => {
    const { own, options, request, response } = setup(fx);
    const out = respondToAuthRequest(crypto, own, request, options);
    expect(out.response.attributes.map((a) => [a.id, toHex(a.value)])).toEqual(
      response.attributes.map((a) => [a.id, toHex(a.value)]),
    );
    expect(toHex(out.pending.ke)).toBe(fx.values.ke);
  });

  it('checks its Authentication Confirm: I-auth, and gives ke', () => {
    const { own, options, request, confirm } = setup(fx);
    const { pending } = respondToAuthRequest(crypto, own, request, options);
    const session = checkAuthConfirm(crypto, pending, confirm);
    expect(toHex(session.ke)).toBe(fx.values.ke);
    expect(session.peerVersion).toBe(2);
    expect(session.mutual).toBe(fx.mutual);
  });
});

describe('mutual authentication', () => {
  const fx = fixtures.find(([n]) => n === 'key-schedule-p256-mutual.json')![1];

  it('without the Initiator’s key, the Responder answers responder-only', () => {
    const { own, options, request } = setup(fx);
    const { peers: _peers, ...alone } = options;
    const { response, pending } = respondToAuthRequest(crypto, own, request, alone);
    expect(response.attributes.map((a) => a.id)).not.toContain(
      DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH,
    );
    expect(pending.BI).toBeUndefined();
  });

  it('a Confirm without the I-BKH is refused', () => {
    const { own, options, request, confirm } = setup(fx);
    const { pending } = respondToAuthRequest(crypto, own, request, options);
    const without: DppActionFrame = {
      ...confirm,
      attributes: confirm.attributes.filter(
        (a) => a.id !== DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH,
      ),
    };
    expect(reasonOf(() => checkAuthConfirm(crypto, pending, without))).toBe(
      'ERR_DPP_AUTH/not-for-us',
    );
  });

  it('a Confirm naming an Initiator key in a responder-only exchange is refused, as hostap does', () => {
    const { own, options, request, confirm } = setup(fx);
    const { peers: _peers, ...alone } = options;
    const { pending } = respondToAuthRequest(crypto, own, request, alone);
    expect(
      confirm.attributes.some((a) => a.id === DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH),
    ).toBe(true);
    expect(reasonOf(() => checkAuthConfirm(crypto, pending, confirm))).toBe(
      'ERR_DPP_AUTH/not-for-us',
    );
  });
});

describe('refusals', () => {
  const fx = fixtures.find(([n]) => n === 'key-schedule-p256.json')![1];
  const { own, options, request, confirm } = setup(fx);
  const withAttr = (
    f: DppActionFrame,
    id: number,
    change: (v: Uint8Array) => Uint8Array,
  ): DppActionFrame => ({
    ...f,
    attributes: f.attributes.map((a) => (a.id === id ? { id, value: change(a.value) } : a)),
  });
  const flip = (v: Uint8Array) => {
    const c = v.slice();
    c[c.length - 1]! ^= 1;
    return c;
  };

  it('a Request for another bootstrapping key: not-for-us', () => {
    const other = withAttr(request, DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, flip);
    expect(reasonOf(() => respondToAuthRequest(crypto, own, other, options))).toBe(
      'ERR_DPP_AUTH/not-for-us',
    );
  });

  it('a Request whose Wrapped Data, or the data before it, was changed', () => {
    const wrapped = withAttr(request, DppAttributeId.WRAPPED_DATA, flip);
    expect(reasonOf(() => respondToAuthRequest(crypto, own, wrapped, options))).toBe(
      'ERR_DPP_AUTH/wrapped-data',
    );
    const version = withAttr(request, DppAttributeId.PROTOCOL_VERSION, () => Uint8Array.of(3));
    expect(reasonOf(() => respondToAuthRequest(crypto, own, version, options))).toBe(
      'ERR_DPP_AUTH/wrapped-data',
    );
  });

  it('a protocol key off the curve, or missing', () => {
    const off = withAttr(request, DppAttributeId.INITIATOR_PROTOCOL_KEY, flip);
    expect(reasonOf(() => respondToAuthRequest(crypto, own, off, options))).toBe(
      'ERR_DPP_AUTH/point',
    );
    const none = {
      ...request,
      attributes: request.attributes.filter((a) => a.id !== DppAttributeId.INITIATOR_PROTOCOL_KEY),
    };
    expect(codeOf(() => respondToAuthRequest(crypto, own, none, options))).toBe('ERR_DPP_FRAME');
  });

  it('an Initiator that wants to configure us: roles', () => {
    // Rewrapped with k1 (from the fixture), I-capabilities Configurator only.
    const inner: DppAttribute[] = [
      { id: DppAttributeId.INITIATOR_NONCE, value: hex(fx.iNonce) },
      { id: DppAttributeId.INITIATOR_CAPABILITIES, value: Uint8Array.of(0x02) },
    ];
    const before = request.attributes.slice(0, -1);
    const wrapped = wrapDppData(
      hex(fx.values.k1!),
      [dppFrameHeader(DppFrameType.AUTHENTICATION_REQUEST), encodeDppAttributes(before)],
      encodeDppAttributes(inner),
    );
    const configurator: DppActionFrame = {
      ...request,
      attributes: [...before, { id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
    };
    expect(reasonOf(() => respondToAuthRequest(crypto, own, configurator, options))).toBe(
      'ERR_DPP_AUTH/roles',
    );
  });

  it('frames out of order', () => {
    expect(reasonOf(() => respondToAuthRequest(crypto, own, confirm, options))).toBe(
      'ERR_DPP_AUTH/unexpected-frame',
    );
    const { pending } = respondToAuthRequest(crypto, own, request, options);
    expect(reasonOf(() => checkAuthConfirm(crypto, pending, request))).toBe(
      'ERR_DPP_AUTH/unexpected-frame',
    );
  });

  it('a Confirm tampered, with a failure status, or with a wrong I-auth', () => {
    const { pending } = respondToAuthRequest(crypto, own, request, options);
    const tampered = withAttr(confirm, DppAttributeId.WRAPPED_DATA, flip);
    expect(reasonOf(() => checkAuthConfirm(crypto, pending, tampered))).toBe(
      'ERR_DPP_AUTH/wrapped-data',
    );
    const failed = withAttr(confirm, DppAttributeId.STATUS, () => Uint8Array.of(2));
    expect(reasonOf(() => checkAuthConfirm(crypto, pending, failed))).toBe('ERR_DPP_AUTH/status');
    const before = confirm.attributes.slice(0, -1);
    const wrongTag = wrapDppData(
      pending.ke,
      [dppFrameHeader(DppFrameType.AUTHENTICATION_CONFIRM), encodeDppAttributes(before)],
      encodeDppAttributes([
        { id: DppAttributeId.INITIATOR_AUTHENTICATING_TAG, value: flip(hex(fx.values['I-auth']!)) },
      ]),
    );
    const wrong: DppActionFrame = {
      ...confirm,
      attributes: [...before, { id: DppAttributeId.WRAPPED_DATA, value: wrongTag }],
    };
    expect(reasonOf(() => checkAuthConfirm(crypto, pending, wrong))).toBe('ERR_DPP_AUTH/i-auth');
  });
});

describe('the recorded wpa_supplicant responders', () => {
  it.each(['p256', 'p384'])(
    '%s: our Response has the attributes of theirs, in order, of the same lengths',
    (tag) => {
      const capture = JSON.parse(readInterop('dpp', `tcp-capture-${tag}-sta-psk.json`)) as {
        curve: DppCurve;
        messages: { hex: string }[];
      };
      const theirs = decodeDppTcpMessage(hex(capture.messages[1]!.hex).subarray(4));
      expect(theirs.kind === 'dpp' && theirs.frameType).toBe(DppFrameType.AUTHENTICATION_RESPONSE);
      // Our own Responder, and an Initiator made here, on the capture's curve.
      const curve = capture.curve;
      const { ecCurve, nonceLength } = dppCurveParams(curve);
      const bootstrap = crypto.ecGenerate(ecCurve);
      const own: DppOwnBootstrap = {
        curve,
        privateKey: bootstrap.privateKey,
        publicKey: bootstrap.publicKey,
        spkiDer: encodeBootstrappingKey(curve, bootstrap.publicKey).spkiDer,
      };
      const request = initiatorRequest(own, nonceLength);
      const ours = respondToAuthRequest(crypto, own, request).response;
      const shape = (f: typeof theirs) =>
        f.kind === 'dpp' ? f.attributes.map((a) => [a.id, a.value.length]) : [];
      expect(shape(ours)).toEqual(shape(theirs));
    },
  );
});

/** An Authentication Request as wpa_supplicant builds one (its attributes, in its order). */
function initiatorRequest(own: DppOwnBootstrap, nonceLength: number): DppActionFrame {
  const { ecCurve } = dppCurveParams(own.curve);
  const pi = crypto.ecGenerate(ecCurve);
  const mx = crypto.ecdh(ecCurve, pi.privateKey, own.publicKey)!;
  const { hash, hashLength } = dppCurveParams(own.curve);
  const k1 = crypto.hkdfExpand(
    hash,
    crypto.hkdfExtract(hash, new Uint8Array(hashLength), mx),
    new TextEncoder().encode('first intermediate key'),
    hashLength,
  );
  const before: DppAttribute[] = [
    { id: DppAttributeId.RESPONDER_BOOTSTRAPPING_KEY_HASH, value: crypto.sha256(own.spkiDer) },
    { id: DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH, value: crypto.bytes(32) },
    { id: DppAttributeId.INITIATOR_PROTOCOL_KEY, value: pi.publicKey.slice(1) },
    { id: DppAttributeId.PROTOCOL_VERSION, value: Uint8Array.of(2) },
  ];
  const wrapped = wrapDppData(
    k1,
    [dppFrameHeader(DppFrameType.AUTHENTICATION_REQUEST), encodeDppAttributes(before)],
    encodeDppAttributes([
      { id: DppAttributeId.INITIATOR_NONCE, value: crypto.bytes(nonceLength) },
      { id: DppAttributeId.INITIATOR_CAPABILITIES, value: Uint8Array.of(0x01) },
    ]),
  );
  return {
    kind: 'dpp',
    frameType: DppFrameType.AUTHENTICATION_REQUEST,
    attributes: [...before, { id: DppAttributeId.WRAPPED_DATA, value: wrapped }],
  };
}
