/**
 * The DPP bootstrapping URI (Wi-Fi Easy Connect v2/v3, section 5.2.1 "URI representation"):
 * what a device's QR code or NFC tag carries. `DPP:`, then tokens `X:value;`, then a final
 * `;`, so the URI ends in `;;`:
 *
 *   DPP:C:81/1,115/36;M:020000000100;I:SN4711;V:2;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgAD...;;
 *
 * - `C` channels: `class/channel`, a bare channel continuing the previous class (`81/1,6,11`);
 *   operating class and channel 1 to 255 (1 to 3 digits).
 * - `M` MAC address: 12 hex digits.  `I` information: printable ASCII but `;`, may be empty.
 * - `V` DPP version: digits, 1 to 255.  `H` host: an IP address, IPv4 with an optional `:port`,
 *   IPv6 bare or in brackets with an optional `]:port`; no host names.
 * - `K` the bootstrapping key (required): canonical base64 of its DER SubjectPublicKeyInfo,
 *   checked by bootstrapping-key.ts.
 * - Any other upper-case letter: a token of a later version, ignored, its value still checked
 *   to be printable ASCII. Each letter at most once; the tokens in any order (hostap's tests
 *   put `H` before `M`); no empty token.
 *
 * Every refusal is ERR_DPP_URI naming the token and what is wrong, quoting at most a short,
 * sanitized piece of the input. `formatDppUri` writes the tokens in wpa_supplicant's order
 * (C, M, I, V, H, K) and refuses anything `parseDppUri` would.
 */
import { toBase64, fromBase64 } from '../../core/bytes.js';
import { AirlockError } from '../../core/errors.js';
import { ipVersion } from '../../core/ip.js';
import { parseBootstrappingKey, type BootstrappingKey } from './bootstrapping-key.js';

export { bootstrappingKeyHash, type BootstrappingKey, type DppCurve } from './bootstrapping-key.js';

export interface DppChannel {
  opClass: number;
  channel: number;
}

export interface DppHost {
  /** An IPv4 or IPv6 address, without brackets. */
  address: string;
  port?: number;
}

export interface DppUri {
  channels?: DppChannel[];
  /** Lower-case, colon-separated: `02:00:00:00:01:00`. */
  mac?: string;
  info?: string;
  version?: number;
  host?: DppHost;
  key: BootstrappingKey;
  /** Tokens of letters this version does not know, by letter: kept, never interpreted. */
  unknown?: Record<string, string>;
}

/** What formatDppUri takes: a parsed URI, or fields with the key as DER and the MAC in either form. */
export interface DppUriInput extends Omit<DppUri, 'key' | 'unknown'> {
  key: BootstrappingKey | Uint8Array;
}

/** Longer than any QR code holds (2953 octets at most); NFC tags are smaller still. */
export const MAX_DPP_URI_LENGTH = 4096;

const PRINTABLE = /^[\x20-\x3a\x3c-\x7e]*$/;
const NUMBER = /^[0-9]{1,3}$/;

function refuse(token: string, detail: string): never {
  throw new AirlockError('ERR_DPP_URI', token ? `${token}: ${detail}` : detail, {
    details: token ? { token } : {},
  });
}

/** At most 16 characters of untrusted input, anything outside printable ASCII shown as `?`. */
function shown(s: string): string {
  const cut = s.length > 16 ? `${s.slice(0, 16)}...` : s;
  return JSON.stringify(cut.replace(/[^\x20-\x7e]/g, '?'));
}

export function parseDppUri(text: string): DppUri {
  if (typeof text !== 'string') refuse('', 'not text');
  if (text.length > MAX_DPP_URI_LENGTH) refuse('', `longer than ${MAX_DPP_URI_LENGTH} characters`);
  if (!text.startsWith('DPP:')) refuse('', `does not start with "DPP:" (${shown(text)})`);
  if (!text.endsWith(';;') || text.length < 6) refuse('', 'does not end with ";;"');
  const values = new Map<string, string>();
  for (const token of text.slice(4, -2).split(';')) {
    const m = /^([A-Z]):/.exec(token);
    if (!m) refuse('', `${shown(token)} is not a token (an upper-case letter, ":", a value)`);
    const letter = m[1]!;
    const value = token.slice(2);
    if (values.has(letter)) refuse(letter, 'the token appears twice');
    if (!PRINTABLE.test(value)) refuse(letter, 'a character outside printable ASCII');
    values.set(letter, value);
  }
  const uri: Omit<DppUri, 'key'> & { key?: BootstrappingKey } = {};
  const unknown: Record<string, string> = {};
  for (const [letter, value] of values) {
    if (letter === 'C') uri.channels = parseChannels(value);
    else if (letter === 'M') uri.mac = parseMac(value);
    else if (letter === 'I') uri.info = value;
    else if (letter === 'V') uri.version = parseNumber('V', value, 'a version');
    else if (letter === 'H') uri.host = parseHost(value);
    else if (letter === 'K') uri.key = parseKey(value);
    else unknown[letter] = value;
  }
  const { key } = uri;
  if (!key) refuse('K', 'missing: the bootstrapping key is required');
  if (Object.keys(unknown).length > 0) uri.unknown = unknown;
  return { ...uri, key };
}

export function formatDppUri(input: DppUriInput): string {
  const key = parseBootstrappingKey(
    input.key instanceof Uint8Array ? input.key : input.key.spkiDer,
  );
  if (!(input.key instanceof Uint8Array) && input.key.curve !== key.curve)
    refuse('K', `the key is on ${key.curve}, not ${input.key.curve}`);
  const parts = ['DPP:'];
  if (input.channels !== undefined) parts.push(`C:${formatChannels(input.channels)};`);
  if (input.mac !== undefined) parts.push(`M:${formatMac(input.mac)};`);
  if (input.info !== undefined) {
    if (!PRINTABLE.test(input.info)) refuse('I', 'a character outside printable ASCII, or ";"');
    parts.push(`I:${input.info};`);
  }
  if (input.version !== undefined) parts.push(`V:${checkNumber('V', input.version)};`);
  if (input.host !== undefined) parts.push(`H:${formatHost(input.host)};`);
  parts.push(`K:${toBase64(key.spkiDer)};;`);
  const uri = parts.join('');
  if (uri.length > MAX_DPP_URI_LENGTH) refuse('', `longer than ${MAX_DPP_URI_LENGTH} characters`);
  return uri;
}

function parseKey(value: string): BootstrappingKey {
  const der = /^[A-Za-z0-9+/]+={0,2}$/.test(value) ? fromBase64(value) : undefined;
  if (!der) refuse('K', 'not base64');
  if (toBase64(der) !== value) refuse('K', 'not canonical base64');
  return parseBootstrappingKey(der);
}

function parseChannels(value: string): DppChannel[] {
  if (value === '') refuse('C', 'an empty channel list');
  const out: DppChannel[] = [];
  let opClass: number | undefined;
  for (const item of value.split(',')) {
    const slash = item.indexOf('/');
    if (slash >= 0) {
      opClass = parseNumber('C', item.slice(0, slash), 'an operating class');
    } else if (opClass === undefined) {
      refuse('C', `${shown(item)} has no operating class (class/channel)`);
    }
    out.push({ opClass, channel: parseNumber('C', item.slice(slash + 1), 'a channel') });
  }
  return out;
}

function formatChannels(channels: readonly DppChannel[]): string {
  if (channels.length === 0) refuse('C', 'an empty channel list');
  // Every entry as class/channel: parsers older than the bare-channel form read it too.
  return channels
    .map((c) => `${checkNumber('C', c.opClass)}/${checkNumber('C', c.channel)}`)
    .join(',');
}

/** A decimal number of 1 to 3 digits, 1 to 255 (operating class, channel, version: one octet on the air). */
function parseNumber(token: string, text: string, what: string): number {
  if (!NUMBER.test(text)) refuse(token, `${shown(text)} is not ${what} (1 to 3 digits)`);
  return checkNumber(token, Number(text));
}

function checkNumber(token: string, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 255) refuse(token, `${n} is out of range (1 to 255)`);
  return n;
}

function parseMac(value: string): string {
  if (!/^[0-9A-Fa-f]{12}$/.test(value)) refuse('M', `${shown(value)} is not 12 hex digits`);
  return value.toLowerCase().replace(/(..)(?!$)/g, '$1:');
}

function formatMac(mac: string): string {
  const compact = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(mac) ? mac.replace(/:/g, '') : mac;
  return parseMac(compact).replace(/:/g, '');
}

function parseHost(value: string): DppHost {
  const bracketed = /^\[([^\]]*)\](?::([^:]*))?$/.exec(value);
  const v4 = /^([0-9.]+)(?::([^:]*))?$/.exec(value);
  const [address, port] = bracketed
    ? [bracketed[1]!, bracketed[2]]
    : v4
      ? [v4[1]!, v4[2]]
      : [value, undefined];
  const version = ipVersion(address);
  if (version === 0 || (bracketed && version !== 6))
    refuse('H', `${shown(value)} is not an IP address`);
  if (port === undefined) return { address };
  if (!/^[1-9][0-9]{0,4}$/.test(port) || Number(port) > 65535)
    refuse('H', `${shown(port)} is not a port (1 to 65535)`);
  return { address, port: Number(port) };
}

function formatHost(host: DppHost): string {
  const version = ipVersion(host.address);
  if (version === 0) refuse('H', `${shown(host.address)} is not an IP address`);
  if (host.port === undefined) return host.address;
  if (!Number.isInteger(host.port) || host.port < 1 || host.port > 65535)
    refuse('H', `${host.port} is not a port (1 to 65535)`);
  return version === 6 ? `[${host.address}]:${host.port}` : `${host.address}:${host.port}`;
}
