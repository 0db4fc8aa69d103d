/**
 * Airlock's table in nftables (docs/INTENT.md): a forward chain that first confines
 * quarantined devices to the remediation server, then accepts established and related
 * packets, then jumps to the `devices` chain: there each profile has four rules, which send a
 * packet from one of its devices (a member of its `dev4_<id>`/`dev6_<id>` set) to its
 * from-device chain and a packet to one to its to-device chain. A profile chain that accepts
 * returns, so that a flow between two devices must pass both profiles. An address of a device
 * pool that is no device's (not yet installed, removed, or taken by a host that gave itself
 * one) is dropped: fail closed. Traffic outside the pools passes untouched.
 *
 * A device is an element of plain sets, never of a verdict map: adding an element with a
 * jump makes the kernel validate every jump of the table, whose cost grows with the devices
 * (docs/BENCHMARKS.md); adding one to a set does not. The price is a set lookup per profile
 * for a packet that opens a connection.
 */
import type { CompiledProfile } from '../mud/compile.js';
import { ipv4Pool, ipVersion } from '../../core/ip.js';
import * as nft from './json.js';

export const FORWARD_CHAIN = 'forward';
/** Every device's address, whatever its profile. */
const DEVICES = { v4: 'devices4', v6: 'devices6' };
/** The chain of the profiles' dispatch rules. */
export const DISPATCH_CHAIN = 'devices';
const QUARANTINED = { v4: 'quarantined4', v6: 'quarantined6' };
const REMEDIATION = { v4: 'remediation4', v6: 'remediation6' };
const QUARANTINE_CHAINS = { from: 'quarantine_from', to: 'quarantine_to' };
const POOLS = { v4: 'device_pool4' };
const SEGMENT_LINKS = { ifaces: 'device_ifaces', infra4: 'infrastructure4' };

export interface BaseOptions {
  /**
   * The segments' IPv4 address pools: any of their addresses that is not a device's (in the
   * set of all devices) is dropped, from and to. `reservedHosts` (by index, 1 the first) are infrastructure
   * (a gateway's, a DHCP server's) and pass.
   */
  devicePools?: readonly Pool[];
  /**
   * The interfaces of the device segments: what is forwarded from or to one of them must be a
   * device's address or a pool's reserved host, in IPv4 (a host that gave itself an address
   * outside the pool reaches nothing), and nothing in IPv6 (there are no IPv6 pools yet, so no
   * IPv6 address is a device's).
   */
  deviceInterfaces?: readonly string[];
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

type Pool = { prefix: string; reservedHosts?: readonly number[] };

/** A pool's reserved hosts that are hosts of it, in order. */
function reservedOf(pool: Pool): number[] {
  const size = ipv4Pool(pool.prefix).size;
  return [...new Set(pool.reservedHosts ?? [])]
    .filter((h) => h >= 1 && h <= size)
    .sort((a, b) => a - b);
}

/** A pool's device addresses as interval-set elements: every host but the reserved ones. */
function poolElements(pool: Pool): unknown[] {
  const p = ipv4Pool(pool.prefix);
  const reserved = reservedOf(pool);
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

/** The reserved hosts of the pools: infrastructure on a device segment (a gateway, a DHCP server). */
function reservedAddresses(pools: readonly Pool[]): string[] {
  return pools.flatMap((pool) => reservedOf(pool).map((h) => ipv4Pool(pool.prefix).address(h)));
}

/** What a device segment's interfaces may forward (BaseOptions.deviceInterfaces). */
function segmentLinkCommands(opts: BaseOptions): nft.Command[] {
  const ifaces = SEGMENT_LINKS.ifaces;
  const infra = SEGMENT_LINKS.infra4;
  const onLink = (key: 'iifname' | 'oifname') => nft.match(nft.meta(key), nft.setRef(ifaces));
  return [
    nft.set(ifaces, 'ifname', { elem: [...(opts.deviceInterfaces ?? [])] }),
    nft.set(infra, 'ipv4_addr', { elem: reservedAddresses(opts.devicePools ?? []) }),
    ...(['iifname', 'oifname'] as const).flatMap((key) => {
      const field = key === 'iifname' ? 'saddr' : 'daddr';
      return [
        nft.rule(
          FORWARD_CHAIN,
          [onLink(key), nft.match(nft.meta('nfproto'), 'ipv6'), nft.counter, nft.drop],
          `device segment: no IPv6 (${key})`,
        ),
        nft.rule(
          FORWARD_CHAIN,
          [
            onLink(key),
            nft.match(nft.payload('ip', field), nft.setRef(DEVICES.v4), '!='),
            nft.match(nft.payload('ip', field), nft.setRef(infra), '!='),
            nft.counter,
            nft.drop,
          ],
          `device segment: address of no device (${key})`,
        ),
      ];
    }),
  ];
}

/**
 * The table, its forward chain, its device sets, the fail-closed rules and the quarantine,
 * empty of devices. A quarantined
 * device is judged before anything else, established connections included: it reaches the
 * remediation server and nothing more, whatever its profile says.
 */
export function baseCommands(opts: BaseOptions = {}): nft.Command[] {
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
    nft.set(DEVICES.v4, 'ipv4_addr'),
    nft.set(DEVICES.v6, 'ipv6_addr'),
    nft.chain(DISPATCH_CHAIN),
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
    nft.rule(FORWARD_CHAIN, [nft.jump(DISPATCH_CHAIN)]),
    // A pool address that is no device's: dropped (a device's own has passed its profile).
    nft.set(POOLS.v4, 'ipv4_addr', {
      flags: ['interval'],
      elem: (opts.devicePools ?? []).flatMap(poolElements),
    }),
    ...(['saddr', 'daddr'] as const).map((field) =>
      nft.rule(
        FORWARD_CHAIN,
        [
          nft.match(nft.payload('ip', field), nft.setRef(POOLS.v4)),
          nft.match(nft.payload('ip', field), nft.setRef(DEVICES.v4), '!='),
          nft.counter,
          nft.drop,
        ],
        `pool address of no device: ${field}`,
      ),
    ),
    ...segmentLinkCommands(opts),
  ];
}

/** The sets of a profile's devices, by family. */
export function profileDeviceSets(profile: Pick<CompiledProfile, 'chains'>): {
  v4: string;
  v6: string;
} {
  const id = profile.chains['from-device'].slice('mud_'.length, -'_from'.length);
  return { v4: `dev4_${id}`, v6: `dev6_${id}` };
}

/**
 * A profile's chains, sets and rules, installed or replaced in place: the chains are created
 * if they are not there and emptied before the rules are added again, in the same transaction,
 * so that a changed MUD file takes effect atomically for every device that has it. `dispatch`:
 * the profile is new to the table, and its four rules in the `devices` chain are added too
 * (they are not idempotent: a profile already there has them).
 */
export function profileCommands(
  profile: CompiledProfile,
  opts: { dispatch: boolean },
): nft.Command[] {
  const flush = (name: string): nft.Command => ({
    flush: { chain: { family: nft.TABLE.family, table: nft.TABLE.name, name } },
  });
  const sets = profileDeviceSets(profile);
  return [
    nft.set(sets.v4, 'ipv4_addr'),
    nft.set(sets.v6, 'ipv6_addr'),
    nft.chain(profile.chains['from-device']),
    nft.chain(profile.chains['to-device']),
    flush(profile.chains['from-device']),
    flush(profile.chains['to-device']),
    ...profile.commands,
    ...(opts.dispatch
      ? (
          [
            ['ip', 'saddr', sets.v4, 'from-device'],
            ['ip6', 'saddr', sets.v6, 'from-device'],
            ['ip', 'daddr', sets.v4, 'to-device'],
            ['ip6', 'daddr', sets.v6, 'to-device'],
          ] as const
        ).map(([proto, field, set, direction]) =>
          nft.rule(DISPATCH_CHAIN, [
            nft.match(nft.payload(proto, field), nft.setRef(set)),
            nft.jump(profile.chains[direction]),
          ]),
        )
      : []),
  ];
}

/**
 * Quarantines a device (`add`) or releases it (`delete`, whether or not it was quarantined):
 * its profile stays, and applies again on release.
 */
export function quarantineCommands(address: string, op: 'add' | 'delete'): nft.Command[] {
  const set = ipVersion(address) === 6 ? QUARANTINED.v6 : QUARANTINED.v4;
  return op === 'add' ? [nft.element(set, [address])] : nft.elementGone(set, [address]);
}

/**
 * Devices into their profiles' sets and the set of all devices (`add`), or out of them
 * (`delete`, whether or not they are there), one command per set.
 */
export function devicesCommands(
  devices: ReadonlyArray<{ address: string; profile: Pick<CompiledProfile, 'chains'> }>,
  op: 'add' | 'delete' = 'add',
): nft.Command[] {
  const lists = new Map<string, string[]>();
  const push = (set: string, address: string) => {
    const list = lists.get(set);
    if (list) list.push(address);
    else lists.set(set, [address]);
  };
  for (const d of devices) {
    const v6 = ipVersion(d.address) === 6;
    push(v6 ? DEVICES.v6 : DEVICES.v4, d.address);
    const sets = profileDeviceSets(d.profile);
    push(v6 ? sets.v6 : sets.v4, d.address);
  }
  return [...lists].flatMap(([set, elem]) =>
    op === 'add' ? [nft.element(set, elem)] : nft.elementGone(set, elem),
  );
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
    ...profiles.flatMap((p) => profileCommands(p, { dispatch: true })),
    ...devicesCommands(devices),
    ...devices.filter((d) => d.quarantined).flatMap((d) => quarantineCommands(d.address, 'add')),
  ]);
}
