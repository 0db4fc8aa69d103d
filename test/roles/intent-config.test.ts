/**
 * The network's intent settings file (docs/INTENT.md), checked before anything runs: every
 * bad value is ERR_CONFIG naming its field. And a manufacturer's published MUD file: read as a
 * network would before it is signed; a file a network would refuse is never published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIntentFile } from '../../src/roles/network/intent-config.js';
import { codeOf, errorCode } from '../support/errors.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { parseMud } from '../../src/protocols/mud/parse.js';
import { verifyMudSignature } from '../../src/protocols/mud/signature.js';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';

const GOOD = {
  segments: {
    iot: {
      prefix: '10.1.0.0/24',
      reservedHosts: [1],
      myController: ['10.2.0.10'],
      interfaces: ['wlan0', 'br-iot.10'],
    },
  },
  remediation: ['10.9.0.1'],
  localNetworks: ['10.0.0.0/8'],
  netns: 'gw',
  onboarding: { prefixes: ['10.3.0.0/24'], component: [{ address: '10.3.0.1', port: 8444 }] },
  fetch: { allowedPrefixes: ['192.168.50.0/24'] },
};

describe('the intent settings file', () => {
  it('reads a good file', () => {
    const p = parseIntentFile(GOOD);
    expect(p.netns).toBe('gw');
    expect(p.settings.segments.iot!.myController).toEqual(['10.2.0.10']);
    expect(p.settings.segments.iot!.interfaces).toEqual(['wlan0', 'br-iot.10']);
    expect(p.fetch).toEqual({ allowedPrefixes: ['192.168.50.0/24'] });
    expect(p.settings.onboarding).toEqual(GOOD.onboarding);
  });

  it.each([
    ['no segment', { ...GOOD, segments: {} }],
    ['a prefix that is not IPv4', { segments: { iot: { prefix: 'fd00::/64' } } }],
    ['a prefix with host bits', { segments: { iot: { prefix: '10.1.0.7/24' } } }],
    ['a prefix too small', { segments: { iot: { prefix: '10.1.0.0/31' } } }],
    [
      'a controller that is no address',
      { segments: { iot: { prefix: '10.1.0.0/24', myController: ['ctl.example'] } } },
    ],
    ['an unknown field', { ...GOOD, firewall: 'iptables' }],
    ['a namespace name with a slash', { ...GOOD, netns: '../gw' }],
    ['a segment name with a space', { segments: { 'i o t': { prefix: '10.1.0.0/24' } } }],
    [
      'an onboarding component without a port',
      { ...GOOD, onboarding: { prefixes: ['10.3.0.0/24'], component: [{ address: '10.3.0.1' }] } },
    ],
    [
      'an onboarding segment with no prefix',
      { ...GOOD, onboarding: { prefixes: [], component: [{ address: '10.3.0.1', port: 8444 }] } },
    ],
    ['reserved host 0', { segments: { iot: { prefix: '10.1.0.0/24', reservedHosts: [0] } } }],
    [
      'two segments whose pools overlap',
      { segments: { a: { prefix: '10.1.0.0/16' }, b: { prefix: '10.1.7.0/24' } } },
    ],
    [
      'an onboarding prefix without its length',
      { ...GOOD, onboarding: { ...GOOD.onboarding, prefixes: ['10.3.0.0'] } },
    ],
    [
      'an interface name longer than Linux allows',
      { segments: { iot: { prefix: '10.1.0.0/24', interfaces: ['a-very-long-name0'] } } },
    ],
    [
      'an interface name with a space',
      { segments: { iot: { prefix: '10.1.0.0/24', interfaces: ['wlan 0'] } } },
    ],
    ['an IPv4 prefix longer than 32', { ...GOOD, remediation: ['10.9.0.1/33'] }],
    ['an IPv6 prefix longer than 128', { ...GOOD, localNetworks: ['fd00::/129'] }],
    [
      'a fetch prefix without its length',
      { ...GOOD, fetch: { allowedPrefixes: ['192.168.50.1'] } },
    ],
  ])('refuses %s: ERR_CONFIG', (_, value) => {
    expect(codeOf(() => parseIntentFile(value))).toBe('ERR_CONFIG');
  });
});

describe("a manufacturer's published MUD file", () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ attestation: false });
  });
  afterAll(async () => sys?.close());

  it('is read and compiled as a network would before it is signed: a bad file is refused and the model keeps what it served', async () => {
    await sys.newDevice({ model: 'lamp-l2' }); // a model minted: its default file is served
    const before = await sys.manufacturer.intent.document('lamp-l2');
    for (const bad of [
      'not json',
      '{}',
      JSON.stringify({
        'ietf-mud:mud': {
          'mud-version': 1,
          'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'missing' }] } },
        },
      }),
    ])
      expect(await errorCode(() => sys.manufacturer.intent.publish('lamp-l2', bad))).toBe(
        'ERR_MUD_MALFORMED',
      );
    // Well formed, but no router can enforce it: one host's MAC address, seen from a router.
    const unenforceable = JSON.stringify({
      'ietf-mud:mud': {
        'mud-version': 1,
        'cache-validity': 24,
        'is-supported': true,
        systeminfo: 'a lamp',
        'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
      },
      'ietf-access-control-list:acls': {
        acl: [
          {
            name: 'out',
            type: 'ipv4-acl-type',
            aces: {
              ace: [
                {
                  name: 'one-mac',
                  matches: { eth: { 'destination-mac-address': '02:00:00:00:00:01' } },
                  actions: { forwarding: 'accept' },
                },
              ],
            },
          },
        ],
      },
    });
    expect(await errorCode(() => sys.manufacturer.intent.publish('lamp-l2', unenforceable))).toBe(
      'ERR_MUD_UNENFORCEABLE',
    );
    expect(await errorCode(() => sys.manufacturer.intent.publish('../etc', '{}'))).toBe(
      'ERR_INPUT_SCHEMA',
    );
    expect(await sys.manufacturer.intent.document('lamp-l2')).toEqual(before);
  });

  it('gets its URL, signature URL and date set, and a signature by the MUD signer over the bytes served', async () => {
    const file = {
      'ietf-mud:mud': {
        'mud-version': 1,
        'mud-url': 'https://attacker.example/other.json',
        'cache-validity': 24,
        'is-supported': true,
        systeminfo: 'a lamp',
        'from-device-policy': { 'access-lists': { 'access-list': [{ name: 'out' }] } },
      },
      'ietf-access-control-list:acls': {
        acl: [
          {
            name: 'out',
            type: 'ipv4-acl-type',
            aces: {
              ace: [
                {
                  name: 'c',
                  matches: { 'ietf-mud:mud': { 'my-controller': [null] } },
                  actions: { forwarding: 'accept' },
                },
              ],
            },
          },
        ],
      },
    };
    await sys.manufacturer.intent.publish('lamp-l3', JSON.stringify(file));
    const served = await sys.manufacturer.intent.document('lamp-l3');
    const { mud } = parseMud(served.bytes);
    expect(mud.url).toBe(`${sys.manufacturer.config.mudBaseUrl}/lamp-l3.json`);
    expect(mud.signature).toBe(`${sys.manufacturer.config.mudBaseUrl}/lamp-l3.p7s`);
    expect(mud.cacheValidityHours).toBe(24);
    const signer = verifyMudSignature(new NodeCrypto(), {
      mud: served.bytes,
      signature: served.signature,
      anchors: [sys.manufacturer.pki.mudCa.cert],
      at: new Date(),
    });
    expect(signer.subject).toMatch(/MUD$/);
  });
});
