/**
 * hostapd's `wpa_psk_file` (hostapd.conf): one line per device, `keyid=<id> [vlanid=<n>]
 * <MAC> <passphrase>`, the MAC all zeros when any station may use the key (hostapd then tries
 * each wildcard key in turn, and the key a station proves names the device). `keyid` comes
 * back in hostapd's AP-STA-CONNECTED event, so the network knows which device joined.
 */
import { AirlockError } from '../../core/errors.js';

export interface PskFileEntry {
  /** The key's id (Airlock's PSK id): letters, digits, `-` and `_`. */
  keyId: string;
  /** The VLAN the device lands in; none: the access point's own. */
  vlan?: number;
  /** The device's MAC address, if known; else any station (00:00:00:00:00:00). */
  mac?: string;
  /** The WPA passphrase: 8 to 63 printable ASCII characters (IEEE 802.11 annex M.4). */
  passphrase: string;
}

const WILDCARD = '00:00:00:00:00:00';

export function pskFile(entries: readonly PskFileEntry[]): string {
  const lines = ['# Written by Airlock: one line per onboarded device. Changes are overwritten.'];
  for (const e of entries) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(e.keyId))
      throw new AirlockError('ERR_INTERNAL', 'a PSK id hostapd cannot read');
    if (!/^[\x20-\x7e]{8,63}$/.test(e.passphrase) || /^\s|\s$/.test(e.passphrase))
      throw new AirlockError('ERR_INTERNAL', `PSK ${e.keyId}: not a WPA passphrase`);
    if (e.vlan !== undefined && (!Number.isInteger(e.vlan) || e.vlan < 1 || e.vlan > 4094))
      throw new AirlockError('ERR_INTERNAL', `PSK ${e.keyId}: VLAN ${e.vlan}`);
    const mac = e.mac?.toLowerCase() ?? WILDCARD;
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac))
      throw new AirlockError('ERR_INTERNAL', `PSK ${e.keyId}: not a MAC address`);
    lines.push(
      [
        `keyid=${e.keyId}`,
        ...(e.vlan !== undefined ? [`vlanid=${e.vlan}`] : []),
        mac,
        e.passphrase,
      ].join(' '),
    );
  }
  return `${lines.join('\n')}\n`;
}
