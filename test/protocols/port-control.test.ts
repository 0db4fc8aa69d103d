/**
 * 802.1X port control's nftables document (src/protocols/nftables/port-control.ts): built as
 * data, a netdev table per port whose ingress drops all but EAPOL and the authorized stations.
 * What nft makes of it, with packets, is test/e2e/reauthentication.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  portControlCommands,
  portTable,
  removePortCommands,
  stationCommands,
} from '../../src/protocols/nftables/port-control.js';
import { codeOf } from '../support/errors.js';

describe('port control in nftables', () => {
  it('drops all but EAPOL and the authorized stations, on the port alone', () => {
    const doc = portControlCommands('eth1.10', ['02:00:00:00:00:0A']);
    const chain = doc.find((c) => 'chain' in ((c.add ?? {}) as object)) as {
      add: { chain: Record<string, unknown> };
    };
    expect(chain.add.chain).toMatchObject({
      family: 'netdev',
      table: 'airlock_port_eth1_10',
      hook: 'ingress',
      dev: 'eth1.10',
      policy: 'drop',
    });
    const set = doc.find((c) => 'set' in ((c.add ?? {}) as object)) as {
      add: { set: Record<string, unknown> };
    };
    expect(set.add.set).toMatchObject({ type: 'ether_addr', elem: ['02:00:00:00:00:0a'] });
    const rules = doc.filter((c) => 'rule' in ((c.add ?? {}) as object));
    expect(JSON.stringify(rules)).toContain('"right":34958'); // EAPOL's EtherType
    expect(JSON.stringify(rules)).toContain('"right":"@authorized"');
    // Made anew: whatever the table held goes first.
    expect(doc.slice(0, 3).map((c) => Object.keys(c)[0])).toEqual(['add', 'delete', 'add']);
  });

  it('lets a station in, and out whether or not it is there', () => {
    expect(stationCommands('eth1', '02:00:00:00:00:01', 'add')).toHaveLength(1);
    const out = stationCommands('eth1', '02:00:00:00:00:01', 'delete');
    expect(out.map((c) => Object.keys(c)[0])).toEqual(['add', 'delete']);
    expect(removePortCommands('eth1').map((c) => Object.keys(c)[0])).toEqual(['add', 'delete']);
  });

  it('refuses what is not an interface or a MAC address', () => {
    for (const bad of ['', 'eth1; drop', 'x'.repeat(16), 'eth 1'])
      expect(codeOf(() => portTable(bad))).toBe('ERR_CONFIG');
    for (const bad of ['02:00:00:00:00', '02-00-00-00-00-01', 'zz:00:00:00:00:01'])
      expect(codeOf(() => stationCommands('eth1', bad, 'add'))).toBe('ERR_CONFIG');
  });
});
