/**
 * hostapd's control interface, the one thing Airlock asks of it: re-authenticate, in place, the
 * station that authenticated under a name (`EAPOL_REAUTH`). The session stays up; hostapd
 * sends the station a new EAP-Request/Identity, and the Access-Accept or -Reject of that
 * authentication decides its port and VLAN afresh.
 *
 * The interface is a Unix datagram socket, which Node cannot open: hostapd's own client,
 * hostapd_cli, carries the commands.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AirlockError } from '../../core/errors.js';

const run = promisify(execFile);

export interface HostapdControl {
  /** hostapd's `ctrl_interface` directory. */
  ctrl: string;
  /** The interface it authenticates on (a wired port, a radio). */
  interface: string;
  /** The program (default `hostapd_cli`). */
  binary?: string;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * Re-authenticates each station whose 802.1X identity is `userName`. Returns how many it
 * asked; 0 when no station authenticated under that name. ERR_TRANSPORT when hostapd cannot
 * be reached or refuses.
 */
export async function reauthenticateStation(c: HostapdControl, userName: string): Promise<number> {
  let asked = 0;
  for (const s of await stations(c)) {
    if (s.userName !== userName) continue;
    const answer = (await cli(c, 'raw', `EAPOL_REAUTH ${s.mac}`)).trim();
    if (answer !== 'OK')
      throw new AirlockError('ERR_TRANSPORT', `hostapd on ${c.interface} refused EAPOL_REAUTH`);
    asked++;
  }
  return asked;
}

export interface Station {
  mac: string;
  /** The name it authenticated with. */
  userName?: string;
  /** Whether its port is authorized (`flags=[...][AUTHORIZED]`). */
  authorized: boolean;
}

/** The stations hostapd holds now. ERR_TRANSPORT when it cannot be asked. */
export async function stations(c: HostapdControl): Promise<Station[]> {
  return parseStations(await cli(c, 'all_sta'));
}

/** hostapd's `all_sta`: blocks, each a MAC address line followed by `key=value` lines. */
export function parseStations(text: string): Station[] {
  const out: Station[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const last = out[out.length - 1];
    if (MAC.test(line)) out.push({ mac: line, authorized: false });
    else if (line.startsWith('dot1xAuthSessionUserName=') && last)
      last.userName = line.slice('dot1xAuthSessionUserName='.length);
    else if (line.startsWith('flags=') && last) last.authorized = line.includes('[AUTHORIZED]');
  }
  return out;
}

/** Checks the control directory and interface, and runs one hostapd_cli command. */
async function cli(c: HostapdControl, ...args: string[]): Promise<string> {
  checkControl(c);
  try {
    const { stdout } = await run(
      c.binary ?? 'hostapd_cli',
      ['-p', c.ctrl, '-i', c.interface, ...args],
      { timeout: 5_000, encoding: 'utf8' },
    );
    return stdout;
  } catch (cause) {
    throw new AirlockError('ERR_TRANSPORT', `hostapd on ${c.interface} could not be asked`, {
      cause,
    });
  }
}

export function checkControl(c: HostapdControl): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(c.interface) || /[\n\0]/.test(c.ctrl))
    throw new AirlockError('ERR_CONFIG', "not hostapd's control directory and interface");
}
