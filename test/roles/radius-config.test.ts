/**
 * The network's 802.1X settings file (docs/RADIUS.md), checked before anything runs: every bad
 * value is ERR_CONFIG, and the shared secret comes from the environment only.
 */
import { describe, expect, it } from 'vitest';
import { parseRadiusFile } from '../../src/roles/network/radius-config.js';
import { codeOf } from '../support/errors.js';

const GOOD = {
  listen: { address: '10.0.0.1', port: 1812 },
  clients: ['10.0.0.0/24', '127.0.0.1'],
  vlans: { default: 101, quarantine: 999 },
};
const ENV = { AIRLOCK_RADIUS_SECRET: 'sixteen-chars-ok!' };

describe('the RADIUS settings file', () => {
  it('reads a good file, the secret from the environment, the directory by default in the data directory', () => {
    expect(parseRadiusFile(GOOD, ENV, '/data/raddb')).toEqual({
      dir: '/data/raddb',
      listen: GOOD.listen,
      clients: GOOD.clients,
      secret: ENV.AIRLOCK_RADIUS_SECRET,
      vlans: GOOD.vlans,
      ports: [],
    });
    expect(
      parseRadiusFile({ ...GOOD, secretEnv: 'MY_SECRET' }, { MY_SECRET: 'x'.repeat(20) }, '/d')
        .secret,
    ).toBe('x'.repeat(20));
  });

  it('reads who re-authenticates devices (RFC 5176 port 3799 by default) and the Wi-Fi key file', () => {
    const o = parseRadiusFile(
      {
        ...GOOD,
        authenticators: [
          { das: { address: '10.0.0.2' } },
          { das: { address: 'fd00::2', port: 1700 } },
          { hostapd: { ctrl: '/run/hostapd', interface: 'eth1' } },
        ],
        wifiKeyFile: '/etc/hostapd/wpa_psk',
        ports: [{ ctrl: '/run/hostapd', interface: 'eth1', netns: 'lan' }],
      },
      ENV,
      '/d',
    );
    expect(o.authenticators).toEqual([
      { das: { address: '10.0.0.2', port: 3799 } },
      { das: { address: 'fd00::2', port: 1700 } },
      { hostapd: { ctrl: '/run/hostapd', interface: 'eth1' } },
    ]);
    expect(o.wifiKeyFile).toBe('/etc/hostapd/wpa_psk');
    expect(o.ports).toEqual([{ ctrl: '/run/hostapd', interface: 'eth1', netns: 'lan' }]);
  });

  it.each([
    ['no secret in the environment', GOOD, {}],
    ['a secret of 15 characters', GOOD, { AIRLOCK_RADIUS_SECRET: 'x'.repeat(15) }],
    ['a secret in the file', { ...GOOD, secret: 'x'.repeat(20) }, ENV],
    ['a client that is no address', { ...GOOD, clients: ['switch.example'] }, ENV],
    ['no client', { ...GOOD, clients: [] }, ENV],
    ['VLAN 0', { ...GOOD, vlans: { default: 0 } }, ENV],
    ['VLAN 4095', { ...GOOD, vlans: { default: 4095 } }, ENV],
    ['a port of 0', { ...GOOD, listen: { address: '10.0.0.1', port: 0 } }, ENV],
    [
      'a listen address that is a name',
      { ...GOOD, listen: { address: 'radius', port: 1812 } },
      ENV,
    ],
    ['a secret variable name in lower case', { ...GOOD, secretEnv: 'secret' }, ENV],
    ['an authenticator at a name', { ...GOOD, authenticators: [{ das: { address: 'ap1' } }] }, ENV],
    [
      'an authenticator of no known kind',
      { ...GOOD, authenticators: [{ snmp: { address: '10.0.0.2' } }] },
      ENV,
    ],
    [
      "hostapd's control directory relative",
      { ...GOOD, authenticators: [{ hostapd: { ctrl: 'run/hostapd', interface: 'eth1' } }] },
      ENV,
    ],
    [
      'a port in a namespace of another name',
      { ...GOOD, ports: [{ ctrl: '/run/h', interface: 'eth1', netns: 'a b' }] },
      ENV,
    ],
    [
      'an interface name of 16 characters',
      { ...GOOD, authenticators: [{ hostapd: { ctrl: '/run/h', interface: 'x'.repeat(16) } }] },
      ENV,
    ],
  ])('refuses %s: ERR_CONFIG', (_, value, env) => {
    expect(codeOf(() => parseRadiusFile(value, env, '/d'))).toBe('ERR_CONFIG');
  });
});
