/**
 * IP address syntax, without node:net (the pure layers may not use Node): which version a
 * textual address is, strictly (dotted-quad IPv4 without leading zeros; IPv6 as RFC 4291
 * section 2.2 writes it, `::` at most once, an IPv4 tail allowed; no zone index).
 */
import { AirlockError } from './errors.js';

const V4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function isIpv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => V4_OCTET.test(p));
}

function isIpv6(s: string): boolean {
  if (s.length > 45 || s.length < 2) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] | undefined => (h === '' ? [] : h.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return false;
  const all = [...head, ...tail];
  let count = all.length;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIpv4(last)) return false;
    all.pop();
    count += 1; // an IPv4 tail takes two groups
  }
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? count < 8 : count === 8;
}

/** 4, 6, or 0 when `s` is not an IP address. */
export function ipVersion(s: string): 4 | 6 | 0 {
  if (isIpv4(s)) return 4;
  if (isIpv6(s)) return 6;
  return 0;
}

/** What kind of address an IP address is, for a client that must not reach inside networks. */
export type AddressClass =
  'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'reserved';

/** The bytes of an IP address (4 or 16), or undefined when it is not one. */
export function ipBytes(s: string): Uint8Array | undefined {
  const v = ipVersion(s);
  if (v === 4) return new Uint8Array(s.split('.').map(Number));
  if (v !== 6) return undefined;
  let tail: number[] = [];
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail = s
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    text = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (h: string) => (h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  const hs = groups(head);
  const rs = rest === undefined ? [] : groups(rest);
  const all =
    rest === undefined
      ? hs
      : [...hs, ...new Array<number>(8 - hs.length - rs.length).fill(0), ...rs];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** Whether `address` is inside `cidr` (same version only). */
export function inPrefix(address: string, cidr: string): boolean {
  const [net, lenText] = cidr.split('/');
  const a = ipBytes(address);
  const n = ipBytes(net!);
  if (!a || !n || a.length !== n.length) return false;
  const len = lenText === undefined ? a.length * 8 : Number(lenText);
  for (let bit = 0; bit < len; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((a[bit >> 3]! & mask) !== (n[bit >> 3]! & mask)) return false;
  }
  return true;
}

const CLASSES: Array<[string, AddressClass]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'private'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::ffff:0:0/96', 'reserved'], // IPv4-mapped: judged as its IPv4 address by the caller, or refused
  ['64:ff9b::/96', 'reserved'],
  ['fc00::/7', 'private'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

export function addressClass(address: string): AddressClass {
  for (const [cidr, kind] of CLASSES) if (inPrefix(address, cidr)) return kind;
  return 'public';
}

/**
 * An IPv4 prefix as an address pool: the host indexes a device may be given, from 1 to
 * `size`, without the network and broadcast addresses. ERR_CONFIG when `cidr` is not an IPv4
 * prefix of /8 to /30 with no host bits set.
 */
export function ipv4Pool(cidr: string): {
  size: number;
  address(host: number): string;
  /** The host index of `address` in the pool, or undefined when it is not one of its hosts. */
  hostOf(address: string): number | undefined;
} {
  const [net, lenText] = cidr.split('/');
  const bytes = net !== undefined && ipVersion(net) === 4 ? ipBytes(net) : undefined;
  const len = Number(lenText);
  if (!bytes || !/^\d{1,2}$/.test(lenText ?? '') || len < 8 || len > 30)
    throw new AirlockError(
      'ERR_CONFIG',
      `${JSON.stringify(cidr)} is not an IPv4 prefix of /8 to /30`,
    );
  const base = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const hostBits = 32 - len;
  if (base % 2 ** hostBits !== 0)
    throw new AirlockError('ERR_CONFIG', `${JSON.stringify(cidr)} has host bits set`);
  const size = 2 ** hostBits - 2;
  return {
    size,
    address(host) {
      if (!Number.isInteger(host) || host < 1 || host > size)
        throw new AirlockError('ERR_CONFIG', `host ${host} is outside ${cidr}`);
      const a = base + host;
      return [a >>> 24, (a >>> 16) & 0xff, (a >>> 8) & 0xff, a & 0xff].join('.');
    },
    hostOf(address) {
      const b = ipVersion(address) === 4 ? ipBytes(address) : undefined;
      if (!b) return undefined;
      const host = (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) - base;
      return host >= 1 && host <= size ? host : undefined;
    },
  };
}

/** Whether `s` is an IP address, or a prefix of one with a length its version allows. */
export function isAddressOrPrefix(s: string, prefixNeeded: boolean): boolean {
  const m = /^([^/]+)(?:\/(0|[1-9]\d{0,2}))?$/.exec(s);
  if (!m) return false;
  const v = ipVersion(m[1]!);
  if (v === 0) return false;
  if (m[2] === undefined) return !prefixNeeded;
  return Number(m[2]) <= (v === 4 ? 32 : 128);
}
