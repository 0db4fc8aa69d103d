/**
 * The MUD reader on bad input: every fault is ERR_MUD_MALFORMED naming the place, and nothing
 * it does not understand is left out of an entry (which would allow more than was written).
 */
import { describe, expect, it } from 'vitest';
import { AirlockError } from '../../src/core/errors.js';
import { MAX_MUD_BYTES, parseMud } from '../../src/protocols/mud/parse.js';
import { ipVersion } from '../../src/core/ip.js';
import { codeOf } from '../support/errors.js';

type Json = Record<string, unknown>;

/** A valid MUD file: one from-device ACL with `ace` as its one entry. */
function mudWith(ace: Json, over: { mud?: Json; acl?: Json } = {}): Json {
  return {
    'ietf-mud:mud': {
      'mud-version': 1,
      'mud-url': 'https://maker.example/thermostat',
      'last-update': '2026-11-30T12:00:00Z',
      'cache-validity': 48,
      'is-supported': true,
      systeminfo: 'A thermostat',
      'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
      ...over.mud,
    },
    'ietf-access-control-list:acls': {
      acl: [{ name: 'out', type: 'ipv4-acl-type', aces: { ace: [ace] }, ...over.acl }],
    },
  };
}

const cloud: Json = {
  name: 'cloud',
  matches: {
    ipv4: { 'ietf-acldns:dst-dnsname': 'cloud.maker.example', protocol: 6 },
    tcp: { 'destination-port': { operator: 'eq', port: 443 } },
  },
  actions: { forwarding: 'accept' },
};

/** The error's message, or a failure when there is none. */
function refusal(doc: Json | string): string {
  try {
    parseMud(typeof doc === 'string' ? doc : JSON.stringify(doc));
  } catch (e) {
    if (e instanceof AirlockError && e.code === 'ERR_MUD_MALFORMED') return e.message;
    throw e;
  }
  throw new Error('expected ERR_MUD_MALFORMED');
}

const ACE = '/ietf-access-control-list:acls/acl[0]/aces/ace[0]';

describe('the MUD reader', () => {
  it('reads a valid file: the entry, its DNS name, port and action', () => {
    const { mud, warnings } = parseMud(JSON.stringify(mudWith(cloud)));
    expect(warnings).toEqual([]);
    expect(mud.cacheValidityHours).toBe(48);
    expect(mud.toDevice).toEqual([]);
    expect(mud.fromDevice[0]!.aces[0]).toMatchObject({
      family: 'ipv4',
      protocol: 6,
      destination: { kind: 'dnsname', name: 'cloud.maker.example' },
      destinationPort: { op: 'eq', port: 443 },
      action: 'accept',
    });
  });

  it('accepts YANG empty leaves as [null], and nothing else for them', () => {
    const ace = (v: unknown) => ({
      ...cloud,
      matches: { 'ietf-mud:mud': { 'same-manufacturer': v }, ipv4: { protocol: 17 } },
    });
    expect(parseMud(JSON.stringify(mudWith(ace([null])))).mud.fromDevice[0]!.aces[0]).toMatchObject(
      { abstraction: { kind: 'same-manufacturer' }, protocol: 17 },
    );
    for (const v of [true, null, [], [null, null], 'yes'])
      expect(refusal(mudWith(ace(v)))).toContain(`${ACE}/matches/ietf-mud:mud/same-manufacturer`);
  });

  it('an ACL a policy names but the file does not define is an error naming the policy', () => {
    const doc = mudWith(cloud, {
      mud: { 'to-device-policy': { 'access-lists': { 'access-list': [{ name: 'missing' }] } } },
    });
    expect(refusal(doc)).toContain(
      '/ietf-mud:mud/to-device-policy/access-lists/access-list[0]/name: names the ACL "missing"',
    );
  });

  it('a match Airlock does not understand refuses the entry, never widens it', () => {
    const with_ = (matches: Json) => mudWith({ ...cloud, matches });
    expect(refusal(with_({ ipv4: { protocol: 6, dscp: 10 } }))).toContain(
      `${ACE}/matches/ipv4/dscp`,
    );
    expect(refusal(with_({ ipv4: { protocol: 6 }, 'vendor:thing': {} }))).toContain(
      `${ACE}/matches/vendor:thing`,
    );
    expect(refusal(with_({ tcp: { flags: 'syn' } }))).toContain(`${ACE}/matches/tcp/flags`);
    expect(refusal(with_({ 'ietf-mud:mud': { 'my-cloud': [null] } }))).toContain(
      `${ACE}/matches/ietf-mud:mud/my-cloud`,
    );
  });

  it('an entry that matches every packet (no matches, or empty ones) is refused', () => {
    expect(refusal(mudWith({ name: 'all', actions: { forwarding: 'accept' } }))).toContain(
      `${ACE}/matches: an entry that matches every packet is refused`,
    );
    expect(refusal(mudWith({ ...cloud, matches: {} }))).toContain(`${ACE}/matches`);
  });

  it('an unknown ACL type, action or operator is an error naming it', () => {
    expect(refusal(mudWith(cloud, { acl: { type: 'ipv5-acl-type' } }))).toContain(
      '/ietf-access-control-list:acls/acl[0]/type: unknown ACL type "ipv5-acl-type"',
    );
    expect(refusal(mudWith({ ...cloud, actions: { forwarding: 'allow' } }))).toContain(
      `${ACE}/actions/forwarding`,
    );
    expect(refusal(mudWith({ ...cloud, actions: undefined }))).toContain(`${ACE}/actions`);
    expect(
      refusal(
        mudWith({
          ...cloud,
          matches: { tcp: { 'destination-port': { operator: 'between', port: 1 } } },
        }),
      ),
    ).toContain(`${ACE}/matches/tcp/destination-port/operator`);
  });

  it('malformed addresses, names and ports are errors naming the place', () => {
    const with_ = (ipv4: Json, tcp: Json = {}) => mudWith({ ...cloud, matches: { ipv4, tcp } });
    for (const bad of ['10.0.0.300/8', '10.0.0.0/33', '10.0.0.0/', 'fe80::/64', '10.0.0.0/08'])
      expect(refusal(with_({ 'destination-ipv4-network': bad })), bad).toContain(
        `${ACE}/matches/ipv4/destination-ipv4-network`,
      );
    for (const bad of ['-bad.example', 'a..b', 'sp ace.example', 'x'.repeat(64) + '.example'])
      expect(refusal(with_({ 'ietf-acldns:dst-dnsname': bad })), bad).toContain(
        `${ACE}/matches/ipv4/ietf-acldns:dst-dnsname`,
      );
    expect(
      refusal(
        with_({ 'ietf-acldns:dst-dnsname': 'a.example', 'destination-ipv4-network': '10.0.0.0/8' }),
      ),
    ).toContain('a second address for the same side');
    expect(refusal(with_({}, { 'destination-port': { port: 70000 } }))).toContain(
      `${ACE}/matches/tcp/destination-port/port`,
    );
    expect(
      refusal(with_({}, { 'destination-port': { 'lower-port': 10, 'upper-port': 9 } })),
    ).toContain('is empty');
    // TCP's ports under protocol 17: the entry contradicts itself.
    expect(refusal(with_({ protocol: 17 }))).toContain(`${ACE}/matches/tcp`);
    // An IPv6 match in an IPv4 ACL.
    expect(refusal(mudWith({ ...cloud, matches: { ipv6: { protocol: 6 } } }))).toContain(
      `${ACE}/matches/ipv6`,
    );
  });

  it('the file itself: JSON, one name per member, https, a version, a size', () => {
    expect(refusal('{"ietf-mud:mud": ')).toMatch(/not JSON/);
    expect(refusal('{"ietf-mud:mud": {}, "ietf-mud:mud": {}}')).toMatch(/repeats the member/);
    expect(refusal(mudWith(cloud, { mud: { 'mud-url': 'http://maker.example/t' } }))).toContain(
      '/ietf-mud:mud/mud-url: not an https URL',
    );
    expect(refusal(mudWith(cloud, { mud: { 'mud-version': 2 } }))).toContain(
      '/ietf-mud:mud/mud-version',
    );
    expect(refusal(mudWith(cloud, { mud: { 'cache-validity': 169 } }))).toContain(
      '/ietf-mud:mud/cache-validity',
    );
    expect(refusal(mudWith(cloud, { mud: { surprise: 1 } }))).toContain('/ietf-mud:mud/surprise');
    expect(refusal({ 'ietf-access-control-list:acls': { acl: [] } })).toContain(
      '/ietf-mud:mud: not an object',
    );
    const big = JSON.stringify(mudWith(cloud, { mud: { systeminfo: 'x'.repeat(MAX_MUD_BYTES) } }));
    expect(refusal(big)).toMatch(/exceeds/);
    expect(codeOf(() => parseMud(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe('ERR_MUD_MALFORMED');
  });

  it('IP addresses are read strictly, without node:net', () => {
    for (const [s, v] of [
      ['192.0.2.1', 4],
      ['::', 6],
      ['2001:db8::1', 6],
      ['::ffff:192.0.2.1', 6],
      ['1:2:3:4:5:6:7:8', 6],
      ['01.2.3.4', 0],
      ['1.2.3', 0],
      ['1::2::3', 0],
      ['1:2:3:4:5:6:7:8:9', 0],
      ['fe80::1%eth0', 0],
      ['', 0],
    ] as const)
      expect(ipVersion(s), s).toBe(v);
  });
});
