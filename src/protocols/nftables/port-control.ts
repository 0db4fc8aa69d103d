/**
 * 802.1X port control on a Linux port (docs/RADIUS.md): what a switch does in hardware. hostapd
 * authenticates the stations on a wired port, but does not stop the traffic of one that is
 * not authorized. This table does: on the port's ingress, only EAPOL (so that a station can
 * authenticate at all) and frames from the stations in the set `authorized` pass; everything
 * else is dropped. The network adds a station when hostapd reports it connected and takes it
 * out when hostapd reports it gone.
 *
 * A netdev table of its own per port (`airlock_port_<interface>`), apart from Airlock's intent
 * table: it filters frames before any routing, on one device.
 */
import { AirlockError } from '../../core/errors.js';
import type { Command } from './json.js';

/** EAPOL's EtherType (IEEE 802.1X). */
const EAPOL = 0x888e;
const SET = 'authorized';

const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** The table of a port: `airlock_port_` and its interface's name, made safe for nft. */
export function portTable(iface: string): { family: 'netdev'; name: string } {
  if (!INTERFACE.test(iface)) throw new AirlockError('ERR_CONFIG', 'not an interface name');
  return { family: 'netdev', name: `airlock_port_${iface.replace(/[.-]/g, '_')}` };
}

/**
 * The port's table, made anew (what was in it is gone): its set of authorized stations (those
 * given), and its ingress chain that drops all but EAPOL and their frames.
 */
export function portControlCommands(iface: string, authorized: readonly string[]): Command[] {
  const t = portTable(iface);
  const where = { family: t.family, table: t.name };
  const stations = authorized.map(mac);
  return [
    { add: { table: { ...t } } },
    { delete: { table: { ...t } } },
    { add: { table: { ...t } } },
    {
      add: {
        set: {
          ...where,
          name: SET,
          type: 'ether_addr',
          ...(stations.length ? { elem: stations } : {}),
        },
      },
    },
    {
      add: {
        chain: {
          ...where,
          name: 'ingress',
          type: 'filter',
          hook: 'ingress',
          dev: iface,
          prio: -500,
          policy: 'drop',
        },
      },
    },
    rule(where, [
      match({ payload: { protocol: 'ether', field: 'type' } }, EAPOL),
      { accept: null },
    ]),
    rule(where, [
      match({ payload: { protocol: 'ether', field: 'saddr' } }, `@${SET}`),
      { accept: null },
    ]),
  ];
}

/** A station in (`add`) or out of (`delete`, whether or not it is there) the port's set. */
export function stationCommands(iface: string, station: string, op: 'add' | 'delete'): Command[] {
  const t = portTable(iface);
  const element = { family: t.family, table: t.name, name: SET, elem: [mac(station)] };
  return op === 'add' ? [{ add: { element } }] : [{ add: { element } }, { delete: { element } }];
}

/** The port's table gone (nothing filtered any more), whether or not it was there. */
export function removePortCommands(iface: string): Command[] {
  const t = portTable(iface);
  return [{ add: { table: { ...t } } }, { delete: { table: { ...t } } }];
}

function mac(s: string): string {
  const m = s.toLowerCase();
  if (!MAC.test(m)) throw new AirlockError('ERR_CONFIG', 'not a MAC address');
  return m;
}

function match(left: Record<string, unknown>, right: unknown): Record<string, unknown> {
  return { match: { op: '==', left, right } };
}

function rule(where: { family: string; table: string }, expr: unknown[]): Command {
  return { add: { rule: { ...where, chain: 'ingress', expr } } };
}
