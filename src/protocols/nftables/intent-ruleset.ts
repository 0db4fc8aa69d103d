/**
 * Airlock's table in nftables (docs/INTENT.md): a forward chain that accepts established and
 * related packets, then sends each packet from a device to its profile's from-device chain and
 * each packet to a device to its profile's to-device chain, through four verdict maps keyed by
 * the device's address. A profile chain that accepts returns, so that a flow between two
 * devices must pass both profiles; traffic of no device passes untouched.
 */
import type { CompiledProfile } from '../mud/compile.js';
import { ipVersion } from '../../core/ip.js';
import * as nft from './json.js';

export const FORWARD_CHAIN = 'forward';
const MAPS = { from4: 'from_device4', from6: 'from_device6', to4: 'to_device4', to6: 'to_device6' };

/** The table, its forward chain and its maps, empty of devices. */
export function baseCommands(): nft.Command[] {
  const vmap = (proto: string, field: string, map: string): nft.Expr => ({
    vmap: { key: nft.payload(proto, field), data: nft.setRef(map) },
  });
  return [
    nft.table(),
    nft.chain(FORWARD_CHAIN, { hook: 'forward', prio: 0, policy: 'accept' }),
    nft.verdictMap(MAPS.from4, 'ipv4_addr'),
    nft.verdictMap(MAPS.from6, 'ipv6_addr'),
    nft.verdictMap(MAPS.to4, 'ipv4_addr'),
    nft.verdictMap(MAPS.to6, 'ipv6_addr'),
    nft.rule(FORWARD_CHAIN, [
      nft.match(nft.ct('state'), ['established', 'related'], 'in'),
      nft.accept,
    ]),
    nft.rule(FORWARD_CHAIN, [vmap('ip', 'saddr', MAPS.from4)]),
    nft.rule(FORWARD_CHAIN, [vmap('ip6', 'saddr', MAPS.from6)]),
    nft.rule(FORWARD_CHAIN, [vmap('ip', 'daddr', MAPS.to4)]),
    nft.rule(FORWARD_CHAIN, [vmap('ip6', 'daddr', MAPS.to6)]),
  ];
}

/** A device's two map entries: its address jumps to its profile's chains. */
export function deviceCommands(
  address: string,
  profile: Pick<CompiledProfile, 'chains'>,
  op: 'add' | 'delete' = 'add',
): nft.Command[] {
  const v6 = ipVersion(address) === 6;
  const entry = (chain: string) => (op === 'add' ? [[address, nft.jump(chain)]] : [address]);
  return [
    nft.element(v6 ? MAPS.from6 : MAPS.from4, entry(profile.chains['from-device']), op),
    nft.element(v6 ? MAPS.to6 : MAPS.to4, entry(profile.chains['to-device']), op),
  ];
}

/** The whole table from scratch, in one transaction: what was there before is replaced. */
export function fullRuleset(
  profiles: readonly CompiledProfile[],
  devices: ReadonlyArray<{ address: string; profile: CompiledProfile }>,
): { nftables: nft.Command[] } {
  return nft.document([
    ...nft.removeTable(),
    ...baseCommands(),
    ...profiles.flatMap((p) => p.commands),
    ...devices.flatMap((d) => deviceCommands(d.address, d.profile)),
  ]);
}
