/**
 * A MUD file (RFC 8520) as Airlock reads it: the device's intent, the ACLs of RFC 8519 that
 * its policies name, each entry reduced to what an enforcer needs. Only what parse.ts accepted
 * is here: every match is understood, nothing was dropped (an entry Airlock cannot enforce
 * exactly is refused, never widened).
 */

/** Which way a policy's traffic goes, as RFC 8520 section 2.1 names the two policies. */
export type PolicyDirection = 'from-device' | 'to-device';

/** A port match (RFC 8519 `port-range-or-operator`). */
export type PortMatch =
  | { op: 'eq' | 'neq' | 'lte' | 'gte'; port: number }
  | { op: 'range'; lower: number; upper: number };

/** An address an entry matches: a DNS name (ietf-acldns, resolved by the enforcer) or a prefix. */
export type Address = { kind: 'dnsname'; name: string } | { kind: 'network'; cidr: string };

/**
 * MUD's abstractions (RFC 8520 section 8, `ietf-mud:mud` in matches): the far end named by
 * what it is, filled in by the network (the device's peer: the source of a to-device entry,
 * the destination of a from-device one).
 */
export type Abstraction =
  | { kind: 'manufacturer'; authority: string }
  | { kind: 'same-manufacturer' }
  | { kind: 'model'; uri: string }
  | { kind: 'local-networks' }
  | { kind: 'controller'; uri: string }
  | { kind: 'my-controller' };

/** One access control entry, understood in full. */
export interface MudAce {
  name: string;
  /** The IP version its layer 3 match names; undefined for a layer-2-only entry. */
  family: 'ipv4' | 'ipv6' | undefined;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6), if matched. */
  protocol: number | undefined;
  source: Address | undefined;
  destination: Address | undefined;
  abstraction: Abstraction | undefined;
  sourcePort: PortMatch | undefined;
  destinationPort: PortMatch | undefined;
  /** RFC 8520 section 8.4: which side must have opened the connection. */
  directionInitiated: PolicyDirection | undefined;
  icmp: { type: number | undefined; code: number | undefined } | undefined;
  eth: { ethertype: number | undefined; destinationMac: string | undefined } | undefined;
  action: 'accept' | 'drop' | 'reject';
}

export interface MudAcl {
  name: string;
  /** RFC 8519's acl-type identity, without its module prefix (ipv4-acl-type, ...). */
  type: string;
  aces: MudAce[];
}

export interface MudFile {
  url: string;
  version: number;
  lastUpdate: string;
  /** Hours the file may be cached before it is fetched again (1 to 168, default 48). */
  cacheValidityHours: number;
  isSupported: boolean;
  systeminfo: string | undefined;
  mfgName: string | undefined;
  modelName: string | undefined;
  documentation: string | undefined;
  /** Where the detached signature is (RFC 8520 section 13), relative to the file's URL or not. */
  signature: string | undefined;
  /** The ACLs that apply to traffic from the device, in the order the file names them. */
  fromDevice: MudAcl[];
  /** The ACLs that apply to traffic to the device. */
  toDevice: MudAcl[];
}

export interface ParsedMud {
  mud: MudFile;
  /** What was accepted but is not RFC 8520 (the pre-RFC drafts' names, unknown extensions). */
  warnings: string[];
}
