/**
 * nftables' JSON syntax (libnftables-json(5), what `nft -j -f` reads): the few statements and
 * expressions Airlock writes, built as data, never as text, so that nothing from a MUD file or
 * an inventory can be read by nft as syntax. One document is one transaction: nft applies all
 * of its commands or none.
 */

export type Expr = Record<string, unknown>;
export type Command = Record<string, unknown>;

/** Airlock's table: everything Airlock installs lives here, and nowhere else. */
export const TABLE = { family: 'inet', name: 'airlock' } as const;

const where = { family: TABLE.family, table: TABLE.name };

export const payload = (protocol: string, field: string): Expr => ({
  payload: { protocol, field },
});
export const meta = (key: string): Expr => ({ meta: { key } });
export const ct = (key: string): Expr => ({ ct: { key } });

export function match(left: Expr, right: unknown, op = '=='): Expr {
  return { match: { op, left, right } };
}

export const accept: Expr = { accept: null };
export const drop: Expr = { drop: null };
export const reject: Expr = { reject: null };
export const ret: Expr = { return: null };
export const counter: Expr = { counter: null };
export const jump = (target: string): Expr => ({ jump: { target } });
export const setRef = (name: string): string => `@${name}`;
export const prefix = (cidr: string): Expr => {
  const [addr, len] = cidr.split('/');
  return { prefix: { addr, len: Number(len) } };
};

export const add = (what: Record<string, unknown>): Command => ({ add: what });

export function table(): Command {
  return add({ table: { ...TABLE } });
}

export function chain(
  name: string,
  base?: { hook: string; prio: number; policy: string },
): Command {
  return add({
    chain: {
      ...where,
      name,
      ...(base ? { type: 'filter', hook: base.hook, prio: base.prio, policy: base.policy } : {}),
    },
  });
}

export function rule(chainName: string, expr: Expr[], comment?: string): Command {
  return add({ rule: { ...where, chain: chainName, expr, ...(comment ? { comment } : {}) } });
}

export function set(
  name: string,
  type: string | string[],
  opts: { flags?: string[]; elem?: unknown[] } = {},
): Command {
  return add({
    set: {
      ...where,
      name,
      type,
      ...(opts.flags ? { flags: opts.flags } : {}),
      ...(opts.elem && opts.elem.length > 0 ? { elem: opts.elem } : {}),
    },
  });
}

export function verdictMap(name: string, type: string): Command {
  return add({ map: { ...where, name, type, map: 'verdict' } });
}

export function element(setName: string, elem: unknown[], op: 'add' | 'delete' = 'add'): Command {
  return { [op]: { element: { ...where, name: setName, elem } } };
}

/**
 * `elem` out of a set that has no data (not a map), whether or not they are in it: nft refuses
 * to delete an element that is not there, so each is added first (a no-op when it is) and
 * deleted after, in the same transaction.
 */
export function elementGone(setName: string, elem: unknown[]): Command[] {
  return elem.length === 0 ? [] : [element(setName, elem), element(setName, elem, 'delete')];
}

/** Replaces a named set's elements with `elem`, in the same transaction. */
export function replaceSet(setName: string, elem: unknown[]): Command[] {
  return [
    { flush: { set: { ...where, name: setName } } },
    ...(elem.length > 0 ? [element(setName, elem)] : []),
  ];
}

/**
 * Denied flows, per device (docs/INTENT.md): the dynamic sets the profile chains add each
 * dropped TCP or UDP flow to (source, destination, protocol, destination port), each element
 * with its own counter, forgotten an hour after its last packet.
 */
export const DENIED_FLOWS = { ipv4: 'denied4', ipv6: 'denied6' } as const;

export function deniedFlowSets(): Command[] {
  const decl = (name: string, addr: string) =>
    add({
      set: {
        ...where,
        name,
        type: [addr, addr, 'inet_proto', 'inet_service'],
        flags: ['timeout'],
        timeout: 3600,
        size: 65536,
        stmt: [{ counter: null }],
      },
    });
  return [decl(DENIED_FLOWS.ipv4, 'ipv4_addr'), decl(DENIED_FLOWS.ipv6, 'ipv6_addr')];
}

/** The statements that record a TCP or UDP packet of `family` in its denied-flows set. */
export function recordDenied(family: 'ipv4' | 'ipv6'): Expr[] {
  const l3 = family === 'ipv4' ? 'ip' : 'ip6';
  return [
    match(meta('nfproto'), family),
    match(meta('l4proto'), { set: ['tcp', 'udp'] }),
    {
      set: {
        op: 'add',
        elem: {
          concat: [
            payload(l3, 'saddr'),
            payload(l3, 'daddr'),
            meta('l4proto'),
            payload('th', 'dport'),
          ],
        },
        set: setRef(DENIED_FLOWS[family]),
      },
    },
  ];
}

/** Deletes Airlock's table and everything in it (an `add` first, so that it exists to delete). */
export function removeTable(): Command[] {
  return [table(), { delete: { table: { ...TABLE } } }];
}

export function document(commands: Command[]): { nftables: Command[] } {
  return { nftables: [{ metainfo: { json_schema_version: 1 } }, ...commands] };
}
