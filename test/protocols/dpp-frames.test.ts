/**
 * The DPP frame layer (src/protocols/dpp/attributes.ts, frames.ts) against real DPP R2
 * exchanges over TCP between two Debian wpa_supplicant 2.10 instances, on P-256 and P-384
 * (test/fixtures/interop/dpp/tcp-capture-*.json, made by capture-tcp.sh): the recorded byte
 * streams cut into the recorded messages, however they are chunked; every message decodes
 * (TCP framing, then the frame, then its attributes), in the order the protocol runs; each
 * frame carries the attributes it must, its key hashes are SHA-256 of the bootstrapping keys
 * in the URIs used; and writing each decoded message back gives the same octets. Then one
 * refusal per rule, each ERR_DPP_FRAME.
 */
import { describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { concatBytes, toHex } from '../../src/core/bytes.js';
import { AirlockError } from '../../src/core/errors.js';
import {
  DppAttributeId as A,
  decodeDppAttributes,
  dppAttributeName,
  encodeDppAttributes,
  findDppAttribute,
  type DppAttribute,
} from '../../src/protocols/dpp/attributes.js';
import {
  DEFAULT_GAS_ADVERTISEMENT,
  DPP_TCP_MAX_MESSAGE,
  DppFrameType as T,
  DppTcpDecoder,
  decodeDppTcpMessage,
  decodePublicActionFrame,
  encodeDppTcpMessage,
  encodePublicActionFrame,
  frameDppTcpMessage,
  type DppMessage,
} from '../../src/protocols/dpp/frames.js';
import { bootstrappingKeyHash, parseDppUri } from '../../src/protocols/dpp/uri.js';
import { codeOf } from '../support/errors.js';
import { readInterop } from '../support/interop.js';

const crypto = new NodeCrypto();

type Direction = 'enrollee-to-controller' | 'controller-to-enrollee';
interface Capture {
  curve: string;
  wpaSupplicant: string;
  controller: { uri: string; pkhash: string; events: string[] };
  enrollee: { uri: string; pkhash: string; events: string[] };
  messages: { direction: Direction; hex: string }[];
  chunks: Record<Direction, string[]>;
}

const captures = (['p256', 'p384'] as const).map(
  (name) => JSON.parse(readInterop('dpp', `tcp-capture-${name}-sta-psk.json`)) as Capture,
);

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
const DIRECTIONS: Direction[] = ['enrollee-to-controller', 'controller-to-enrollee'];

/** The protocol key: an uncompressed point without its 04, two coordinates. */
const COORDINATE = { 'P-256': 32, 'P-384': 48 } as Record<string, number>;
/** DPP nonces are half the hash length (hostap dpp_curves): 16 octets on P-256, 24 on P-384. */
const NONCE = { 'P-256': 16, 'P-384': 24 } as Record<string, number>;
/** AES-SIV puts a 16-octet synthetic IV before the ciphertext. */
const SIV = 16;

function attributesOf(m: DppMessage): DppAttribute[] {
  if (m.kind === 'dpp') return m.attributes;
  if (m.kind === 'gas-comeback-request') return [];
  return m.query;
}

function ids(m: DppMessage): number[] {
  return attributesOf(m).map((a) => a.id);
}

function one(m: DppMessage, id: number): Uint8Array {
  const found = attributesOf(m).filter((a) => a.id === id);
  expect(found, dppAttributeName(id)).toHaveLength(1);
  return found[0]!.value;
}

describe.each(captures)('wpa_supplicant DPP over TCP, $curve', (capture) => {
  const framed = capture.messages.map((m) => hex(m.hex));
  const frames = framed.map((f) => f.subarray(4));
  const decoded = frames.map((f) => decodeDppTcpMessage(f));
  const controllerKey = parseDppUri(capture.controller.uri).key;
  const enrolleeKey = parseDppUri(capture.enrollee.uri).key;

  it('is a whole, successful exchange by wpa_supplicant 2.10', () => {
    expect(capture.wpaSupplicant).toMatch(/^wpa_supplicant v2\.10/);
    expect(controllerKey.curve).toBe(capture.curve);
    expect(enrolleeKey.curve).toBe(capture.curve);
    expect(capture.enrollee.events).toContain('DPP-CONF-RECEIVED');
    expect(capture.controller.events).toContain('DPP-CONF-SENT');
  });

  it('cuts each recorded stream into the recorded messages, chunked as it arrived', () => {
    for (const direction of DIRECTIONS) {
      const expected = capture.messages
        .filter((m) => m.direction === direction)
        .map((m) => m.hex.slice(8));
      const decoder = new DppTcpDecoder();
      const got = capture.chunks[direction].flatMap((c) => decoder.push(hex(c)));
      decoder.end();
      expect(got.map(toHex)).toEqual(expected);
    }
  });

  it('cuts the same streams written back to back, or one octet at a time', () => {
    for (const direction of DIRECTIONS) {
      const stream = concatBytes(...capture.chunks[direction].map(hex));
      const expected = capture.messages
        .filter((m) => m.direction === direction)
        .map((m) => m.hex.slice(8));
      const whole = new DppTcpDecoder();
      expect(whole.push(stream).map(toHex)).toEqual(expected);
      whole.end();
      const trickle = new DppTcpDecoder();
      const got: Uint8Array[] = [];
      for (const octet of stream) got.push(...trickle.push(Uint8Array.of(octet)));
      trickle.end();
      expect(got.map(toHex)).toEqual(expected);
    }
  });

  it('runs Authentication, then Configuration over GAS, then the Configuration Result', () => {
    expect(
      decoded.map((m, i) => [
        capture.messages[i]!.direction,
        m.kind === 'dpp' ? m.frameType : m.kind,
      ]),
    ).toEqual([
      ['enrollee-to-controller', T.AUTHENTICATION_REQUEST],
      ['controller-to-enrollee', T.AUTHENTICATION_RESPONSE],
      ['enrollee-to-controller', T.AUTHENTICATION_CONFIRM],
      ['enrollee-to-controller', 'gas-initial-request'],
      ['controller-to-enrollee', 'gas-initial-response'],
      ['enrollee-to-controller', T.CONFIGURATION_RESULT],
    ]);
  });

  it('Authentication Request: both key hashes, the protocol key, version 2, Wrapped Data', () => {
    const req = decoded[0]!;
    expect(ids(req)).toEqual([
      A.RESPONDER_BOOTSTRAPPING_KEY_HASH,
      A.INITIATOR_BOOTSTRAPPING_KEY_HASH,
      A.INITIATOR_PROTOCOL_KEY,
      A.PROTOCOL_VERSION,
      A.WRAPPED_DATA,
    ]);
    const rHash = one(req, A.RESPONDER_BOOTSTRAPPING_KEY_HASH);
    const iHash = one(req, A.INITIATOR_BOOTSTRAPPING_KEY_HASH);
    expect(toHex(rHash)).toBe(toHex(bootstrappingKeyHash(crypto, controllerKey.spkiDer)));
    expect(toHex(iHash)).toBe(toHex(bootstrappingKeyHash(crypto, enrolleeKey.spkiDer)));
    expect(toHex(rHash)).toBe(capture.controller.pkhash);
    expect(toHex(iHash)).toBe(capture.enrollee.pkhash);
    expect(one(req, A.INITIATOR_PROTOCOL_KEY)).toHaveLength(2 * COORDINATE[capture.curve]!);
    expect(one(req, A.PROTOCOL_VERSION)).toEqual(Uint8Array.of(2));
    // {I-nonce, I-capabilities}: two attribute headers, the nonce, one octet, the SIV.
    expect(one(req, A.WRAPPED_DATA)).toHaveLength(4 + NONCE[capture.curve]! + 4 + 1 + SIV);
  });

  it('Authentication Response: status OK, the responder key hash and protocol key, Wrapped Data', () => {
    const resp = decoded[1]!;
    expect(ids(resp)).toEqual([
      A.STATUS,
      A.RESPONDER_BOOTSTRAPPING_KEY_HASH,
      A.RESPONDER_PROTOCOL_KEY,
      A.PROTOCOL_VERSION,
      A.WRAPPED_DATA,
    ]);
    expect(one(resp, A.STATUS)).toEqual(Uint8Array.of(0));
    expect(toHex(one(resp, A.RESPONDER_BOOTSTRAPPING_KEY_HASH))).toBe(capture.controller.pkhash);
    expect(one(resp, A.RESPONDER_PROTOCOL_KEY)).toHaveLength(2 * COORDINATE[capture.curve]!);
    expect(one(resp, A.WRAPPED_DATA).length).toBeGreaterThan(SIV);
  });

  it('Authentication Confirm: status OK, the responder key hash, Wrapped Data', () => {
    const conf = decoded[2]!;
    expect(ids(conf)).toEqual([A.STATUS, A.RESPONDER_BOOTSTRAPPING_KEY_HASH, A.WRAPPED_DATA]);
    expect(one(conf, A.STATUS)).toEqual(Uint8Array.of(0));
    expect(toHex(one(conf, A.RESPONDER_BOOTSTRAPPING_KEY_HASH))).toBe(capture.controller.pkhash);
    // {I-auth tag}: a hash-length tag under one attribute header, and the SIV.
    expect(one(conf, A.WRAPPED_DATA)).toHaveLength(4 + 2 * NONCE[capture.curve]! + SIV);
  });

  it('GAS Initial Request and Response: the DPP advertisement protocol, a whole query', () => {
    const req = decoded[3]!;
    const resp = decoded[4]!;
    expect(req.kind).toBe('gas-initial-request');
    expect(resp.kind).toBe('gas-initial-response');
    if (req.kind !== 'gas-initial-request' || resp.kind !== 'gas-initial-response') return;
    expect(req.advertisement).toEqual(DEFAULT_GAS_ADVERTISEMENT);
    expect(resp.advertisement).toEqual(DEFAULT_GAS_ADVERTISEMENT);
    expect(resp.dialogToken).toBe(req.dialogToken);
    expect(resp.statusCode).toBe(0);
    expect(resp.comebackDelay).toBe(0);
    // The Configuration Request is all in Wrapped Data; the Response adds a Status before it.
    expect(ids(req)).toEqual([A.WRAPPED_DATA]);
    expect(ids(resp)).toEqual([A.STATUS, A.WRAPPED_DATA]);
    expect(findDppAttribute(resp.query, A.STATUS)).toEqual(Uint8Array.of(0));
  });

  it('Configuration Result: Wrapped Data only', () => {
    // {Status, E-nonce}, encrypted.
    expect(ids(decoded[5]!)).toEqual([A.WRAPPED_DATA]);
    expect(one(decoded[5]!, A.WRAPPED_DATA)).toHaveLength(4 + 1 + 4 + NONCE[capture.curve]! + SIV);
  });

  it('writes every decoded message back to the same octets, framed and over the air', () => {
    decoded.forEach((m, i) => {
      expect(toHex(encodeDppTcpMessage(m))).toBe(toHex(frames[i]!));
      expect(toHex(frameDppTcpMessage(encodeDppTcpMessage(m)))).toBe(capture.messages[i]!.hex);
      const overTheAir = encodePublicActionFrame(m);
      expect(overTheAir[0]).toBe(0x04);
      expect(toHex(overTheAir.subarray(1))).toBe(toHex(frames[i]!));
      expect(decodePublicActionFrame(overTheAir)).toEqual(m);
      const attributes = attributesOf(m);
      expect(decodeDppAttributes(encodeDppAttributes(attributes))).toEqual(attributes);
    });
  });
});

describe('DPP attributes: refusals', () => {
  const status = Uint8Array.of(0x00, 0x10, 0x01, 0x00, 0x00); // Status, length 1, OK
  const wrapped = Uint8Array.of(0x04, 0x10, 0x02, 0x00, 0xaa, 0xbb);

  it('reads an empty list, and keeps an attribute of an unknown ID', () => {
    expect(decodeDppAttributes(new Uint8Array(0))).toEqual([]);
    const unknown = Uint8Array.of(0x34, 0x12, 0x01, 0x00, 0x07);
    expect(decodeDppAttributes(unknown)).toEqual([{ id: 0x1234, value: Uint8Array.of(7) }]);
    expect(encodeDppAttributes(decodeDppAttributes(unknown))).toEqual(unknown);
    expect(dppAttributeName(0x1234)).toBe('0x1234');
    expect(dppAttributeName(0x1022)).toBe('CONFIGURATOR_NONCE');
  });

  it.each([
    ['a header cut short', concatBytes(status, Uint8Array.of(0x00, 0x10, 0x01))],
    ['a value cut short', status.subarray(0, 4)],
    ['a length beyond the end', Uint8Array.of(0x00, 0x10, 0xff, 0xff, 0x00)],
    ['trailing octets', concatBytes(status, Uint8Array.of(0x00))],
    ['an attribute after Wrapped Data', concatBytes(wrapped, status)],
  ])('refuses %s: ERR_DPP_FRAME', (_name, bytes) => {
    expect(codeOf(() => decodeDppAttributes(bytes))).toBe('ERR_DPP_FRAME');
  });

  it('names the offset at fault', () => {
    try {
      decodeDppAttributes(concatBytes(status, Uint8Array.of(0x00, 0x10, 0x09, 0x00, 0x01)));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(AirlockError);
      expect((e as AirlockError).details).toMatchObject({ offset: 5, attribute: 0x1000 });
    }
  });

  it('refuses to write what it would not read', () => {
    const big = { id: A.CONFIGURATION_OBJECT, value: new Uint8Array(0x10000) };
    expect(codeOf(() => encodeDppAttributes([big]))).toBe('ERR_DPP_FRAME');
    expect(codeOf(() => encodeDppAttributes([{ id: 0x10000, value: new Uint8Array(0) }]))).toBe(
      'ERR_DPP_FRAME',
    );
    expect(
      codeOf(() =>
        encodeDppAttributes([
          { id: A.WRAPPED_DATA, value: new Uint8Array(16) },
          { id: A.STATUS, value: Uint8Array.of(0) },
        ]),
      ),
    ).toBe('ERR_DPP_FRAME');
  });
});

describe('DPP and GAS frames: refusals', () => {
  const capture = captures[0]!;
  const authRequest = hex(capture.messages[0]!.hex).subarray(4);
  const gasRequest = hex(capture.messages[3]!.hex).subarray(4);
  const gasResponse = hex(capture.messages[4]!.hex).subarray(4);
  const patched = (frame: Uint8Array, at: number, value: number): Uint8Array => {
    const copy = frame.slice();
    copy[at] = value;
    return copy;
  };
  const refused = (frame: Uint8Array): string => codeOf(() => decodeDppTcpMessage(frame));

  it.each([
    ['a truncated attribute', authRequest.subarray(0, authRequest.length - 1)],
    ['trailing garbage', concatBytes(authRequest, Uint8Array.of(0xde, 0xad))],
    ['another OUI', patched(authRequest, 1, 0x00)],
    ['another OUI type (0x1B)', patched(authRequest, 4, 0x1b)],
    ['an unknown Crypto Suite (2)', patched(authRequest, 5, 0x02)],
    ['Crypto Suite 0', patched(authRequest, 5, 0x00)],
    ['an undefined DPP Frame Type (3)', patched(authRequest, 6, 3)],
    ['an undefined DPP Frame Type (200)', patched(authRequest, 6, 200)],
    ['a header cut short', authRequest.subarray(0, 5)],
    ['an empty frame', new Uint8Array(0)],
    ['another Public Action (0x0E)', patched(authRequest, 0, 0x0e)],
    ['the Category octet, over TCP', concatBytes(Uint8Array.of(0x04), authRequest)],
  ])('refuses %s: ERR_DPP_FRAME', (_name, frame) => {
    expect(refused(frame)).toBe('ERR_DPP_FRAME');
  });

  it.each([
    ['another element than Advertisement Protocol', patched(gasRequest, 2, 0xdd)],
    ['an Advertisement Protocol that is not DPP (ANQP)', patched(gasRequest, 5, 0x00)],
    ['another DPP advertisement subtype', patched(gasRequest, 11, 0x02)],
    ['an element of another length', patched(gasRequest, 3, 7)],
    ['a Query Request length beyond the end', patched(gasRequest, 13, 0xff)],
    ['a query that is not whole attributes', concatBytes(gasRequest, Uint8Array.of(0))],
    ['a GAS response cut in its header', gasResponse.subarray(0, 5)],
    ['a Comeback Request with octets after its token', Uint8Array.of(0x0c, 0x00, 0x00)],
  ])('refuses a GAS frame with %s: ERR_DPP_FRAME', (_name, frame) => {
    expect(refused(frame)).toBe('ERR_DPP_FRAME');
  });

  it('reads and writes the GAS comeback frames hostap sends over TCP', () => {
    // What dpp_tcp_send_comeback_delay writes: a Comeback Response with a 500 TU delay, no query.
    const comeback = Uint8Array.of(
      0x0d,
      0x07,
      0x00,
      0x00,
      0x00,
      0xf4,
      0x01,
      0x6c,
      0x08,
      0x7f,
      0xdd,
      0x05,
      0x50,
      0x6f,
      0x9a,
      0x1a,
      0x01,
      0x00,
      0x00,
    );
    const m = decodeDppTcpMessage(comeback);
    expect(m).toEqual({
      kind: 'gas-comeback-response',
      dialogToken: 7,
      statusCode: 0,
      fragmentId: 0,
      comebackDelay: 500,
      advertisement: DEFAULT_GAS_ADVERTISEMENT,
      query: [],
    });
    expect(encodeDppTcpMessage(m)).toEqual(comeback);
    const request = Uint8Array.of(0x0c, 0x07);
    expect(decodeDppTcpMessage(request)).toEqual({ kind: 'gas-comeback-request', dialogToken: 7 });
    expect(encodeDppTcpMessage({ kind: 'gas-comeback-request', dialogToken: 7 })).toEqual(request);
  });

  it('refuses an over-the-air frame of another Category', () => {
    expect(
      codeOf(() => decodePublicActionFrame(concatBytes(Uint8Array.of(0x7f), authRequest))),
    ).toBe('ERR_DPP_FRAME');
  });

  it('refuses to write an undefined frame type or a field out of range', () => {
    expect(codeOf(() => encodeDppTcpMessage({ kind: 'dpp', frameType: 4, attributes: [] }))).toBe(
      'ERR_DPP_FRAME',
    );
    expect(
      codeOf(() => encodeDppTcpMessage({ kind: 'gas-comeback-request', dialogToken: 256 })),
    ).toBe('ERR_DPP_FRAME');
    expect(
      codeOf(() =>
        encodeDppTcpMessage({
          kind: 'gas-initial-request',
          dialogToken: 0,
          advertisement: { queryResponseLengthLimit: 128, pameBi: false },
          query: [],
        }),
      ),
    ).toBe('ERR_DPP_FRAME');
  });
});

describe('DPP over TCP: framing refusals', () => {
  const length = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  };

  it('refuses an oversized length as soon as it is read, and then everything', () => {
    const decoder = new DppTcpDecoder();
    expect(codeOf(() => decoder.push(length(DPP_TCP_MAX_MESSAGE + 1)))).toBe('ERR_DPP_FRAME');
    expect(codeOf(() => decoder.push(concatBytes(length(1), Uint8Array.of(9))))).toBe(
      'ERR_DPP_FRAME',
    );
    expect(codeOf(() => decoder.end())).toBe('ERR_DPP_FRAME');
  });

  it('refuses 0xFFFFFFFF, a length of 0, and a smaller limit of its own', () => {
    expect(codeOf(() => new DppTcpDecoder().push(length(0xffffffff)))).toBe('ERR_DPP_FRAME');
    expect(codeOf(() => new DppTcpDecoder().push(length(0)))).toBe('ERR_DPP_FRAME');
    const small = new DppTcpDecoder(100);
    expect(small.push(concatBytes(length(100), new Uint8Array(100)))).toHaveLength(1);
    expect(codeOf(() => small.push(length(101)))).toBe('ERR_DPP_FRAME');
    expect(codeOf(() => frameDppTcpMessage(new Uint8Array(101), 100))).toBe('ERR_DPP_FRAME');
    expect(codeOf(() => frameDppTcpMessage(new Uint8Array(0)))).toBe('ERR_DPP_FRAME');
  });

  it('holds a message cut short, and refuses it when the stream ends', () => {
    const decoder = new DppTcpDecoder();
    expect(decoder.push(concatBytes(length(10), new Uint8Array(3)))).toEqual([]);
    expect(decoder.pending).toBe(7);
    expect(codeOf(() => decoder.end())).toBe('ERR_DPP_FRAME');
    const header = new DppTcpDecoder();
    expect(header.push(Uint8Array.of(0, 0))).toEqual([]);
    expect(codeOf(() => header.end())).toBe('ERR_DPP_FRAME');
  });

  it('takes a length split across chunks', () => {
    const decoder = new DppTcpDecoder();
    expect(decoder.push(Uint8Array.of(0, 0, 0))).toEqual([]);
    expect(decoder.push(Uint8Array.of(2, 0x0c))).toEqual([]);
    expect(decoder.push(Uint8Array.of(0x05, 0, 0, 0))).toEqual([Uint8Array.of(0x0c, 0x05)]);
    expect(decoder.pending).toBe(3);
  });
});
