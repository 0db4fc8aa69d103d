/**
 * hostapd's wpa_psk_file as Airlock writes it: the line format hostapd reads, and every value
 * it could not read refused with a typed error (the e2e test runs hostapd's own parser).
 */
import { describe, expect, it } from 'vitest';
import { pskFile } from '../../src/protocols/wifi/psk-file.js';
import { codeOf } from '../support/errors.js';

const good = { keyId: 'psk-a1', passphrase: 'abcdefghijklmnopqrstuvwxyz012345' };

describe("hostapd's PSK file", () => {
  it('writes keyid, vlanid, the MAC (any station by default) and the passphrase, one line each', () => {
    expect(
      pskFile([
        { ...good, vlan: 101 },
        { keyId: 'psk-b2', passphrase: 'p'.repeat(63), mac: '02:AB:00:00:00:01' },
      ])
        .split('\n')
        .slice(1),
    ).toEqual([
      `keyid=psk-a1 vlanid=101 00:00:00:00:00:00 ${good.passphrase}`,
      `keyid=psk-b2 02:ab:00:00:00:01 ${'p'.repeat(63)}`,
      '',
    ]);
  });

  it.each([
    ['a key id with a space', { ...good, keyId: 'psk a' }],
    ['a passphrase of 7 characters', { ...good, passphrase: 'short12' }],
    ['a passphrase of 64 characters', { ...good, passphrase: 'x'.repeat(64) }],
    ['a passphrase with a line break', { ...good, passphrase: 'abcdefgh\nvlanid=1' }],
    ['a passphrase ending in a space', { ...good, passphrase: 'abcdefgh ' }],
    ['VLAN 0', { ...good, vlan: 0 }],
    ['VLAN 4095', { ...good, vlan: 4095 }],
    ['a MAC address of five octets', { ...good, mac: '02:00:00:00:01' }],
  ])('refuses %s', (_, entry) => {
    expect(codeOf(() => pskFile([entry]))).toBe('ERR_INTERNAL');
  });
});
