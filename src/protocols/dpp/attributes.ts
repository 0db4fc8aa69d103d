/**
 * DPP attributes (Wi-Fi Easy Connect, the "DPP attributes" table): the TLVs every DPP frame,
 * and the plaintext inside its Wrapped Data, is made of. Each is a 2-octet little-endian
 * Attribute ID, a 2-octet little-endian length, and that many octets of value.
 *
 * The IDs are those of hostap's `enum dpp_attribute_id` (src/common/dpp.h), which
 * wpa_supplicant 2.10 puts on the wire; the names here spell out hostap's abbreviations.
 *
 * Reading is strict, as hostap's `dpp_check_attrs` is: a header cut short, a value longer
 * than what remains, octets left after the last attribute, or any attribute after Wrapped Data
 * (which must come last: its AES-SIV associated data is everything before it) are each
 * ERR_DPP_FRAME. Attributes of IDs this code does not know are kept and written back as they
 * came: a later version may add some, and hostap skips what it does not know.
 *
 * Pure: no Node. Values are not interpreted here (a nonce's length, a key's point, a status
 * code): that belongs to whoever uses the frame.
 */
import { AirlockError } from '../../core/errors.js';

export const DppAttributeId = {
  STATUS: 0x1000,
  INITIATOR_BOOTSTRAPPING_KEY_HASH: 0x1001,
  RESPONDER_BOOTSTRAPPING_KEY_HASH: 0x1002,
  INITIATOR_PROTOCOL_KEY: 0x1003,
  WRAPPED_DATA: 0x1004,
  INITIATOR_NONCE: 0x1005,
  INITIATOR_CAPABILITIES: 0x1006,
  RESPONDER_NONCE: 0x1007,
  RESPONDER_CAPABILITIES: 0x1008,
  RESPONDER_PROTOCOL_KEY: 0x1009,
  INITIATOR_AUTHENTICATING_TAG: 0x100a,
  RESPONDER_AUTHENTICATING_TAG: 0x100b,
  CONFIGURATION_OBJECT: 0x100c,
  CONNECTOR: 0x100d,
  CONFIGURATION_ATTRIBUTES_OBJECT: 0x100e,
  BOOTSTRAPPING_KEY: 0x100f,
  /** Only in hostap's first DPP code (DPP_ATTR_PEER_NET_PK_HASH); no longer sent. */
  PEER_NETWORK_PUBLIC_KEY_HASH: 0x1010,
  OWN_NETWORK_NK_HASH: 0x1011,
  FINITE_CYCLIC_GROUP: 0x1012,
  ENCRYPTED_KEY: 0x1013,
  ENROLLEE_NONCE: 0x1014,
  CODE_IDENTIFIER: 0x1015,
  TRANSACTION_ID: 0x1016,
  BOOTSTRAPPING_INFO: 0x1017,
  CHANNEL: 0x1018,
  PROTOCOL_VERSION: 0x1019,
  ENVELOPED_DATA: 0x101a,
  SEND_CONNECTION_STATUS: 0x101b,
  CONNECTION_STATUS: 0x101c,
  RECONFIG_FLAGS: 0x101d,
  C_SIGN_KEY_HASH: 0x101e,
  CSR_ATTRIBUTES_REQUEST: 0x101f,
  A_NONCE: 0x1020,
  E_PRIME_ID: 0x1021,
  CONFIGURATOR_NONCE: 0x1022,
} as const;

export type DppAttributeName = keyof typeof DppAttributeId;

const NAMES = new Map<number, DppAttributeName>(
  (Object.entries(DppAttributeId) as [DppAttributeName, number][]).map(([name, id]) => [id, name]),
);

/** The name of an attribute ID, or `0x1234` for one this code does not know. */
export function dppAttributeName(id: number): string {
  return NAMES.get(id) ?? `0x${id.toString(16).padStart(4, '0')}`;
}

export interface DppAttribute {
  /** 0 to 65535; one of DppAttributeId, or an ID this code does not know. */
  id: number;
  /** At most 65535 octets. */
  value: Uint8Array;
}

const MAX_U16 = 0xffff;

function refuse(detail: string, details?: Record<string, string | number>): never {
  throw new AirlockError('ERR_DPP_FRAME', detail, details ? { details } : undefined);
}

/** Reads a whole attribute list; `bytes` must hold nothing else. */
export function decodeDppAttributes(bytes: Uint8Array): DppAttribute[] {
  const attributes: DppAttribute[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < 4)
      refuse(`${bytes.length - pos} octet(s) after the last attribute, too few for a header`, {
        offset: pos,
      });
    const id = bytes[pos]! | (bytes[pos + 1]! << 8);
    const length = bytes[pos + 2]! | (bytes[pos + 3]! << 8);
    pos += 4;
    if (length > bytes.length - pos)
      refuse(
        `attribute ${dppAttributeName(id)} claims ${length} octets, ${bytes.length - pos} remain`,
        { offset: pos - 4, attribute: id },
      );
    if (attributes.at(-1)?.id === DppAttributeId.WRAPPED_DATA)
      refuse(`attribute ${dppAttributeName(id)} after Wrapped Data, which must come last`, {
        offset: pos - 4,
        attribute: id,
      });
    attributes.push({ id, value: bytes.slice(pos, pos + length) });
    pos += length;
  }
  return attributes;
}

/** Writes an attribute list, refusing what decodeDppAttributes would refuse. */
export function encodeDppAttributes(attributes: readonly DppAttribute[]): Uint8Array {
  let total = 0;
  attributes.forEach((a, i) => {
    if (!Number.isInteger(a.id) || a.id < 0 || a.id > MAX_U16)
      refuse(`attribute ID ${String(a.id)} is not a 16-bit number`);
    if (!(a.value instanceof Uint8Array))
      refuse(`attribute ${dppAttributeName(a.id)} has no value`);
    if (a.value.length > MAX_U16)
      refuse(`attribute ${dppAttributeName(a.id)} is ${a.value.length} octets, at most 65535`);
    if (a.id === DppAttributeId.WRAPPED_DATA && i !== attributes.length - 1)
      refuse('Wrapped Data must be the last attribute');
    total += 4 + a.value.length;
  });
  const out = new Uint8Array(total);
  let pos = 0;
  for (const a of attributes) {
    out[pos] = a.id & 0xff;
    out[pos + 1] = a.id >> 8;
    out[pos + 2] = a.value.length & 0xff;
    out[pos + 3] = a.value.length >> 8;
    out.set(a.value, pos + 4);
    pos += 4 + a.value.length;
  }
  return out;
}

/** The value of the first attribute of `id`, if there is one. */
export function findDppAttribute(
  attributes: readonly DppAttribute[],
  id: number,
): Uint8Array | undefined {
  return attributes.find((a) => a.id === id)?.value;
}
