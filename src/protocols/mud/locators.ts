/**
 * The MUD URL where a device emits it on the network (RFC 8520 sections 9 and 11; report
 * section 5.1.1 step 4), for devices whose onboarding carries none:
 * - a DHCPv4 message: option 161 (RFC 8520 section 9.1);
 * - a DHCPv6 message: OPTION_MUD_URL_V6, 112 (section 9.2);
 * - an LLDPDU: an organizationally specific TLV, OUI 00-00-5E, subtype 1 (section 11).
 *
 * Each reader takes the bytes a network captured and returns the URL, if the message carries
 * one, with what identifies the sender. A message that is not what it claims to be is
 * ERR_INPUT_SCHEMA; a URL that is not https, or not printable ASCII, is refused too
 * (RFC 8520 sections 9 and 11: only an https MUD URL is acted on).
 */
import { AirlockError } from '../../core/errors.js';

export const DHCPV4_MUD_URL_OPTION = 161;
export const DHCPV6_MUD_URL_OPTION = 112;
const LLDP_ORG_TLV = 127;
const IANA_OUI = [0x00, 0x00, 0x5e] as const;
const LLDP_MUD_SUBTYPE = 1;
const DHCP_MAGIC = [0x63, 0x82, 0x53, 0x63] as const;

export interface Located {
  /** The MUD URL, if the message carries one. */
  mudUrl: string | undefined;
}

export interface Dhcpv4Located extends Located {
  /** The client's hardware address (chaddr), for Ethernet. */
  mac: string;
  /** The DHCP message type (option 53): 1 DISCOVER, 3 REQUEST, ... */
  messageType: number | undefined;
  /** Option 50, the address the client asks for, if any. */
  requestedAddress: string | undefined;
}

export interface Dhcpv6Located extends Located {
  messageType: number;
  /** The client's DUID (option 1), hex. */
  clientId: string | undefined;
}

export interface LldpLocated extends Located {
  /** The chassis ID TLV's value (subtype, then the ID), hex. */
  chassisId: string;
}

function bad(what: string): AirlockError {
  return new AirlockError('ERR_INPUT_SCHEMA', what);
}

/** A MUD URL as a locator carries it: https, printable ASCII, at most 255 bytes. */
function mudUrlOf(bytes: Uint8Array, where: string): string {
  if (bytes.length === 0 || bytes.length > 255)
    throw bad(`${where}: the MUD URL is 1 to 255 bytes`);
  let s = '';
  for (const b of bytes) {
    if (b < 0x21 || b > 0x7e) throw bad(`${where}: the MUD URL is not printable ASCII`);
    s += String.fromCharCode(b);
  }
  if (!/^https:\/\/[^/?#]+/i.test(s)) throw bad(`${where}: the MUD URL is not an https URL`);
  return s;
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

/** A BOOTP/DHCPv4 message (RFC 2131 section 2, RFC 2132 options; RFC 3396 for split options). */
export function dhcpv4MudUrl(msg: Uint8Array): Dhcpv4Located {
  if (msg.length < 240) throw bad('DHCPv4: shorter than its fixed fields');
  if (msg[0] !== 1) throw bad('DHCPv4: not a client message (op 1)');
  if (!DHCP_MAGIC.every((b, i) => msg[236 + i] === b)) throw bad('DHCPv4: no magic cookie');
  const htype = msg[1]!;
  const hlen = msg[2]!;
  if (htype !== 1 || hlen !== 6) throw bad('DHCPv4: not an Ethernet client');
  const mac = [...msg.subarray(28, 34)].map((x) => x.toString(16).padStart(2, '0')).join(':');
  // Options of one code given several times are one option, concatenated (RFC 3396).
  const options = new Map<number, number[]>();
  let p = 240;
  for (;;) {
    if (p >= msg.length) throw bad('DHCPv4: the options have no end');
    const code = msg[p]!;
    if (code === 255) break;
    if (code === 0) {
      p++;
      continue;
    }
    const len = msg[p + 1];
    if (len === undefined || p + 2 + len > msg.length)
      throw bad(`DHCPv4: option ${code} is truncated`);
    const held = options.get(code) ?? [];
    held.push(...msg.subarray(p + 2, p + 2 + len));
    options.set(code, held);
    p += 2 + len;
  }
  const url = options.get(DHCPV4_MUD_URL_OPTION);
  const type = options.get(53);
  const requested = options.get(50);
  return {
    mac,
    messageType: type?.length === 1 ? type[0] : undefined,
    requestedAddress: requested?.length === 4 ? requested.join('.') : undefined,
    mudUrl: url === undefined ? undefined : mudUrlOf(new Uint8Array(url), 'DHCPv4 option 161'),
  };
}

/** A DHCPv6 client message (RFC 8415 sections 8 and 21). Relay messages are not unwrapped. */
export function dhcpv6MudUrl(msg: Uint8Array): Dhcpv6Located {
  if (msg.length < 4) throw bad('DHCPv6: shorter than its header');
  const messageType = msg[0]!;
  if (messageType === 12 || messageType === 13) throw bad('DHCPv6: a relay message');
  let mudUrl: string | undefined;
  let clientId: string | undefined;
  let p = 4;
  while (p < msg.length) {
    if (p + 4 > msg.length) throw bad('DHCPv6: an option header is truncated');
    const code = (msg[p]! << 8) | msg[p + 1]!;
    const len = (msg[p + 2]! << 8) | msg[p + 3]!;
    if (p + 4 + len > msg.length) throw bad(`DHCPv6: option ${code} is truncated`);
    const value = msg.subarray(p + 4, p + 4 + len);
    if (code === DHCPV6_MUD_URL_OPTION) {
      if (mudUrl !== undefined) throw bad('DHCPv6: the MUD URL option is given twice');
      mudUrl = mudUrlOf(value, 'DHCPv6 option 112');
    } else if (code === 1) clientId = hex(value);
    p += 4 + len;
  }
  return { messageType, clientId, mudUrl };
}

/**
 * An LLDPDU (IEEE 802.1AB section 8: TLVs of a 7-bit type and a 9-bit length, ending with an
 * End TLV); given a whole Ethernet frame (ethertype 0x88cc, untagged), its payload is read.
 */
export function lldpMudUrl(bytes: Uint8Array): LldpLocated {
  let pdu = bytes;
  if (bytes.length >= 14 && bytes[12] === 0x88 && bytes[13] === 0xcc) pdu = bytes.subarray(14);
  let p = 0;
  let chassisId: string | undefined;
  let mudUrl: string | undefined;
  let index = 0;
  for (;;) {
    if (p + 2 > pdu.length) throw bad('LLDP: no End TLV');
    const header = (pdu[p]! << 8) | pdu[p + 1]!;
    const type = header >> 9;
    const len = header & 0x1ff;
    if (p + 2 + len > pdu.length) throw bad(`LLDP: TLV ${type} is truncated`);
    const value = pdu.subarray(p + 2, p + 2 + len);
    if (index === 0 && type !== 1) throw bad('LLDP: the first TLV is not the chassis ID');
    if (type === 0) break;
    if (type === 1) chassisId = hex(value);
    if (
      type === LLDP_ORG_TLV &&
      len >= 4 &&
      IANA_OUI.every((b, i) => value[i] === b) &&
      value[3] === LLDP_MUD_SUBTYPE
    ) {
      if (mudUrl !== undefined) throw bad('LLDP: the MUD URL TLV is given twice');
      mudUrl = mudUrlOf(value.subarray(4), 'LLDP MUD URL TLV');
    }
    p += 2 + len;
    index++;
  }
  return { chassisId: chassisId!, mudUrl };
}
