/**
 * Device intent enforced by nftables, proved with packets (RFC 8520; issue: steps 11 to 13):
 * three network namespaces (device, gateway, cloud), the MUD profile compiled by Airlock and
 * loaded into the gateway through `nft -j -f`, and TCP connections that must open or must not.
 * Needs root, ip and nft: elsewhere it says `skipped: <reason>`; CI installs them.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Nftables } from '../../src/adapters/enforcement/nftables.js';
import { parseMud } from '../../src/protocols/mud/parse.js';
import { compileProfile, shortName, type ProfileContext } from '../../src/protocols/mud/compile.js';
import { DnsResolver } from '../../src/adapters/dns/resolver.js';
import { DnsSets } from '../../src/roles/network/intent-dns.js';
import { startTestDns } from '../support/dns-server.js';
import { document } from '../../src/protocols/nftables/json.js';
import {
  devicesCommands,
  fullRuleset,
  quarantineCommands,
} from '../../src/protocols/nftables/intent-ruleset.js';
import {
  CLOUD_A,
  CLOUD_B,
  DEVICE,
  makeTopology,
  netnsSkipReason,
  type Topology,
} from '../support/netns.js';

const skip = netnsSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const ctx: ProfileContext = { controllers: {}, myController: [], localNetworks: ['10.1.0.0/24'] };

/** The manufacturer says: the device opens TCP connections to CLOUD_A:443, and nothing else. */
function mud(directionInitiated: boolean): string {
  const dir = directionInitiated ? { 'ietf-mud:direction-initiated': 'from-device' } : {};
  return JSON.stringify({
    'ietf-mud:mud': {
      'mud-version': 1,
      'mud-url': 'https://maker.example/sensor',
      'last-update': '2026-11-30T12:00:00Z',
      'cache-validity': 48,
      'is-supported': true,
      systeminfo: 'A sensor',
      'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
      'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'in' }] } },
    },
    'ietf-access-control-list:acls': {
      acl: [
        {
          name: 'out',
          type: 'ipv4-acl-type',
          aces: {
            ace: [
              {
                name: 'cloud',
                matches: {
                  ipv4: { protocol: 6, 'destination-ipv4-network': `${CLOUD_A}/32` },
                  tcp: { ...dir, 'destination-port': { operator: 'eq', port: 443 } },
                },
                actions: { forwarding: 'accept' },
              },
            ],
          },
        },
        {
          name: 'in',
          type: 'ipv4-acl-type',
          aces: {
            ace: [
              {
                name: 'cloud',
                matches: {
                  ipv4: { protocol: 6, 'source-ipv4-network': `${CLOUD_A}/32` },
                  tcp: { ...dir, 'source-port': { operator: 'eq', port: 443 } },
                },
                actions: { forwarding: 'accept' },
              },
            ],
          },
        },
      ],
    },
  });
}

describe.skipIf(skip !== undefined)('MUD enforced in nftables, proved with packets', () => {
  let t: Topology;
  let nft: Nftables;
  let stopA443: () => Promise<void>;
  beforeAll(async () => {
    t = makeTopology(String(process.pid % 10000));
    nft = new Nftables({ netns: t.gateway });
    stopA443 = await t.serve(CLOUD_A, 443);
    await t.serve(CLOUD_A, 80);
    await t.serve(CLOUD_B, 443);
    await t.serveOnDevice(9000);
  }, 30_000);
  afterAll(() => t?.close());

  /**
   * CLOUD_A opens a connection from its port 443 to the device: only with no server on that
   * address and port (a listener and a client cannot share them), which is then started again.
   */
  const serverOpensTowardsDevice = async () => {
    await stopA443();
    try {
      return await t.connects(t.cloud, DEVICE, 9000, { localAddress: CLOUD_A, localPort: 443 });
    } finally {
      stopA443 = await t.serve(CLOUD_A, 443);
    }
  };

  const load = async (directionInitiated: boolean) => {
    const profile = compileProfile(parseMud(mud(directionInitiated)).mud, 'sensor', ctx);
    await nft.apply(
      fullRuleset([profile], [{ address: DEVICE, profile }], { remediation: [CLOUD_B] }),
    );
    return profile;
  };

  it('without rules every connection opens (the servers are up: the probes below can fail)', async () => {
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_A, 80)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
    expect(await serverOpensTowardsDevice()).toBe(true);
  });

  it('the device reaches the one server on the one port its MUD file allows, and nothing else; what was dropped is recorded for it', async () => {
    await load(true);
    expect(await nft.deniedFlows()).toEqual([]);
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_A, 80)).toBe(false);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    const denied = await nft.deniedFlows();
    expect(denied.map(({ packets: _, ...f }) => f).sort((a, b) => a.port - b.port)).toEqual([
      { source: DEVICE, destination: CLOUD_A, protocol: 6, port: 80 },
      { source: DEVICE, destination: CLOUD_B, protocol: 6, port: 443 },
    ]);
    for (const f of denied) expect(f.packets).toBeGreaterThan(0);
  });

  it('direction-initiated: the server may not open a connection towards the device, even from port 443', async () => {
    await load(false);
    // Without it, the to-device entry lets CLOUD_A:443 open connections to the device.
    expect(await serverOpensTowardsDevice()).toBe(true);
    await load(true);
    expect(await serverOpensTowardsDevice()).toBe(false);
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
  });

  it('quarantine cuts everything but the remediation server; release restores the profile', async () => {
    await load(true);
    await nft.apply(document(quarantineCommands(DEVICE, 'add')));
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
    await nft.apply(document(quarantineCommands(DEVICE, 'delete')));
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
  });

  it('a DNS-named server is reachable at the address its name resolves to, and the set follows a changed answer', async () => {
    const dns = await startTestDns();
    try {
      const named = JSON.parse(mud(true)) as Record<string, { acl: Array<Record<string, any>> }>;
      const out = named['ietf-access-control-list:acls']!.acl[0]!;
      out.aces.ace[0].matches.ipv4 = {
        protocol: 6,
        'ietf-acldns:dst-dnsname': 'api.maker.example',
      };
      const profile = compileProfile(parseMud(JSON.stringify(named)).mud, 'named', ctx);
      await nft.apply(fullRuleset([profile], [{ address: DEVICE, profile }]));
      const sets = new DnsSets(nft, new DnsResolver({ servers: [dns.server] }));
      // Before the name is resolved its set is empty: nothing is allowed.
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
      dns.set('api.maker.example', [CLOUD_A], 30);
      expect(await sets.refresh(profile.sets)).toMatchObject({
        changed: ['dns4_' + shortName('api.maker.example')],
        nextRefreshSeconds: 30,
      });
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
      // The same answer again changes nothing; a new one moves the set.
      expect((await sets.refresh(profile.sets)).changed).toEqual([]);
      dns.set('api.maker.example', [CLOUD_B], 30);
      await sets.refresh(profile.sets);
      expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
      expect(await t.connects(t.device, CLOUD_A, 443)).toBe(false);
    } finally {
      await dns.close();
    }
  });

  it('removing the device removes every trace of it from the ruleset, in one transaction', async () => {
    const profile = await load(true);
    await nft.apply(document(quarantineCommands(DEVICE, 'add')));
    expect(JSON.stringify(await nft.table())).toContain(DEVICE);
    await nft.apply(
      document([
        ...devicesCommands([{ address: DEVICE, profile }], 'delete'),
        ...quarantineCommands(DEVICE, 'delete'),
      ]),
    );
    expect(JSON.stringify(await nft.table())).not.toContain(DEVICE);
    // No longer a device of the network: its traffic is not Airlock's to judge.
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
  });

  it('a device in onboarding mode reaches the onboarding component and nothing else; nothing reaches it', async () => {
    // The device's segment is the onboarding segment here; the registrar listens at CLOUD_A:443.
    await nft.apply(
      fullRuleset([], [], {
        onboarding: { prefixes: ['10.1.0.0/24'], component: [{ address: CLOUD_A, port: 443 }] },
      }),
    );
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_A, 80)).toBe(false);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    expect(await serverOpensTowardsDevice()).toBe(false);
    // Without the onboarding segment, the same device (no profile yet) is not Airlock's to judge.
    await nft.apply(fullRuleset([], []));
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(true);
  });

  it('a document nft refuses changes nothing (one transaction), and is a typed error', async () => {
    const profile = await load(true);
    const before = JSON.stringify(await nft.table());
    const bad = fullRuleset([profile], [{ address: DEVICE, profile }]);
    bad.nftables.push({
      add: { rule: { family: 'inet', table: 'airlock', chain: 'nope', expr: [] } },
    });
    await expect(nft.apply(bad)).rejects.toMatchObject({ code: 'ERR_ENFORCEMENT_FAILED' });
    expect(JSON.stringify(await nft.table())).toBe(before);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
  });

  it('on a device segment an address of no device, in or outside the pool, and any IPv6 are dropped: the rules cannot be stepped around', async () => {
    const ipIn = (ns: string, ...args: string[]) => execFileSync('ip', ['-n', ns, ...args]);
    // A second IPv4 address on the device's link, outside the pool; and IPv6 end to end.
    ipIn(t.device, 'addr', 'add', '10.1.1.5/24', 'dev', 'd0');
    ipIn(t.gateway, 'addr', 'add', '10.1.1.1/24', 'dev', 'g0');
    ipIn(t.device, 'addr', 'add', 'fd00:1::2/64', 'dev', 'd0', 'nodad');
    ipIn(t.gateway, 'addr', 'add', 'fd00:1::1/64', 'dev', 'g0', 'nodad');
    ipIn(t.gateway, 'addr', 'add', 'fd00:2::1/64', 'dev', 'g1', 'nodad');
    ipIn(t.cloud, 'addr', 'add', 'fd00:2::10/64', 'dev', 'c0', 'nodad');
    ipIn(t.device, '-6', 'route', 'add', 'default', 'via', 'fd00:1::1');
    ipIn(t.cloud, '-6', 'route', 'add', 'default', 'via', 'fd00:2::1');
    execFileSync('ip', [
      'netns',
      'exec',
      t.gateway,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.forwarding=1',
    ]);
    await t.serve('fd00:2::10', 443);
    const profile = compileProfile(parseMud(mud(true)).mud, 'sensor', ctx);
    const apply = (deviceInterfaces: string[]) =>
      nft.apply(
        fullRuleset([profile], [{ address: DEVICE, profile }], {
          devicePools: [{ prefix: '10.1.0.0/24', reservedHosts: [1] }],
          deviceInterfaces,
        }),
      );
    const offPool = { localAddress: '10.1.1.5' };

    // The segment's interface not named: both step around the device's rules.
    await apply([]);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    expect(await t.connects(t.device, CLOUD_B, 443, offPool)).toBe(true);
    expect(await t.connects(t.device, 'fd00:2::10', 443)).toBe(true);

    // Named: the device reaches what its file allows, and nothing else reaches anything.
    await apply(['g0']);
    expect(await t.connects(t.device, CLOUD_A, 443)).toBe(true);
    expect(await t.connects(t.device, CLOUD_B, 443)).toBe(false);
    expect(await t.connects(t.device, CLOUD_B, 443, offPool)).toBe(false);
    expect(await t.connects(t.device, CLOUD_A, 443, offPool)).toBe(false);
    expect(await t.connects(t.device, 'fd00:2::10', 443)).toBe(false);
  });
});
