/**
 * Airlock's table in nftables (docs/INTENT.md): a forward chain that first confines
 * quarantined devices to the remediation server, then accepts established and related
 * packets, then sends each packet from a device to its profile's from-device chain and
 * each packet to a device to its profile's to-device chain, through four verdict maps keyed by
 * the device's address. A profile chain that accepts returns, so that a flow between two
 * devices must pass both profiles. An address of a device pool that is no device's (not yet
 * installed, removed, or taken by a host that gave itself one) is dropped: fail closed. Traffic
 * outside the pools passes untouched.
 */
import type { CompiledProfile } from '../mud/compile.js';
import { ipv4Pool, ipVersion } from '../../core/ip.js';
import * as nft from './json.js';

export const FORWARD_CHAIN = 'forward';
const MAPS = { from4: 'from_device4', from6: 'from_device6', to4: 'to_device4', to6: 'to_device6' };
const QUARANTINED = { v4: 'quarantined4', v6: 'quarantined6' };
const REMEDIATION = { v4: 'remediation4', v6: 'remediation6' };
const QUARANTINE_CHAINS = { from: 'quarantine_from', to: 'quarantine_to' };
const POOLS = { v4: 'device_pool4' };

export interface BaseOptions {
  /**
   * The segments' IPv4 address pools: any of their addresses that is not a key of the device
   * maps is dropped, from and to. `reservedHosts` (by index, 1 the first) are infrastructure
   * (a gateway's, a DHCP server's) and pass.
   */
  devicePools?: ReadonlyArray<{ prefix: string; reservedHosts?: readonly number[] }>;
  /** Addresses a quarantined device may still reach (and be reached from): the remediation server. */
  remediation?: readonly string[];
  /**
   * The onboarding segment (report section 5.2 step 2): a device with an address in one of
   * `prefixes` may open TCP connections to the onboarding component (each address and port of
   * `component`, the registrar) and to nothing else through this router; nothing may open a
   * connection towards it. The router's own services (DHCP, DNS) are not forwarded traffic,
   * and stay reachable.
   */
  onboarding?: {
    prefixes: readonly string[];
    component: ReadonlyArray<{ address: string; port: number }>;
  };
}

const ONBOARDING = {
  net4: 'onboarding_net4',
  net6: 'onboarding_net6',
  to4: 'onboarding_component4',
  to6: 'onboarding_component6',
  from: 'onboarding_from',
  to: 'onboarding_to',
};

/** The onboarding segment's sets, chains and jumps (BaseOptions.onboarding). */
function onboardingCommands(o: NonNullable<BaseOptions['onboarding']>): nft.Command[] {
  const prefixes = (v: 4 | 6) =>
    o.prefixes.filter((p) => ipVersion(p.split('/')[0]!) === v).map((p) => nft.prefix(p));
  const component = (v: 4 | 6) =>
    o.component
      .filter((c) => ipVersion(c.address) === v)
      .map((c) => ({ concat: [c.address, c.port] }));
  const toComponent = (proto: 'ip' | 'ip6', set: string): nft.Expr =>
    nft.match(
      { concat: [nft.payload(proto, 'daddr'), nft.payload('tcp', 'dport')] },
      nft.setRef(set),
    );
  return [
    nft.set(ONBOARDING.net4, 'ipv4_addr', { flags: ['interval'], elem: prefixes(4) }),
    nft.set(ONBOARDING.net6, 'ipv6_addr', { flags: ['interval'], elem: prefixes(6) }),
    nft.set(ONBOARDING.to4, ['ipv4_addr', 'inet_service'], { elem: component(4) }),
    nft.set(ONBOARDING.to6, ['ipv6_addr', 'inet_service'], { elem: component(6) }),
    nft.chain(ONBOARDING.from),
    nft.rule(ONBOARDING.from, [
      nft.match(nft.meta('l4proto'), 'tcp'),
      toComponent('ip', ONBOARDING.to4),
      nft.accept,
    ]),
    nft.rule(ONBOARDING.from, [
      nft.match(nft.meta('l4proto'), 'tcp'),
      toComponent('ip6', ONBOARDING.to6),
      nft.accept,
    ]),
    nft.rule(ONBOARDING.from, [nft.counter, nft.drop], 'onboarding: only the onboarding component'),
    nft.chain(ONBOARDING.to),
    nft.rule(ONBOARDING.to, [
      nft.match(nft.ct('state'), ['established', 'related'], 'in'),
      nft.accept,
    ]),
    nft.rule(ONBOARDING.to, [nft.counter, nft.drop], 'onboarding: nothing opens towards it'),
    ...(
      [
        ['ip', 'saddr', ONBOARDING.net4, ONBOARDING.from],
        ['ip6', 'saddr', ONBOARDING.net6, ONBOARDING.from],
        ['ip', 'daddr', ONBOARDING.net4, ONBOARDING.to],
        ['ip6', 'daddr', ONBOARDING.net6, ONBOARDING.to],
      ] as const
    ).map(([proto, field, set, chain]) =>
      nft.rule(FORWARD_CHAIN, [
        nft.match(nft.payload(proto, field), nft.setRef(set)),
        nft.jump(chain),
      ]),
    ),
  ];
}

/** A pool's device addresses as interval-set elements: every host but the reserved ones. */
function poolElements(pool: { prefix: string; reservedHosts?: readonly number[] }): unknown[] {
  const p = ipv4Pool(pool.prefix);
  const reserved = [...new Set(pool.reservedHosts ?? [])]
    .filter((h) => h >= 1 && h <= p.size)
    .sort((a, b) => a - b);
  const out: unknown[] = [];
  let first = 1;
  for (const h of [...reserved, p.size + 1]) {
    if (h > first)
      out.push(
        h - 1 === first ? p.address(first) : { range: [p.address(first), p.address(h - 1)] },
      );
    first = h + 1;
  }
  return out;
}

/**
 * The table, its forward chain, its maps and the quarantine, empty of devices. A quarantined
 * device is judged before anything else, established connections included: it reaches the
 * remediation server and nothing more, whatever its profile says.
 */
export function baseCommands(opts: BaseOptions = {}): nft.Command[] {
  const vmap = (proto: string, field: string, map: string): nft.Expr => ({
    vmap: { key: nft.payload(proto, field), data: nft.setRef(map) },
  });
  const remediation = opts.remediation ?? [];
  const byVersion = (v: 4 | 6) => remediation.filter((a) => ipVersion(a.split('/')[0]!) === v);
  const addr = (a: string) => (a.includes('/') ? nft.prefix(a) : a);
  const quarantine = (chain: string, field: 'saddr' | 'daddr', peer: 'daddr' | 'saddr') => [
    nft.chain(chain),
    nft.rule(chain, [nft.match(nft.payload('ip', peer), nft.setRef(REMEDIATION.v4)), nft.accept]),
    nft.rule(chain, [nft.match(nft.payload('ip6', peer), nft.setRef(REMEDIATION.v6)), nft.accept]),
    nft.rule(chain, [nft.counter, nft.drop], `quarantine: ${field}`),
  ];
  return [
    nft.table(),
    nft.chain(FORWARD_CHAIN, { hook: 'forward', prio: 0, policy: 'accept' }),
    nft.verdictMap(MAPS.from4, 'ipv4_addr'),
    nft.verdictMap(MAPS.from6, 'ipv6_addr'),
    nft.verdictMap(MAPS.to4, 'ipv4_addr'),
    nft.verdictMap(MAPS.to6, 'ipv6_addr'),
    ...nft.deniedFlowSets(),
    nft.set(QUARANTINED.v4, 'ipv4_addr'),
    nft.set(QUARANTINED.v6, 'ipv6_addr'),
    nft.set(REMEDIATION.v4, 'ipv4_addr', { flags: ['interval'], elem: byVersion(4).map(addr) }),
    nft.set(REMEDIATION.v6, 'ipv6_addr', { flags: ['interval'], elem: byVersion(6).map(addr) }),
    ...quarantine(QUARANTINE_CHAINS.from, 'saddr', 'daddr'),
    ...quarantine(QUARANTINE_CHAINS.to, 'daddr', 'saddr'),
    // A quarantined device, sending or receiving, in either family: its quarantine chain.
    ...(
      [
        ['saddr', QUARANTINE_CHAINS.from],
        ['daddr', QUARANTINE_CHAINS.to],
      ] as const
    ).flatMap(([field, chain]) =>
      (
        [
          ['ip', QUARANTINED.v4],
          ['ip6', QUARANTINED.v6],
        ] as const
      ).map(([proto, set]) =>
        nft.rule(FORWARD_CHAIN, [
          nft.match(nft.payload(proto, field), nft.setRef(set)),
          nft.jump(chain),
        ]),
      ),
    ),
    // Devices in onboarding mode: the onboarding component only (a jump that ends in a verdict).
    ...(opts.onboarding ? onboardingCommands(opts.onboarding) : []),
    nft.rule(FORWARD_CHAIN, [
      nft.match(nft.ct('state'), ['established', 'related'], 'in'),
      nft.accept,
    ]),
    nft.rule(FORWARD_CHAIN, [vmap('ip', 'saddr', MAPS.from4)]),
    nft.rule(FORWARD_CHAIN, [vmap('ip6', 'saddr', MAPS.from6)]),
    nft.rule(FORWARD_CHAIN, [vmap('ip', 'daddr', MAPS.to4)]),
    nft.rule(FORWARD_CHAIN, [vmap('ip6', 'daddr', MAPS.to6)]),
    // A pool address that is no device's: dropped (a device's own has passed its profile).
    nft.set(POOLS.v4, 'ipv4_addr', {
      flags: ['interval'],
      elem: (opts.devicePools ?? []).flatMap(poolElements),
    }),
    ...(
      [
        ['saddr', MAPS.from4],
        ['daddr', MAPS.to4],
      ] as const
    ).map(([field, map]) =>
      nft.rule(
        FORWARD_CHAIN,
        [
          nft.match(nft.payload('ip', field), nft.setRef(POOLS.v4)),
          nft.match(nft.payload('ip', field), nft.setRef(map), '!='),
          nft.counter,
          nft.drop,
        ],
        `pool address of no device: ${field}`,
      ),
    ),
  ];
}

/**
 * A profile's chains, sets and rules, installed or replaced in place: the chains are created
 * if they are not there and emptied before the rules are added again, in the same transaction,
 * so that a changed MUD file takes effect atomically for every device that has it.
 */
export function profileCommands(profile: CompiledProfile): nft.Command[] {
  const flush = (name: string): nft.Command => ({
    flush: { chain: { family: nft.TABLE.family, table: nft.TABLE.name, name } },
  });
  return [
    nft.chain(profile.chains['from-device']),
    nft.chain(profile.chains['to-device']),
    flush(profile.chains['from-device']),
    flush(profile.chains['to-device']),
    ...profile.commands,
  ];
}

/** The two verdict maps a device's address is a key of. */
export function deviceMap(address: string): { from: string; to: string } {
  return ipVersion(address) === 6
    ? { from: MAPS.from6, to: MAPS.to6 }
    : { from: MAPS.from4, to: MAPS.to4 };
}

/**
 * Quarantines a device (`add`) or releases it (`delete`, whether or not it was quarantined):
 * its profile stays, and applies again on release.
 */
export function quarantineCommands(address: string, op: 'add' | 'delete'): nft.Command[] {
  const set = ipVersion(address) === 6 ? QUARANTINED.v6 : QUARANTINED.v4;
  return op === 'add' ? [nft.element(set, [address])] : nft.elementGone(set, [address]);
}

/** A device's two map entries: its address jumps to its profile's chains. */
export function deviceCommands(
  address: string,
  profile: Pick<CompiledProfile, 'chains'>,
  op: 'add' | 'delete' = 'add',
): nft.Command[] {
  return devicesCommands([{ address, profile }], op);
}

/** The map entries of many devices, one command per map (nft reads one long list fastest). */
export function devicesCommands(
  devices: ReadonlyArray<{ address: string; profile: Pick<CompiledProfile, 'chains'> }>,
  op: 'add' | 'delete' = 'add',
): nft.Command[] {
  const lists: Record<string, unknown[]> = {
    [MAPS.from4]: [],
    [MAPS.from6]: [],
    [MAPS.to4]: [],
    [MAPS.to6]: [],
  };
  for (const d of devices) {
    const v6 = ipVersion(d.address) === 6;
    const entry = (chain: string) => (op === 'add' ? [d.address, nft.jump(chain)] : d.address);
    lists[v6 ? MAPS.from6 : MAPS.from4]!.push(entry(d.profile.chains['from-device']));
    lists[v6 ? MAPS.to6 : MAPS.to4]!.push(entry(d.profile.chains['to-device']));
  }
  return Object.entries(lists)
    .filter(([, elem]) => elem.length > 0)
    .map(([map, elem]) => nft.element(map, elem, op));
}

/**
 * Every trace of a device (decommissioning): its map entries, and its quarantine mark when it
 * has one (nft refuses to delete an element that is not there, so the caller says which).
 */
export function forgetDeviceCommands(
  address: string,
  profile: Pick<CompiledProfile, 'chains'>,
  quarantined: boolean,
): nft.Command[] {
  return [
    ...deviceCommands(address, profile, 'delete'),
    ...(quarantined ? quarantineCommands(address, 'delete') : []),
  ];
}

/** Flows out of the denied-flow sets (what a removed device leaves there). */
export function forgetDeniedCommands(
  flows: ReadonlyArray<{ source: string; destination: string; protocol: number; port: number }>,
): nft.Command[] {
  return flows.map((f) =>
    nft.element(
      ipVersion(f.source) === 6 ? nft.DENIED_FLOWS.ipv6 : nft.DENIED_FLOWS.ipv4,
      [{ concat: [f.source, f.destination, f.protocol === 6 ? 'tcp' : 'udp', f.port] }],
      'delete',
    ),
  );
}

/** The whole table from scratch, in one transaction: what was there before is replaced. */
export function fullRuleset(
  profiles: readonly CompiledProfile[],
  devices: ReadonlyArray<{ address: string; profile: CompiledProfile; quarantined?: boolean }>,
  opts: BaseOptions = {},
): { nftables: nft.Command[] } {
  return nft.document([
    ...nft.removeTable(),
    ...baseCommands(opts),
    ...profiles.flatMap((p) => p.commands),
    ...devicesCommands(devices),
    ...devices.filter((d) => d.quarantined).flatMap((d) => quarantineCommands(d.address, 'add')),
  ]);
}
