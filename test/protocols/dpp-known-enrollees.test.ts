/**
 * `requirePeer` (src/protocols/dpp/authentication.ts): a Configurator that answers only the
 * enrollees whose URI it was given (the network role, docs/DPP.md). From wpa_supplicant 2.10's
 * own Authentication Requests (test/fixtures/interop/dpp/key-schedule-*.json): a mutual Request
 * naming a known key is answered, mutually; the same Request with that key unknown, and a
 * responder-only Request, are refused `unknown-enrollee`, with no answer.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { DppAttributeId, decodeDppAttributes } from '../../src/protocols/dpp/attributes.js';
import {
  respondToAuthRequest,
  type DppOwnBootstrap,
} from '../../src/protocols/dpp/authentication.js';
import { DppFrameType, type DppActionFrame } from '../../src/protocols/dpp/frames.js';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import { readInterop } from '../support/interop.js';
import { reasonOf } from '../support/errors.js';

const crypto = new NodeCrypto();
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

interface Fixture {
  responderUri: string;
  initiatorUri?: string;
  keys: { responderBootstrap: { privateKey: string; publicKey: string } };
  aesSiv: { frame: string; ad: string[]; ciphertext: string }[];
}

function load(name: string) {
  const fx = JSON.parse(readInterop('dpp', name)) as Fixture;
  const own: DppOwnBootstrap = {
    curve: 'P-256',
    privateKey: hex(fx.keys.responderBootstrap.privateKey),
    publicKey: hex(fx.keys.responderBootstrap.publicKey),
    spkiDer: parseDppUri(fx.responderUri).key.spkiDer,
  };
  const op = fx.aesSiv.find((o) => o.frame === 'Authentication Request')!;
  const request: DppActionFrame = {
    kind: 'dpp',
    frameType: DppFrameType.AUTHENTICATION_REQUEST,
    attributes: [
      ...decodeDppAttributes(hex(op.ad[1]!)),
      { id: DppAttributeId.WRAPPED_DATA, value: hex(op.ciphertext) },
    ],
  };
  return { fx, own, request };
}

describe('a Configurator that answers only the enrollees it was given', () => {
  const mutual = load('key-schedule-p256-mutual.json');
  const known = [{ spkiDer: parseDppUri(mutual.fx.initiatorUri!).key.spkiDer }];

  it('answers a Request naming a key it was given, mutually', () => {
    const { response, pending } = respondToAuthRequest(crypto, mutual.own, mutual.request, {
      peers: known,
      requirePeer: true,
    });
    expect(pending.BI).toBeDefined();
    expect(response.attributes.map((a) => a.id)).toContain(
      DppAttributeId.INITIATOR_BOOTSTRAPPING_KEY_HASH,
    );
  });

  it('refuses the same Request when the key is not one it was given', () => {
    expect(
      reasonOf(() =>
        respondToAuthRequest(crypto, mutual.own, mutual.request, { peers: [], requirePeer: true }),
      ),
    ).toBe('ERR_DPP_AUTH/unknown-enrollee');
    expect(
      reasonOf(() =>
        respondToAuthRequest(crypto, mutual.own, mutual.request, { requirePeer: true }),
      ),
    ).toBe('ERR_DPP_AUTH/unknown-enrollee');
  });

  it('refuses a responder-only Request (the enrollee did not initiate with its own key)', () => {
    const alone = load('key-schedule-p256.json');
    expect(
      reasonOf(() =>
        respondToAuthRequest(crypto, alone.own, alone.request, { peers: known, requirePeer: true }),
      ),
    ).toBe('ERR_DPP_AUTH/unknown-enrollee');
    // Without requirePeer, it is answered responder-only, as before.
    expect(reasonOf(() => respondToAuthRequest(crypto, alone.own, alone.request, {}))).toBe('OK');
  });
});
