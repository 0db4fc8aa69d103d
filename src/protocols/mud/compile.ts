/**
 * A MUD file compiled to nftables (RFC 8520 section 1.1's enforcement, report section 5.1.1
 * step 4): one chain per policy of a profile, shared by every device that has that profile;
 * devices are members of their profile's sets, which its dispatch rules send to its chains,
 * so that the rule count grows with the number of profiles, not of devices.
 *
 * Each entry becomes one rule: an accepted flow `return`s (the forward chain then asks the
 * other end's profile, if it is a device too); anything no entry accepts is dropped at the
 * chain's end and counted. Established and related packets are accepted before any profile is
 * asked, so `direction-initiated` only has to decide who may open a connection: an entry
 * whose flow must have been opened by the other side matches only conntrack's reply direction.
 *
 * DNS names and the manufacturer, same-manufacturer and model abstractions become named sets
 * that the network fills (resolved addresses, the addresses of devices of that manufacturer or
 * model); controllers, my-controller and local networks come from the network's
 * configuration. A controller the network does not know matches nothing: fail closed.
 */
import { AirlockError } from '../../core/errors.js';
import { ipVersion } from '../../core/ip.js';
import * as nft from '../nftables/json.js';
import type { Abstraction, Address, MudAce, MudFile, PolicyDirection, PortMatch } from './model.js';

/** What the network says the abstractions are, for the device class the policy chose. */
export interface ProfileContext {
  /** Addresses or prefixes of each controller class (`controller` URIs) the network knows. */
  controllers: Readonly<Record<string, readonly string[]>>;
  /** Addresses or prefixes of this device class's own controller (`my-controller`). */
  myController: readonly string[];
  /** The prefixes of the local networks (`local-networks`). */
  localNetworks: readonly string[];
}

export interface CompiledProfile {
  /** The chains of its two policies. */
  chains: { 'from-device': string; 'to-device': string };
  commands: nft.Command[];
  /** The named sets the network fills, by what fills them. */
  sets: NamedSet[];
  rules: number;
}

export type NamedSet =
  | { name: string; family: 'ipv4' | 'ipv6'; kind: 'dnsname'; value: string }
  | { name: string; family: 'ipv4' | 'ipv6'; kind: 'manufacturer' | 'model'; value: string };

type Family = 'ipv4' | 'ipv6';
const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];
const ADDR_TYPE: Record<Family, string> = { ipv4: 'ipv4_addr', ipv6: 'ipv6_addr' };
const IP_PROTO: Record<Family, string> = { ipv4: 'ip', ipv6: 'ip6' };

/** A short, stable name for a value (FNV-1a, 32 bits, hex): set and chain names stay small. */
export function shortName(value: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) {
    h ^= value.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** `id`: the profile's name in the ruleset (a short name of the MUD URL and its content, say). */
export function compileProfile(mud: MudFile, id: string, ctx: ProfileContext): CompiledProfile {
  if (!/^[a-z0-9_]{1,40}$/.test(id))
    throw new AirlockError('ERR_CONFIG', 'a profile id is 1 to 40 of a-z, 0-9 and _');
  const chains = { 'from-device': `mud_${id}_from`, 'to-device': `mud_${id}_to` };
  const commands: nft.Command[] = [
    nft.chain(chains['from-device']),
    nft.chain(chains['to-device']),
  ];
  const sets = new Map<string, NamedSet>();
  const authority = authorityOf(mud.url);
  let rules = 0;
  for (const direction of ['from-device', 'to-device'] as const) {
    const chain = chains[direction];
    const acls = direction === 'from-device' ? mud.fromDevice : mud.toDevice;
    for (const acl of acls)
      for (const ace of acl.aces)
        for (const expr of entryRules(ace, direction, { ...ctx, authority }, sets)) {
          commands.push(nft.rule(chain, expr, `${acl.name}/${ace.name}`.slice(0, 128)));
          rules++;
        }
    // Default deny: the flow recorded for its device (TCP and UDP), counted, dropped.
    commands.push(
      nft.rule(chain, nft.recordDenied('ipv4')),
      nft.rule(chain, nft.recordDenied('ipv6')),
      nft.rule(chain, [nft.counter, nft.drop], 'default deny'),
    );
    rules += 3;
  }
  const setCommands = [...sets.values()].map(namedSetCommand);
  return { chains, commands: [...setCommands, ...commands], sets: [...sets.values()], rules };
}

/** The rules of one entry: one per IP family it can match (none when it can match nothing). */
function entryRules(
  ace: MudAce,
  direction: PolicyDirection,
  ctx: ProfileContext & { authority: string },
  sets: Map<string, NamedSet>,
): nft.Expr[][] {
  // What no router can enforce is refused whatever the network's addresses are (an entry whose
  // abstraction matches nothing in one network would match something in another).
  const l4 = ace.protocol === 6 ? 'tcp' : ace.protocol === 17 ? 'udp' : undefined;
  if ((ace.sourcePort || ace.destinationPort) && !l4)
    throw unenforceable(ace, 'ports without TCP or UDP');
  if (ace.eth?.destinationMac !== undefined && ace.eth.destinationMac !== 'ff:ff:ff:ff:ff:ff')
    throw unenforceable(ace, 'a destination MAC address other than broadcast, at a router');
  // An entry that names no address needs one rule, whatever the family (unless it says which).
  const perFamily =
    ace.family !== undefined ||
    ace.abstraction !== undefined ||
    ace.source !== undefined ||
    ace.destination !== undefined ||
    ace.icmp !== undefined;
  const families = ace.family
    ? [ace.family]
    : ace.protocol === 1
      ? ['ipv4' as const]
      : ace.protocol === 58
        ? ['ipv6' as const]
        : perFamily
          ? FAMILIES
          : ['ipv4' as const];
  const out: nft.Expr[][] = [];
  for (const family of families) {
    const exprs: nft.Expr[] = [];
    if (perFamily || ace.protocol === 1 || ace.protocol === 58)
      exprs.push(nft.match(nft.meta('nfproto'), family));
    const peerSide = direction === 'from-device' ? 'daddr' : 'saddr';
    const l3 = IP_PROTO[family];
    let matchesNothing = false;
    for (const [side, a] of [
      ['saddr', ace.source],
      ['daddr', ace.destination],
    ] as const) {
      if (!a) continue;
      const right = addressRight(a, family, sets);
      if (right === undefined) matchesNothing = true;
      else exprs.push(nft.match(nft.payload(l3, side), right));
    }
    if (ace.abstraction) {
      const right = abstractionRight(ace.abstraction, family, ctx, sets);
      if (right === undefined) matchesNothing = true;
      else exprs.push(nft.match(nft.payload(l3, peerSide), right));
    }
    if (matchesNothing) continue;
    if (ace.protocol !== undefined) exprs.push(nft.match(nft.meta('l4proto'), ace.protocol));
    if (ace.sourcePort) exprs.push(portMatch(l4!, 'sport', ace.sourcePort));
    if (ace.destinationPort) exprs.push(portMatch(l4!, 'dport', ace.destinationPort));
    if (ace.icmp) {
      const icmp = family === 'ipv4' ? 'icmp' : 'icmpv6';
      if (ace.icmp.type !== undefined)
        exprs.push(nft.match(nft.payload(icmp, 'type'), ace.icmp.type));
      if (ace.icmp.code !== undefined)
        exprs.push(nft.match(nft.payload(icmp, 'code'), ace.icmp.code));
    }
    if (ace.eth) {
      if (ace.eth.ethertype !== undefined)
        exprs.push(nft.match(nft.meta('protocol'), ace.eth.ethertype));
      if (ace.eth.destinationMac !== undefined)
        exprs.push(nft.match(nft.meta('pkttype'), 'broadcast'));
    }
    // Who may open the flow: the policy's own side, or (only replies) the other one.
    if (ace.directionInitiated !== undefined && ace.directionInitiated !== direction)
      exprs.push(nft.match(nft.ct('direction'), 'reply'));
    exprs.push(nft.counter);
    exprs.push(ace.action === 'accept' ? nft.ret : ace.action === 'drop' ? nft.drop : nft.reject);
    out.push(exprs);
  }
  return out;
}

function unenforceable(ace: MudAce, what: string): AirlockError {
  return new AirlockError('ERR_MUD_UNENFORCEABLE', `entry ${JSON.stringify(ace.name)}: ${what}`);
}

function portMatch(l4: 'tcp' | 'udp', field: 'sport' | 'dport', m: PortMatch): nft.Expr {
  const left = nft.payload(l4, field);
  if (m.op === 'range') return nft.match(left, { range: [m.lower, m.upper] });
  const op = { eq: '==', neq: '!=', lte: '<=', gte: '>=' }[m.op];
  return nft.match(left, m.port, op);
}

/** The authority of an https MUD URL, lower-cased: what names its manufacturer (RFC 8520 section 8.2). */
export function authorityOf(url: string): string {
  return url.slice('https://'.length).split(/[/?#]/)[0]!.toLowerCase();
}

/** A named set's declaration (a no-op for one that is there). */
export function namedSetCommand(s: Pick<NamedSet, 'name' | 'family'>): nft.Command {
  return nft.set(s.name, ADDR_TYPE[s.family], { flags: ['interval'] });
}

/** The name of the set of `kind` for `value` (an authority or a MUD URL) in `family`. */
export function namedSetName(kind: NamedSet['kind'], value: string, family: Family): string {
  return `${kind === 'dnsname' ? 'dns' : kind === 'manufacturer' ? 'mfg' : 'model'}${family === 'ipv4' ? 4 : 6}_${shortName(value)}`;
}

/**
 * The sets a device of MUD URL `url` at an address of `family` is a member of, wherever a
 * profile names them: its manufacturer's (the URL's authority) and its model's (the URL).
 */
export function memberSets(url: string, family: Family): NamedSet[] {
  const authority = authorityOf(url);
  return [
    {
      name: namedSetName('manufacturer', authority, family),
      family,
      kind: 'manufacturer',
      value: authority,
    },
    { name: namedSetName('model', url, family), family, kind: 'model', value: url },
  ];
}

/** A named set the network fills, declared once per ruleset. */
function namedSet(
  sets: Map<string, NamedSet>,
  kind: NamedSet['kind'],
  value: string,
  family: Family,
): string {
  const name = namedSetName(kind, value, family);
  const held = sets.get(name);
  if (held && held.value !== value)
    throw new AirlockError('ERR_INTERNAL', `two values share the set name ${name}`);
  sets.set(name, { name, family, kind, value } as NamedSet);
  return nft.setRef(name);
}

function addressRight(a: Address, family: Family, sets: Map<string, NamedSet>): unknown {
  if (a.kind === 'dnsname') return namedSet(sets, 'dnsname', a.name, family);
  const v = ipVersion(a.cidr.split('/')[0]!);
  if ((v === 4) !== (family === 'ipv4')) return undefined;
  return nft.prefix(a.cidr);
}

/** Addresses or prefixes of `family`, as an anonymous set; undefined when there are none. */
function literal(values: readonly string[], family: Family): unknown {
  const mine = values.filter((v) => (ipVersion(v.split('/')[0]!) === 4) === (family === 'ipv4'));
  if (mine.length === 0) return undefined;
  return { set: mine.map((v) => (v.includes('/') ? nft.prefix(v) : v)) };
}

function abstractionRight(
  a: Abstraction,
  family: Family,
  ctx: ProfileContext & { authority: string },
  sets: Map<string, NamedSet>,
): unknown {
  switch (a.kind) {
    case 'local-networks':
      return literal(ctx.localNetworks, family);
    case 'my-controller':
      return literal(ctx.myController, family);
    case 'controller':
      return literal(ctx.controllers[a.uri] ?? [], family);
    case 'manufacturer':
      return namedSet(sets, 'manufacturer', a.authority, family);
    case 'model':
      return namedSet(sets, 'model', a.uri, family);
    case 'same-manufacturer':
      // RFC 8520 section 8.3: the devices whose MUD URLs have this one's authority.
      return namedSet(sets, 'manufacturer', ctx.authority, family);
  }
}
