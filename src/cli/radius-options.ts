/**
 * FreeRADIUS from the command line (docs/RADIUS.md): from a settings file
 * (`airlock network serve --radius FILE`, `airlock up --radius FILE`), or, for `airlock up`
 * on a machine that has FreeRADIUS, on loopback by default.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FreeRadius } from '../adapters/radius/freeradius.js';
import { isAirlockError } from '../core/errors.js';
import type { Network, NetworkRadiusOptions } from '../roles/network/index.js';
import { DEFAULT_SECRET_ENV, parseRadiusFile } from '../roles/network/radius-config.js';
import { readJsonFile } from './options.js';
import { note, say } from './output.js';

/** FreeRADIUS from a settings file: ERR_CONFIG for a bad file, or a FreeRADIUS that does not start. */
export async function radiusFromFile(
  n: Network,
  file: string,
  dataDir: string,
): Promise<FreeRadius> {
  const settings = parseRadiusFile(
    readJsonFile(file, 'a RADIUS settings file (JSON)'),
    process.env,
    path.join(dataDir, 'raddb'),
  );
  const { ports, ...options } = settings;
  const radius = await n.startRadius(options);
  try {
    for (const port of ports) {
      await n.controlPort({ ...port, dir: path.join(dataDir, 'ports', port.interface) });
      say(`802.1X port control on ${port.interface}: EAPOL and authorized stations only`);
    }
  } catch (e) {
    await radius.stop();
    throw e;
  }
  announce(options, radius);
  return radius;
}

/**
 * `airlock up`'s FreeRADIUS when it is given no settings: on 127.0.0.1 at `port`, for
 * authenticators on loopback, segment `default` on VLAN 101 and `quarantine` on 999. Its shared
 * secret is AIRLOCK_RADIUS_SECRET's, or else a random one for this run alone, never shown.
 * Where FreeRADIUS is not installed, or does not start, 802.1X is off and it says why.
 */
export async function radiusByDefault(
  n: Network,
  dataDir: string,
  port: number,
): Promise<FreeRadius | undefined> {
  if (!installed()) {
    note(
      '802.1X is off: FreeRADIUS is not installed (Debian: apt-get install freeradius); `--radius off` says this is meant',
    );
    return undefined;
  }
  const given = process.env[DEFAULT_SECRET_ENV];
  const settings: NetworkRadiusOptions = {
    dir: path.join(dataDir, 'raddb'),
    listen: { address: '127.0.0.1', port },
    clients: ['127.0.0.1'],
    secret:
      given !== undefined && given.length >= 16 ? given : randomBytes(24).toString('base64url'),
    vlans: { default: 101, quarantine: 999 },
  };
  try {
    const radius = await n.startRadius(settings);
    announce(settings, radius);
    if (given === undefined)
      note(
        `FreeRADIUS's shared secret is a random one for this run: set ${DEFAULT_SECRET_ENV} (16 characters or more) to give hostapd or a switch the same`,
      );
    return radius;
  } catch (e) {
    note(
      `802.1X is off: FreeRADIUS did not start (${isAirlockError(e) ? e.message : 'unexpected error'}); --radius-port picks another port, --radius off says this is meant`,
    );
    return undefined;
  }
}

function installed(): boolean {
  if (!fs.existsSync('/etc/freeradius/3.0/radiusd.conf')) return false;
  return (process.env.PATH ?? '/usr/sbin:/usr/bin').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, 'freeradius'), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function announce(settings: NetworkRadiusOptions, radius: FreeRadius): void {
  const at = settings.listen ?? { address: '127.0.0.1', port: 1812 };
  say(
    `FreeRADIUS (802.1X, EAP-TLS) serving at ${at.address}:${at.port} (pid ${radius.pid}), VLANs ${Object.entries(
      settings.vlans,
    )
      .map(([s, v]) => `${s} ${v}`)
      .join(', ')}`,
  );
}
