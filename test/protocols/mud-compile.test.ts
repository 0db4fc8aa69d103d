/**
 * The MUD compiler on its own (no nft here: test/e2e/intent-enforcement.test.ts loads what it
 * writes into nftables and sends packets): what each abstraction becomes, and what it refuses.
 */
import { describe, expect, it } from 'vitest';
import { compileProfile, type ProfileContext } from '../../src/protocols/mud/compile.js';
import type { MudAce, MudFile } from '../../src/protocols/mud/model.js';
import { codeOf } from '../support/errors.js';

const ctx: ProfileContext = {
  controllers: { 'https://controllers.example/lighting': ['192.0.2.5'] },
  myController: ['192.0.2.9', '2001:db8::9'],
  localNetworks: ['10.0.0.0/8'],
};

function ace(over: Partial<MudAce>): MudAce {
  return {
    name: 'e',
    family: 'ipv4',
    protocol: 6,
    source: undefined,
    destination: undefined,
    abstraction: undefined,
    sourcePort: undefined,
    destinationPort: { op: 'eq', port: 443 },
    directionInitiated: undefined,
    icmp: undefined,
    eth: undefined,
    action: 'accept',
    ...over,
  };
}

function mudOf(from: MudAce[], to: MudAce[] = []): MudFile {
  return {
    url: 'https://Maker.example/mud/sensor',
    version: 1,
    lastUpdate: '2026-11-30T12:00:00Z',
    cacheValidityHours: 48,
    isSupported: true,
    systeminfo: undefined,
    mfgName: undefined,
    modelName: undefined,
    documentation: undefined,
    signature: undefined,
    fromDevice: [{ name: 'out', type: 'ipv4-acl-type', aces: from }],
    toDevice: [{ name: 'in', type: 'ipv4-acl-type', aces: to }],
  };
}

const rulesOf = (p: ReturnType<typeof compileProfile>, chain: string) =>
  p.commands
    .map((c) => (c as { add?: { rule?: { chain: string; expr: unknown[] } } }).add?.rule)
    .filter((r) => r?.chain === chain)
    .map((r) => JSON.stringify(r!.expr));

describe('the MUD compiler', () => {
  it('each policy is a chain: an accepted flow returns, the rest is counted and dropped', () => {
    const p = compileProfile(
      mudOf([ace({ destination: { kind: 'network', cidr: '192.0.2.1/32' } })]),
      't1',
      ctx,
    );
    const from = rulesOf(p, 'mud_t1_from');
    // The entry; the dropped flow recorded (IPv4, IPv6); counted and dropped.
    expect(from).toHaveLength(4);
    expect(from[0]).toContain('"daddr"');
    expect(from[0]).toContain('"return"');
    expect(from[1]).toContain('"@denied4"');
    expect(from[2]).toContain('"@denied6"');
    expect(from[3]).toBe(JSON.stringify([{ counter: null }, { drop: null }]));
    expect(rulesOf(p, 'mud_t1_to')).toHaveLength(3);
  });

  it("abstractions become the network's addresses or named sets; an unknown controller matches nothing", () => {
    const p = compileProfile(
      mudOf([
        ace({ name: 'mine', family: undefined, abstraction: { kind: 'my-controller' } }),
        ace({
          name: 'ctl',
          abstraction: { kind: 'controller', uri: 'https://controllers.example/lighting' },
        }),
        ace({ name: 'nobody', abstraction: { kind: 'controller', uri: 'urn:unknown' } }),
        ace({ name: 'same', abstraction: { kind: 'same-manufacturer' } }),
        ace({ name: 'dns', destination: { kind: 'dnsname', name: 'cloud.maker.example' } }),
      ]),
      't2',
      ctx,
    );
    const from = rulesOf(p, 'mud_t2_from');
    // my-controller in both families, the controller, same-manufacturer, the name, default deny.
    expect(from).toHaveLength(8);
    expect(from[0]).toContain('192.0.2.9');
    expect(from[1]).toContain('2001:db8::9');
    expect(from[2]).toContain('192.0.2.5');
    expect(from.join()).not.toContain('urn:unknown');
    expect(p.sets.map((s) => [s.kind, s.value])).toEqual([
      ['manufacturer', 'maker.example'],
      ['dnsname', 'cloud.maker.example'],
    ]);
  });

  it('direction-initiated by the other side matches only replies', () => {
    const p = compileProfile(mudOf([], [ace({ directionInitiated: 'from-device' })]), 't3', ctx);
    expect(rulesOf(p, 'mud_t3_to')[0]).toContain('"direction"');
    const q = compileProfile(mudOf([ace({ directionInitiated: 'from-device' })]), 't4', ctx);
    expect(rulesOf(q, 'mud_t4_from')[0]).not.toContain('"direction"');
  });

  it('refuses what a router cannot enforce exactly, and ids that are not names', () => {
    const unicast = ace({ eth: { ethertype: 0x0800, destinationMac: '02:00:00:00:00:01' } });
    expect(codeOf(() => compileProfile(mudOf([unicast]), 't5', ctx))).toBe('ERR_MUD_UNENFORCEABLE');
    const ports = ace({ protocol: 1 });
    expect(codeOf(() => compileProfile(mudOf([ports]), 't6', ctx))).toBe('ERR_MUD_UNENFORCEABLE');
    expect(codeOf(() => compileProfile(mudOf([]), 'bad id"', ctx))).toBe('ERR_CONFIG');
  });
});
