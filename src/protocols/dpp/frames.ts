/**
 * DPP frames as Wi-Fi Easy Connect R2 carries them over TCP (port 8908), read and
 * written octet for octet as wpa_supplicant 2.10 does (hostap src/common/dpp_tcp.c):
 *
 * - Each TCP message is a 4-octet big-endian length, then that many octets of frame. The
 *   frame is an IEEE 802.11 Public Action frame body WITHOUT its Category octet (0x04, Public):
 *   it starts at the Public Action field. `decodeDppTcpMessage` reads that form;
 *   `decodePublicActionFrame` reads the over-the-air form, Category first.
 * - Public Action 0x09 (Vendor Specific): OUI 50 6F 9A (Wi-Fi Alliance), OUI type 0x1A (DPP),
 *   Crypto Suite 0x01, DPP Frame Type, then DPP attributes (attributes.ts).
 * - GAS frames (IEEE 802.11 section 9.6.7, Public Action 0x0A to 0x0D) carry the DPP
 *   Configuration protocol. The Initial Request: Dialog Token, the Advertisement Protocol
 *   element, Query Request Length (2 octets, little-endian), the query (DPP attributes). The
 *   Initial Response: Dialog Token, Status Code, GAS Comeback Delay, the element, Query
 *   Response Length, the query. The Comeback Request: Dialog Token only. The Comeback
 *   Response: as the Initial Response, with a GAS Query Response Fragment ID after the Status
 *   Code. The Advertisement Protocol element (ID 108, length 8) holds one tuple: the Query
 *   Response Length Limit (7 bits) and PAME-BI (bit 7) octet, then the vendor-specific
 *   Advertisement Protocol ID naming DPP: DD 05 50 6F 9A 1A 01. hostap writes 6C 08 7F DD 05
 *   50 6F 9A 1A 01, and reads nothing else.
 *
 * Strict: anything else is ERR_DPP_FRAME, naming the octet at fault (`details.offset`): a
 * frame cut short or with octets after its end, another OUI or OUI type, a Crypto Suite
 * other than 1, a DPP Frame Type hostap does not define, another Advertisement Protocol, a
 * GAS query that is not whole DPP attributes, a TCP message of 0 octets or longer than the
 * limit. Over TCP, GAS frames are never fragmented (the Relay does that over the air), so a
 * query is always whole attributes.
 *
 * Pure: no Node. No cryptography: Wrapped Data stays an opaque attribute value here.
 */
import { AirlockError } from '../../core/errors.js';
import { decodeDppAttributes, encodeDppAttributes, type DppAttribute } from './attributes.js';

/** IEEE 802.11 Category: Public. */
export const CATEGORY_PUBLIC = 0x04;

/** Public Action field values (IEEE 802.11) that DPP over TCP uses. */
export const PublicAction = {
  VENDOR_SPECIFIC: 0x09,
  GAS_INITIAL_REQUEST: 0x0a,
  GAS_INITIAL_RESPONSE: 0x0b,
  GAS_COMEBACK_REQUEST: 0x0c,
  GAS_COMEBACK_RESPONSE: 0x0d,
} as const;

/** Wi-Fi Alliance OUI, and its OUI type for DPP. */
export const WFA_OUI = Uint8Array.of(0x50, 0x6f, 0x9a);
export const DPP_OUI_TYPE = 0x1a;
/** The only Crypto Suite DPP defines. */
export const DPP_CRYPTO_SUITE = 0x01;

/** DPP Frame Types: hostap's `enum dpp_public_action_frame_type` (src/common/dpp.h). */
export const DppFrameType = {
  AUTHENTICATION_REQUEST: 0,
  AUTHENTICATION_RESPONSE: 1,
  AUTHENTICATION_CONFIRM: 2,
  PEER_DISCOVERY_REQUEST: 5,
  PEER_DISCOVERY_RESPONSE: 6,
  /** PKEX version 1; hostap refuses it over TCP. */
  PKEX_V1_EXCHANGE_REQUEST: 7,
  PKEX_EXCHANGE_RESPONSE: 8,
  PKEX_COMMIT_REVEAL_REQUEST: 9,
  PKEX_COMMIT_REVEAL_RESPONSE: 10,
  CONFIGURATION_RESULT: 11,
  CONNECTION_STATUS_RESULT: 12,
  PRESENCE_ANNOUNCEMENT: 13,
  RECONFIG_ANNOUNCEMENT: 14,
  RECONFIG_AUTHENTICATION_REQUEST: 15,
  RECONFIG_AUTHENTICATION_RESPONSE: 16,
  RECONFIG_AUTHENTICATION_CONFIRM: 17,
  PKEX_EXCHANGE_REQUEST: 18,
  PUSH_BUTTON_PRESENCE_ANNOUNCEMENT: 19,
  PUSH_BUTTON_PRESENCE_ANNOUNCEMENT_RESPONSE: 20,
  PRIVATE_PEER_INTRODUCTION_QUERY: 21,
  PRIVATE_PEER_INTRODUCTION_NOTIFY: 22,
  PRIVATE_PEER_INTRODUCTION_UPDATE: 23,
} as const;

export type DppFrameTypeName = keyof typeof DppFrameType;

const FRAME_TYPE_NAMES = new Map<number, DppFrameTypeName>(
  (Object.entries(DppFrameType) as [DppFrameTypeName, number][]).map(([n, t]) => [t, n]),
);

export function dppFrameTypeName(type: number): string {
  return FRAME_TYPE_NAMES.get(type) ?? `unknown (${type})`;
}

/** IEEE 802.11 element IDs. */
const ELEMENT_ADVERTISEMENT_PROTOCOL = 108;
const ELEMENT_VENDOR_SPECIFIC = 221;
/** The Advertisement Protocol ID's last octet: the DPP Configuration protocol. */
const DPP_CONFIGURATION_PROTOCOL = 0x01;

/** hostap refuses longer TCP messages (dpp_controller_rx). */
export const DPP_TCP_MAX_MESSAGE = 65535;

/** The Advertisement Protocol tuple's first octet: what hostap writes is 0x7F, PAME-BI 0. */
export interface GasAdvertisement {
  /** 0 to 127. */
  queryResponseLengthLimit: number;
  pameBi: boolean;
}

export interface DppActionFrame {
  kind: 'dpp';
  /** One of DppFrameType. */
  frameType: number;
  attributes: DppAttribute[];
}

export interface GasInitialRequest {
  kind: 'gas-initial-request';
  dialogToken: number;
  advertisement: GasAdvertisement;
  /** The Query Request: DPP attributes (the Configuration Request's Wrapped Data). */
  query: DppAttribute[];
}

export interface GasInitialResponse {
  kind: 'gas-initial-response';
  dialogToken: number;
  /** IEEE 802.11 Status Code; 0 is success. */
  statusCode: number;
  /** In TUs (1024 microseconds); not 0 when the Configurator is not ready yet. */
  comebackDelay: number;
  advertisement: GasAdvertisement;
  /** The Query Response: DPP attributes (Status, Wrapped Data), empty while coming back. */
  query: DppAttribute[];
}

export interface GasComebackRequest {
  kind: 'gas-comeback-request';
  dialogToken: number;
}

export interface GasComebackResponse extends Omit<GasInitialResponse, 'kind'> {
  kind: 'gas-comeback-response';
  /** GAS Query Response Fragment ID: bit 7 "more fragments", bits 0-6 the fragment number. */
  fragmentId: number;
}

export type DppMessage =
  | DppActionFrame
  | GasInitialRequest
  | GasInitialResponse
  | GasComebackRequest
  | GasComebackResponse;

function refuse(detail: string, offset?: number): never {
  throw new AirlockError(
    'ERR_DPP_FRAME',
    detail,
    offset === undefined ? undefined : { details: { offset } },
  );
}

/** A cursor over a frame, refusing to read past its end. */
class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    /** Where `bytes` starts in what the caller handed over, for error offsets. */
    readonly base: number,
  ) {}
  need(n: number, what: string): void {
    if (this.bytes.length - this.pos < n)
      refuse(`the frame ends before its ${what}`, this.base + this.pos);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }
  le16(what: string): number {
    this.need(2, what);
    const v = this.bytes[this.pos]! | (this.bytes[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  rest(): Uint8Array {
    const v = this.bytes.subarray(this.pos);
    this.pos = this.bytes.length;
    return v;
  }
  end(): void {
    if (this.pos !== this.bytes.length)
      refuse(
        `${this.bytes.length - this.pos} octet(s) after the end of the frame`,
        this.base + this.pos,
      );
  }
}

/** Reads one frame as carried over TCP: from the Public Action field on, no Category. */
export function decodeDppTcpMessage(frame: Uint8Array): DppMessage {
  return decodeFrom(new Reader(frame, 0));
}

/** Reads an over-the-air Public Action frame body: Category 0x04, then as over TCP. */
export function decodePublicActionFrame(body: Uint8Array): DppMessage {
  const r = new Reader(body, 0);
  const category = r.u8('Category');
  if (category !== CATEGORY_PUBLIC)
    refuse(`Category ${category} is not Public (${CATEGORY_PUBLIC})`, 0);
  return decodeFrom(new Reader(r.rest(), 1));
}

function decodeFrom(r: Reader): DppMessage {
  const action = r.u8('Public Action field');
  switch (action) {
    case PublicAction.VENDOR_SPECIFIC:
      return readDppAction(r);
    case PublicAction.GAS_INITIAL_REQUEST: {
      const dialogToken = r.u8('Dialog Token');
      const advertisement = readAdvertisement(r);
      const query = readQuery(r, 'Query Request');
      return { kind: 'gas-initial-request', dialogToken, advertisement, query };
    }
    case PublicAction.GAS_INITIAL_RESPONSE:
    case PublicAction.GAS_COMEBACK_RESPONSE: {
      const dialogToken = r.u8('Dialog Token');
      const statusCode = r.le16('Status Code');
      const fragmentId =
        action === PublicAction.GAS_COMEBACK_RESPONSE ? r.u8('Fragment ID') : undefined;
      const comebackDelay = r.le16('GAS Comeback Delay');
      const advertisement = readAdvertisement(r);
      const query = readQuery(r, 'Query Response');
      return fragmentId === undefined
        ? {
            kind: 'gas-initial-response',
            dialogToken,
            statusCode,
            comebackDelay,
            advertisement,
            query,
          }
        : {
            kind: 'gas-comeback-response',
            dialogToken,
            statusCode,
            fragmentId,
            comebackDelay,
            advertisement,
            query,
          };
    }
    case PublicAction.GAS_COMEBACK_REQUEST: {
      const dialogToken = r.u8('Dialog Token');
      r.end();
      return { kind: 'gas-comeback-request', dialogToken };
    }
    default:
      return refuse(`Public Action ${action} is neither DPP nor GAS`, r.base + r.pos - 1);
  }
}

function readDppAction(r: Reader): DppActionFrame {
  const ouiAt = r.base + r.pos;
  const oui = r.take(3, 'OUI');
  if (oui[0] !== WFA_OUI[0] || oui[1] !== WFA_OUI[1] || oui[2] !== WFA_OUI[2])
    refuse(`OUI ${hex(oui)} is not the Wi-Fi Alliance's (50 6F 9A)`, ouiAt);
  const ouiType = r.u8('OUI type');
  if (ouiType !== DPP_OUI_TYPE)
    refuse(`OUI type ${ouiType} is not DPP (${DPP_OUI_TYPE})`, r.base + r.pos - 1);
  const suite = r.u8('Crypto Suite');
  if (suite !== DPP_CRYPTO_SUITE)
    refuse(`Crypto Suite ${suite} is not one DPP defines (1)`, r.base + r.pos - 1);
  const frameType = r.u8('DPP Frame Type');
  if (!FRAME_TYPE_NAMES.has(frameType))
    refuse(`DPP Frame Type ${frameType} is not defined`, r.base + r.pos - 1);
  const at = r.base + r.pos;
  return { kind: 'dpp', frameType, attributes: attributesAt(r.rest(), at) };
}

function readAdvertisement(r: Reader): GasAdvertisement {
  const at = r.base + r.pos;
  const id = r.u8('Advertisement Protocol element');
  if (id !== ELEMENT_ADVERTISEMENT_PROTOCOL)
    refuse(`element ${id} where the Advertisement Protocol element (108) belongs`, at);
  const length = r.u8('Advertisement Protocol element length');
  const body = r.take(length, 'Advertisement Protocol element');
  // One tuple: the limit/PAME-BI octet, then the vendor-specific Advertisement Protocol ID.
  if (
    length !== 8 ||
    body[1] !== ELEMENT_VENDOR_SPECIFIC ||
    body[2] !== 5 ||
    body[3] !== WFA_OUI[0] ||
    body[4] !== WFA_OUI[1] ||
    body[5] !== WFA_OUI[2] ||
    body[6] !== DPP_OUI_TYPE ||
    body[7] !== DPP_CONFIGURATION_PROTOCOL
  )
    refuse(`the Advertisement Protocol is not DPP (${hex(body)})`, at);
  return { queryResponseLengthLimit: body[0]! & 0x7f, pameBi: (body[0]! & 0x80) !== 0 };
}

function readQuery(r: Reader, what: string): DppAttribute[] {
  const length = r.le16(`${what} Length`);
  const at = r.base + r.pos;
  const query = r.take(length, what);
  r.end();
  return attributesAt(query, at);
}

/** decodeDppAttributes, with offsets counted from the start of the frame. */
function attributesAt(bytes: Uint8Array, at: number): DppAttribute[] {
  try {
    return decodeDppAttributes(bytes);
  } catch (e) {
    if (e instanceof AirlockError && typeof e.details.offset === 'number')
      throw new AirlockError('ERR_DPP_FRAME', e.message.replace(/^[^:]*: /, ''), {
        cause: e,
        details: { ...e.details, offset: at + e.details.offset },
      });
    throw e;
  }
}

function hex(b: Uint8Array): string {
  return Array.from(b.subarray(0, 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

function u8(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) refuse(`${what} ${v} is not one octet`);
  return v;
}

function le16(v: number, what: string): [number, number] {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) refuse(`${what} ${v} is not two octets`);
  return [v & 0xff, v >> 8];
}

/** Writes one frame as carried over TCP (no Category), refusing what the decoder refuses. */
export function encodeDppTcpMessage(message: DppMessage): Uint8Array {
  switch (message.kind) {
    case 'dpp': {
      if (!FRAME_TYPE_NAMES.has(message.frameType))
        refuse(`DPP Frame Type ${message.frameType} is not defined`);
      return join(
        [PublicAction.VENDOR_SPECIFIC, ...WFA_OUI, DPP_OUI_TYPE, DPP_CRYPTO_SUITE],
        [message.frameType],
        encodeDppAttributes(message.attributes),
      );
    }
    case 'gas-initial-request':
      return join(
        [PublicAction.GAS_INITIAL_REQUEST, u8(message.dialogToken, 'Dialog Token')],
        advertisement(message.advertisement),
        query(message.query),
      );
    case 'gas-initial-response':
    case 'gas-comeback-response': {
      const comeback = message.kind === 'gas-comeback-response';
      return join(
        [
          comeback ? PublicAction.GAS_COMEBACK_RESPONSE : PublicAction.GAS_INITIAL_RESPONSE,
          u8(message.dialogToken, 'Dialog Token'),
          ...le16(message.statusCode, 'Status Code'),
        ],
        comeback ? [u8(message.fragmentId, 'Fragment ID')] : [],
        le16(message.comebackDelay, 'GAS Comeback Delay'),
        advertisement(message.advertisement),
        query(message.query),
      );
    }
    case 'gas-comeback-request':
      return Uint8Array.of(
        PublicAction.GAS_COMEBACK_REQUEST,
        u8(message.dialogToken, 'Dialog Token'),
      );
    default:
      return refuse('not a DPP or GAS message');
  }
}

/** Writes an over-the-air Public Action frame body: Category 0x04, then as over TCP. */
export function encodePublicActionFrame(message: DppMessage): Uint8Array {
  return join([CATEGORY_PUBLIC], encodeDppTcpMessage(message));
}

/** hostap's default: Query Response Length Limit 0x7F, PAME-BI 0. */
export const DEFAULT_GAS_ADVERTISEMENT: Readonly<GasAdvertisement> = Object.freeze({
  queryResponseLengthLimit: 0x7f,
  pameBi: false,
});

function advertisement(a: GasAdvertisement): number[] {
  const limit = a.queryResponseLengthLimit;
  if (!Number.isInteger(limit) || limit < 0 || limit > 0x7f)
    refuse(`Query Response Length Limit ${limit} is not 0 to 127`);
  return [
    ELEMENT_ADVERTISEMENT_PROTOCOL,
    8,
    limit | (a.pameBi ? 0x80 : 0),
    ELEMENT_VENDOR_SPECIFIC,
    5,
    ...WFA_OUI,
    DPP_OUI_TYPE,
    DPP_CONFIGURATION_PROTOCOL,
  ];
}

function query(attributes: readonly DppAttribute[]): Uint8Array {
  const body = encodeDppAttributes(attributes);
  return join(le16(body.length, 'Query Length'), body);
}

function join(...parts: (ArrayLike<number> & { length: number })[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

// --- TCP framing --------------------------------------------------------------------------

/** One TCP message: the 4-octet big-endian length, then the frame. */
export function frameDppTcpMessage(
  frame: Uint8Array,
  maxMessageSize = DPP_TCP_MAX_MESSAGE,
): Uint8Array {
  if (frame.length === 0) refuse('a TCP message of 0 octets');
  if (frame.length > maxMessageSize)
    refuse(`a TCP message of ${frame.length} octets, more than ${maxMessageSize}`);
  const out = new Uint8Array(4 + frame.length);
  new DataView(out.buffer).setUint32(0, frame.length);
  out.set(frame, 4);
  return out;
}

/**
 * Cuts a TCP byte stream into messages. Feed it chunks as they arrive, in any sizes (a chunk
 * may end mid-length, or hold two messages: wpa_supplicant writes its Authentication Confirm
 * and its Configuration Request back to back); `push` returns the frames now whole, without
 * their length prefix. A length of 0 or above `maxMessageSize` is refused as soon as its
 * 4 octets are in (before anything is buffered); after a refusal the decoder refuses
 * everything. `end` refuses a stream that stops mid-message.
 */
export class DppTcpDecoder {
  private buffer = new Uint8Array(0);
  /** Octets of stream consumed before `buffer`, for error offsets. */
  private consumed = 0;
  private failed = false;

  constructor(readonly maxMessageSize = DPP_TCP_MAX_MESSAGE) {
    if (!Number.isInteger(maxMessageSize) || maxMessageSize < 1 || maxMessageSize > 0xffffffff)
      throw new AirlockError('ERR_CONFIG', `maxMessageSize ${maxMessageSize} is not 1 to 2^32-1`);
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) refuse('the stream was already refused');
    const messages: Uint8Array[] = [];
    let buf = this.buffer.length === 0 ? chunk : join(this.buffer, chunk);
    try {
      while (buf.length >= 4) {
        const length = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
        if (length === 0) refuse('a TCP message of 0 octets', this.consumed);
        if (length > this.maxMessageSize)
          refuse(
            `a TCP message of ${length} octets, more than ${this.maxMessageSize}`,
            this.consumed,
          );
        if (buf.length < 4 + length) break;
        messages.push(buf.slice(4, 4 + length));
        buf = buf.subarray(4 + length);
        this.consumed += 4 + length;
      }
    } catch (e) {
      this.failed = true;
      this.buffer = new Uint8Array(0);
      throw e;
    }
    this.buffer = buf.slice();
    return messages;
  }

  /** Octets held of a message not yet whole. */
  get pending(): number {
    return this.buffer.length;
  }

  /** The peer closed: refuses a message cut short. */
  end(): void {
    if (this.failed) refuse('the stream was already refused');
    if (this.buffer.length > 0)
      refuse(`the stream ended ${this.buffer.length} octet(s) into a message`, this.consumed);
  }
}
