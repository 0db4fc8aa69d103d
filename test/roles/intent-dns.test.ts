/**
 * DNS names of MUD files kept in their sets: one transaction for the sets whose answers
 * changed, nothing when none did, a name that stops resolving empties its set, a resolver that
 * fails leaves the set as it was. (The sets' effect on packets: test/e2e/intent-enforcement.)
 */
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/core/errors.js';
import type { NamedSet } from '../../src/protocols/mud/compile.js';
import { DnsSets } from '../../src/roles/network/intent-dns.js';
import { DnsResolver } from '../../src/adapters/dns/resolver.js';
import { startTestDns } from '../support/dns-server.js';

const set = (name: string, value: string): NamedSet => ({
  name,
  family: 'ipv4',
  kind: 'dnsname',
  value,
});

describe('DNS sets', () => {
  it('rewrites only what changed, empties a name gone, keeps a set whose resolver failed', async () => {
    const applied: unknown[][] = [];
    const answers = new Map<string, string[] | Error>([
      ['a.example', ['192.0.2.1']],
      ['b.example', ['192.0.2.2', '192.0.2.3']],
    ]);
    const sets = new DnsSets(
      { apply: async (doc) => void applied.push(doc.nftables) },
      {
        resolve: async (name) => {
          const a = answers.get(name) ?? [];
          if (a instanceof Error) throw a;
          return { addresses: a, ttl: 120 };
        },
      },
    );
    const both = [set('dns4_a', 'a.example'), set('dns4_b', 'b.example')];
    expect(await sets.refresh(both)).toEqual({
      changed: ['dns4_a', 'dns4_b'],
      failed: [],
      nextRefreshSeconds: 120,
    });
    expect(applied).toHaveLength(1);
    expect(await sets.refresh(both)).toMatchObject({ changed: [] });
    expect(applied).toHaveLength(1);
    answers.delete('a.example');
    answers.set('b.example', new AirlockError('ERR_TRANSPORT', 'DNS: timeout'));
    expect(await sets.refresh(both)).toEqual({
      changed: ['dns4_a'],
      failed: ['dns4_b'],
      nextRefreshSeconds: 5,
    });
    // dns4_a flushed and left empty; dns4_b not touched.
    expect(JSON.stringify(applied[1])).toContain('"flush"');
    expect(JSON.stringify(applied[1])).not.toContain('dns4_b');
  });

  it('asks a real DNS server with node:dns: TTLs as answered, NXDOMAIN an empty answer', async () => {
    const dns = await startTestDns();
    try {
      dns.set('api.maker.example', ['192.0.2.7', '192.0.2.8'], 300);
      const r = new DnsResolver({ servers: [dns.server] });
      expect(await r.resolve('api.maker.example', 4)).toEqual({
        addresses: ['192.0.2.7', '192.0.2.8'],
        ttl: 300,
      });
      expect((await r.resolve('gone.maker.example', 4)).addresses).toEqual([]);
    } finally {
      await dns.close();
    }
  });
});
