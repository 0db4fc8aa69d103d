/**
 * Reading a MUD file (RFC 8520) and the ACLs it names (RFC 8519, in the JSON encoding of YANG,
 * RFC 7951). Fail closed: an entry with a match Airlock does not understand is an error, never
 * an entry with that match left out (which would allow more than the manufacturer said). Every
 * error names the place, as a path into the document.
 *
 * Accepted beyond RFC 8520, each with a warning (MUD files written to its drafts, still
 * served): the ACLs under `ietf-access-control-list:access-lists` rather than `acls`, entries
 * under `access-list-entries`, `acl-name`, `acl-type` and `rule-name`, the `ipv4-acl` and
 * `ipv6-acl` matches with their ports inside, and `ietf-mud:mud-acl` for `ietf-mud:mud`.
 * Extensions of other modules in the `ietf-mud:mud` container are ignored with a warning;
 * anywhere else they are errors.
 */
import { ipVersion } from '../../core/ip.js';
import { AirlockError } from '../../core/errors.js';
import { parseStrictJson } from '../json/strict.js';
import type {
  Abstraction,
  Address,
  MudAce,
  MudAcl,
  MudFile,
  ParsedMud,
  PolicyDirection,
  PortMatch,
} from './model.js';

/** A MUD file is small: the largest of the public corpus is 70 KiB. */
export const MAX_MUD_BYTES = 512 * 1024;

export const MUD_MEDIA_TYPE = 'application/mud+json';

type Json = Record<string, unknown>;

const ACL_TYPES = new Set([
  'ipv4-acl-type',
  'ipv6-acl-type',
  'eth-acl-type',
  'mixed-eth-ipv4-acl-type',
  'mixed-eth-ipv6-acl-type',
  'mixed-eth-ipv4-ipv6-acl-type',
]);
/** The drafts' names for the types above. */
const LEGACY_ACL_TYPES: Record<string, string> = {
  'ipv4-acl': 'ipv4-acl-type',
  'ipv6-acl': 'ipv6-acl-type',
  'eth-acl': 'eth-acl-type',
  'ethernet-acl-type': 'eth-acl-type',
};

function fail(path: string, why: string): never {
  throw new AirlockError('ERR_MUD_MALFORMED', `${path}: ${why}`);
}

/** Reads `text` as a MUD file; ERR_MUD_MALFORMED naming the place of the first fault. */
export function parseMud(text: string | Uint8Array): ParsedMud {
  const bytes = typeof text === 'string' ? undefined : text;
  if ((bytes?.length ?? text.length) > MAX_MUD_BYTES)
    throw new AirlockError('ERR_MUD_MALFORMED', `the file exceeds ${MAX_MUD_BYTES} bytes`);
  let decoded: string;
  if (bytes === undefined) decoded = text as string;
  else
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new AirlockError('ERR_MUD_MALFORMED', 'the file is not UTF-8 text', { cause });
    }
  const json = parseStrictJson(decoded, 'ERR_MUD_MALFORMED', 'the MUD file');
  return new Reader().file(json);
}

class Reader {
  readonly warnings: string[] = [];

  file(json: unknown): ParsedMud {
    const top = object(json, '/');
    const mud = object(top['ietf-mud:mud'], '/ietf-mud:mud');
    let aclsKey = 'ietf-access-control-list:acls';
    let acls = top[aclsKey];
    if (acls === undefined && top['ietf-access-control-list:access-lists'] !== undefined) {
      aclsKey = 'ietf-access-control-list:access-lists';
      acls = top[aclsKey];
      this.warn(`/${aclsKey}: the pre-RFC name of ietf-access-control-list:acls`);
    }
    for (const k of Object.keys(top))
      if (k !== 'ietf-mud:mud' && k !== aclsKey) this.extension(`/${k}`);
    const byName = this.acls(acls, `/${aclsKey}`);
    const file = this.mud(mud, byName);
    return { mud: file, warnings: this.warnings };
  }

  warn(w: string): void {
    this.warnings.push(w);
  }

  /** A member of another module: ignored with a warning. Anything else unknown is an error. */
  extension(path: string): void {
    const name = path.slice(path.lastIndexOf('/') + 1);
    if (!name.includes(':')) fail(path, 'not a member of this container');
    this.warn(`${path}: an extension Airlock does not implement, ignored`);
  }

  mud(m: Json, acls: Map<string, MudAcl>): MudFile {
    const p = '/ietf-mud:mud';
    const known = new Set([
      'mud-version',
      'mud-url',
      'last-update',
      'mud-signature',
      'cache-validity',
      'is-supported',
      'systeminfo',
      'mfg-name',
      'model-name',
      'firmware-rev',
      'software-rev',
      'documentation',
      'extensions',
      'from-device-policy',
      'to-device-policy',
    ]);
    for (const k of Object.keys(m)) if (!known.has(k)) this.extension(`${p}/${k}`);
    let version = 1;
    if (m['mud-version'] === undefined)
      this.warn(`${p}/mud-version: missing (as in the drafts before RFC 8520), 1 taken`);
    else version = integer(m['mud-version'], `${p}/mud-version`, 1, 255);
    if (version !== 1) fail(`${p}/mud-version`, `version ${version} is not 1`);
    const url = httpsUrl(m['mud-url'], `${p}/mud-url`);
    const lastUpdate = string(m['last-update'], `${p}/last-update`);
    if (Number.isNaN(Date.parse(lastUpdate)))
      fail(`${p}/last-update`, 'not a date-time (RFC 3339)');
    const cache =
      m['cache-validity'] === undefined
        ? 48
        : integer(m['cache-validity'], `${p}/cache-validity`, 1, 168);
    const isSupported = boolean(m['is-supported'], `${p}/is-supported`);
    const optional = (k: string) => (m[k] === undefined ? undefined : string(m[k], `${p}/${k}`));
    return {
      url,
      version,
      lastUpdate,
      cacheValidityHours: cache,
      isSupported,
      systeminfo: optional('systeminfo'),
      mfgName: optional('mfg-name'),
      modelName: optional('model-name'),
      documentation: optional('documentation'),
      signature: optional('mud-signature'),
      fromDevice: this.policy(m['from-device-policy'], `${p}/from-device-policy`, acls),
      toDevice: this.policy(m['to-device-policy'], `${p}/to-device-policy`, acls),
    };
  }

  /** A policy: the ACLs it names, which must exist. */
  policy(v: unknown, p: string, acls: Map<string, MudAcl>): MudAcl[] {
    if (v === undefined) return [];
    const policy = object(v, p);
    only(policy, p, ['access-lists']);
    if (policy['access-lists'] === undefined) return [];
    const lists = object(policy['access-lists'], `${p}/access-lists`);
    only(lists, `${p}/access-lists`, ['access-list']);
    return list(lists['access-list'], `${p}/access-lists/access-list`).map((ref, i) => {
      const at = `${p}/access-lists/access-list[${i}]`;
      const o = object(ref, at);
      const nameKey = this.renamed(o, at, 'name', 'acl-name');
      // The drafts repeated the ACL's type here; the ACL's own type is the one that counts.
      only(o, at, nameKey === 'name' ? ['name'] : ['acl-name', 'acl-type']);
      const name = string(o[nameKey], `${at}/${nameKey}`);
      const acl = acls.get(name);
      if (!acl)
        fail(`${at}/${nameKey}`, `names the ACL ${q(name)}, which the file does not define`);
      return acl;
    });
  }

  acls(v: unknown, p: string): Map<string, MudAcl> {
    const out = new Map<string, MudAcl>();
    if (v === undefined) return out;
    const o = object(v, p);
    only(o, p, ['acl']);
    list(o.acl, `${p}/acl`).forEach((a, i) => {
      const acl = this.acl(a, `${p}/acl[${i}]`);
      if (out.has(acl.name)) fail(`${p}/acl[${i}]/name`, `a second ACL named ${q(acl.name)}`);
      out.set(acl.name, acl);
    });
    return out;
  }

  acl(v: unknown, p: string): MudAcl {
    const a = object(v, p);
    const nameKey = this.renamed(a, p, 'name', 'acl-name');
    const typeKey = this.renamed(a, p, 'type', 'acl-type');
    const acesKey = this.renamed(a, p, 'aces', 'access-list-entries');
    only(a, p, [nameKey, typeKey, acesKey]);
    const name = string(a[nameKey], `${p}/${nameKey}`);
    let type = 'mixed-eth-ipv4-ipv6-acl-type';
    if (a[typeKey] !== undefined) {
      const raw = string(a[typeKey], `${p}/${typeKey}`);
      const bare = raw.replace(/^ietf-access-control-list:/, '');
      if (ACL_TYPES.has(bare)) type = bare;
      else if (LEGACY_ACL_TYPES[bare]) {
        type = LEGACY_ACL_TYPES[bare];
        this.warn(`${p}/${typeKey}: ${q(raw)} is the pre-RFC name of ${type}`);
      } else fail(`${p}/${typeKey}`, `unknown ACL type ${q(raw)}`);
    }
    const aces: MudAce[] = [];
    if (a[acesKey] !== undefined) {
      const container = object(a[acesKey], `${p}/${acesKey}`);
      only(container, `${p}/${acesKey}`, ['ace']);
      list(container.ace, `${p}/${acesKey}/ace`).forEach((e, i) =>
        aces.push(this.ace(e, `${p}/${acesKey}/ace[${i}]`, type)),
      );
    }
    return { name, type, aces };
  }

  /** The RFC's name for a member, or its draft name (with a warning) when that is what is there. */
  renamed(o: Json, p: string, name: string, legacy: string): string {
    if (o[name] === undefined && o[legacy] !== undefined) {
      this.warn(`${p}/${legacy}: the pre-RFC name of ${name}`);
      return legacy;
    }
    return name;
  }

  ace(v: unknown, p: string, aclType: string): MudAce {
    const e = object(v, p);
    const nameKey = this.renamed(e, p, 'name', 'rule-name');
    only(e, p, [nameKey, 'matches', 'actions', 'statistics']);
    const name = string(e[nameKey], `${p}/${nameKey}`);
    const ace: MudAce = {
      name,
      family: undefined,
      protocol: undefined,
      source: undefined,
      destination: undefined,
      abstraction: undefined,
      sourcePort: undefined,
      destinationPort: undefined,
      directionInitiated: undefined,
      icmp: undefined,
      eth: undefined,
      action: 'drop',
    };
    // What it matches first: a match Airlock does not understand is the fault that matters.
    this.matches(object(e.matches ?? {}, `${p}/matches`), `${p}/matches`, ace);
    if (e.actions === undefined) fail(`${p}/actions`, 'missing: an entry says what to do');
    ace.action = this.action(e.actions, `${p}/actions`);
    const l3 = ace.family;
    if (
      l3 &&
      aclType !== `${l3}-acl-type` &&
      !aclType.startsWith('mixed-') &&
      aclType !== 'eth-acl-type'
    )
      fail(`${p}/matches/${l3}`, `an ${l3} match in an ACL of type ${aclType}`);
    if (ace.eth && !aclType.startsWith('mixed-') && aclType !== 'eth-acl-type')
      this.warn(`${p}/matches/eth: an Ethernet match in an ACL of type ${aclType}`);
    return ace;
  }

  action(v: unknown, p: string): MudAce['action'] {
    const a = object(v, p);
    only(a, p, ['forwarding', 'logging']);
    const f = string(a.forwarding, `${p}/forwarding`).replace(/^ietf-access-control-list:/, '');
    if (f === 'accept' || f === 'drop' || f === 'reject') return f;
    return fail(`${p}/forwarding`, `unknown action ${q(f)}`);
  }

  matches(m: Json, p: string, ace: MudAce): void {
    for (const [k, v] of Object.entries(m)) {
      const at = `${p}/${k}`;
      switch (k) {
        case 'ipv4':
        case 'ipv6':
          this.l3(object(v, at), at, k, ace, false);
          break;
        case 'ipv4-acl':
        case 'ipv6-acl':
          this.warn(`${at}: the pre-RFC form of ${k.slice(0, 4)}, with its ports inside`);
          this.l3(object(v, at), at, k.slice(0, 4) as 'ipv4' | 'ipv6', ace, true);
          break;
        case 'tcp':
        case 'udp':
          this.l4(object(v, at), at, k, ace);
          break;
        case 'icmp':
          this.icmp(object(v, at), at, ace);
          break;
        case 'eth':
          this.eth(object(v, at), at, ace);
          break;
        case 'ietf-mud:mud':
          this.abstraction(object(v, at), at, ace);
          break;
        case 'ietf-mud:mud-acl':
          this.warn(`${at}: the pre-RFC name of ietf-mud:mud`);
          this.abstraction(object(v, at), at, ace);
          break;
        case 'ietf-mud:same-manufacturer':
        case 'ietf-mud:local-networks':
        case 'ietf-mud:my-controller':
          this.warn(`${at}: the pre-RFC form of ietf-mud:mud/${k.slice(9)}`);
          this.abstraction({ [k.slice(9)]: v }, at, ace);
          break;
        default:
          fail(at, 'a match Airlock does not understand: the entry is refused, not widened');
      }
    }
    const matched = [
      ace.family,
      ace.protocol,
      ace.sourcePort,
      ace.destinationPort,
      ace.eth,
      ace.abstraction,
      ace.icmp,
    ].some((m) => m !== undefined);
    // RFC 8519: an entry with no match matches every packet; a device's intent never needs one.
    if (!matched) fail(p, 'an entry that matches every packet is refused');
  }

  l3(o: Json, p: string, family: 'ipv4' | 'ipv6', ace: MudAce, legacy: boolean): void {
    if (ace.family !== undefined && ace.family !== family)
      fail(p, `an entry matches one IP version, this one also ${ace.family}`);
    ace.family = family;
    const net = `${family}-network`;
    for (const [k, v] of Object.entries(o)) {
      const at = `${p}/${k}`;
      switch (k) {
        case 'protocol':
          this.protocol(integer(v, at, 0, 255), at, ace);
          break;
        case 'ietf-acldns:src-dnsname':
          ace.source = address(ace.source, { kind: 'dnsname', name: dnsName(v, at) }, at);
          break;
        case 'ietf-acldns:dst-dnsname':
          ace.destination = address(ace.destination, { kind: 'dnsname', name: dnsName(v, at) }, at);
          break;
        case `source-${net}`:
          ace.source = address(ace.source, { kind: 'network', cidr: cidr(v, at, family) }, at);
          break;
        case `destination-${net}`:
          ace.destination = address(
            ace.destination,
            { kind: 'network', cidr: cidr(v, at, family) },
            at,
          );
          break;
        case 'source-port-range-or-operator':
        case 'source-port-range':
        case 'destination-port-range-or-operator':
        case 'destination-port-range':
          if (!legacy) fail(at, 'not a member of this container');
          this.port(v, at, k.startsWith('source') ? 'sourcePort' : 'destinationPort', ace);
          break;
        default:
          fail(at, 'a match Airlock does not understand: the entry is refused, not widened');
      }
    }
  }

  protocol(n: number, p: string, ace: MudAce): void {
    if (ace.protocol !== undefined && ace.protocol !== n)
      fail(p, `protocol ${n}, where the entry's layer 4 match says ${ace.protocol}`);
    ace.protocol = n;
  }

  l4(o: Json, p: string, kind: 'tcp' | 'udp', ace: MudAce): void {
    this.protocol(kind === 'tcp' ? 6 : 17, p, ace);
    for (const [k, v] of Object.entries(o)) {
      const at = `${p}/${k}`;
      switch (k) {
        case 'source-port':
          this.port(v, at, 'sourcePort', ace);
          break;
        case 'destination-port':
          this.port(v, at, 'destinationPort', ace);
          break;
        case 'ietf-mud:direction-initiated': {
          const d = string(v, at);
          if (d !== 'from-device' && d !== 'to-device') fail(at, `unknown direction ${q(d)}`);
          if (kind === 'udp')
            this.warn(`${at}: RFC 8520 defines it for TCP; for UDP it is the flow's first packet`);
          ace.directionInitiated = d as PolicyDirection;
          break;
        }
        default:
          fail(at, 'a match Airlock does not understand: the entry is refused, not widened');
      }
    }
  }

  port(v: unknown, p: string, side: 'sourcePort' | 'destinationPort', ace: MudAce): void {
    if (ace[side] !== undefined) fail(p, 'a second port match for the same side');
    const o = object(v, p);
    let m: PortMatch;
    if (o['lower-port'] !== undefined || o['upper-port'] !== undefined) {
      only(o, p, ['lower-port', 'upper-port']);
      const lower = integer(o['lower-port'], `${p}/lower-port`, 0, 65535);
      const upper = integer(o['upper-port'], `${p}/upper-port`, 0, 65535);
      if (lower > upper) fail(p, `the range ${lower} to ${upper} is empty`);
      m = { op: 'range', lower, upper };
    } else {
      only(o, p, ['operator', 'port']);
      const op = o.operator === undefined ? 'eq' : string(o.operator, `${p}/operator`);
      if (op !== 'eq' && op !== 'neq' && op !== 'lte' && op !== 'gte')
        fail(`${p}/operator`, `unknown operator ${q(op)}`);
      m = { op, port: integer(o.port, `${p}/port`, 0, 65535) };
    }
    ace[side] = m;
  }

  icmp(o: Json, p: string, ace: MudAce): void {
    only(o, p, ['type', 'code']);
    if (ace.protocol !== undefined && ace.protocol !== 1 && ace.protocol !== 58)
      fail(p, `an ICMP match in an entry for protocol ${ace.protocol}`);
    ace.icmp = {
      type: o.type === undefined ? undefined : integer(o.type, `${p}/type`, 0, 255),
      code: o.code === undefined ? undefined : integer(o.code, `${p}/code`, 0, 255),
    };
  }

  eth(o: Json, p: string, ace: MudAce): void {
    only(o, p, ['ethertype', 'destination-mac-address']);
    let ethertype: number | undefined;
    if (o.ethertype !== undefined) {
      const v = o.ethertype;
      ethertype =
        typeof v === 'number'
          ? v
          : typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,4}$/.test(v)
            ? parseInt(v.replace(/^0x/, ''), 16)
            : NaN;
      if (!(ethertype >= 0 && ethertype <= 0xffff))
        fail(`${p}/ethertype`, 'not an ethertype (0x0000 to 0xffff)');
    }
    let destinationMac: string | undefined;
    if (o['destination-mac-address'] !== undefined) {
      destinationMac = string(o['destination-mac-address'], `${p}/destination-mac-address`);
      if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(destinationMac))
        fail(`${p}/destination-mac-address`, 'not a MAC address');
      destinationMac = destinationMac.toLowerCase();
    }
    ace.eth = { ethertype, destinationMac };
  }

  abstraction(o: Json, p: string, ace: MudAce): void {
    const keys = Object.keys(o);
    if (keys.length !== 1) fail(p, 'exactly one of MUD\u2019s abstractions per entry');
    const k = keys[0]!;
    const at = `${p}/${k}`;
    const v = o[k];
    let a: Abstraction;
    switch (k) {
      case 'manufacturer':
        a = { kind: 'manufacturer', authority: string(v, at) };
        break;
      case 'model':
        a = { kind: 'model', uri: string(v, at) };
        break;
      case 'controller':
        a = { kind: 'controller', uri: string(v, at) };
        break;
      case 'same-manufacturer':
      case 'local-networks':
      case 'my-controller':
        empty(v, at);
        a = { kind: k };
        break;
      default:
        return fail(at, 'an abstraction Airlock does not understand');
    }
    ace.abstraction = a;
  }
}

const q = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

function object(v: unknown, p: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(p, 'not an object');
  return v as Json;
}

function list(v: unknown, p: string): unknown[] {
  if (!Array.isArray(v)) fail(p, 'not a list');
  return v;
}

function string(v: unknown, p: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(p, 'not a non-empty string');
  return v;
}

function boolean(v: unknown, p: string): boolean {
  if (typeof v !== 'boolean') fail(p, 'not true or false');
  return v;
}

function integer(v: unknown, p: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(p, `not a whole number from ${min} to ${max}`);
  return v;
}

/** A YANG `empty` leaf in RFC 7951's encoding: `[null]`. */
function empty(v: unknown, p: string): void {
  if (!(Array.isArray(v) && v.length === 1 && v[0] === null)) fail(p, 'not [null] (an empty leaf)');
}

function only(o: Json, p: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) fail(`${p}/${k}`, 'not a member of this container');
}

/** An https URL with an authority (RFC 3986; no spaces, no userinfo). */
const HTTPS_URL =
  /^https:\/\/(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:[/?#][\x21-\x7e]*)?$/;

function httpsUrl(v: unknown, p: string): string {
  const s = string(v, p);
  if (!/^https:\/\//i.test(s)) fail(p, 'not an https URL (RFC 8520 section 3.3)');
  if (s.length > 2048 || !HTTPS_URL.test(s)) fail(p, `not a URL: ${q(s)}`);
  return s;
}

function address(held: Address | undefined, a: Address, p: string): Address {
  if (held !== undefined) fail(p, 'a second address for the same side of the entry');
  return a;
}

/** A DNS name as ietf-acldns has it (RFC 8520 section 8, inet:host's domain-name). */
function dnsName(v: unknown, p: string): string {
  const s = string(v, p).replace(/\.$/, '').toLowerCase();
  if (
    s.length > 253 ||
    !s.split('.').every((l) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))
  )
    fail(p, `not a DNS name: ${q(s)}`);
  return s;
}

/** An IPv4 or IPv6 prefix (inet:ipv4-prefix / ipv6-prefix), canonical in text. */
function cidr(v: unknown, p: string, family: 'ipv4' | 'ipv6'): string {
  const s = string(v, p);
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const bits = slash < 0 ? (family === 'ipv4' ? 32 : 128) : Number(s.slice(slash + 1));
  const want = family === 'ipv4' ? 4 : 6;
  if (
    ipVersion(addr) !== want ||
    !Number.isInteger(bits) ||
    bits < 0 ||
    bits > (want === 4 ? 32 : 128)
  )
    fail(p, `not an ${family} prefix: ${q(s)}`);
  if (slash >= 0 && !/^(0|[1-9]\d{0,2})$/.test(s.slice(slash + 1)))
    fail(p, `not an ${family} prefix: ${q(s)}`);
  return `${addr.toLowerCase()}/${bits}`;
}
