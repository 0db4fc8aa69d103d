/**
 * The network's 802.1X settings as a file (`airlock network serve --radius FILE`,
 * docs/RADIUS.md): where FreeRADIUS listens, which authenticators may ask it, each segment's
 * VLAN, where its configuration is written, the environment variable its shared secret is
 * read from (a secret is never in a settings file), who can re-authenticate a device, and where
 * the Wi-Fi key file goes. Every value is checked here.
 */
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { ipVersion, isAddressOrPrefix } from '../../core/ip.js';
import { checked } from '../../protocols/schema.js';
import type { NetworkRadiusOptions } from './index.js';

const addressOrPrefix = z.string().refine((s) => isAddressOrPrefix(s, false), {
  message: 'an IP address or prefix',
});

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith('/') && !/[\n\0]/.test(p), { message: 'an absolute path' });

const RadiusFile = z.strictObject({
  listen: z
    .strictObject({
      address: z.string().refine((a) => ipVersion(a) !== 0, { message: 'an IP address' }),
      port: z.number().int().min(1).max(65535),
    })
    .optional(),
  clients: z.array(addressOrPrefix).min(1).max(256),
  vlans: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.number().int().min(1).max(4094)),
  /** The environment variable holding the RADIUS shared secret (default AIRLOCK_RADIUS_SECRET). */
  secretEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]{0,63}$/)
    .optional(),
  /** Where FreeRADIUS's configuration is written (default: `raddb` in the data directory). */
  dir: z.string().min(1).max(4096).optional(),
  /**
   * Who can make a device authenticate again when its access changes (access-watch.ts): RFC 5176
   * Dynamic Authorization Servers, sharing the RADIUS secret, and hostapd control interfaces.
   */
  authenticators: z
    .array(
      z.union([
        z.strictObject({
          das: z.strictObject({
            address: z.string().refine((a) => ipVersion(a) !== 0, { message: 'an IP address' }),
            port: z.number().int().min(1).max(65535).default(3799),
          }),
        }),
        z.strictObject({
          hostapd: z.strictObject({
            ctrl: absolutePath,
            interface: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
          }),
        }),
      ]),
    )
    .max(256)
    .optional(),
  /** hostapd's `wpa_psk_file`, written at start and whenever the keys change. */
  wifiKeyFile: z.string().min(1).max(4096).optional(),
  /**
   * hostapd's wired ports whose traffic the network controls (802.1X port control): only EAPOL
   * and authorized stations pass. `netns`: the namespace the port's interface is in.
   */
  ports: z
    .array(
      z.strictObject({
        ctrl: absolutePath,
        interface: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/),
        netns: z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/)
          .optional(),
      }),
    )
    .max(256)
    .optional(),
});

/** A wired port the network controls (`ports` in the settings file). */
export interface PortSettings {
  ctrl: string;
  interface: string;
  netns?: string;
}

export const DEFAULT_SECRET_ENV = 'AIRLOCK_RADIUS_SECRET';

/** The file's JSON value, checked, with the secret read from the environment: ERR_CONFIG naming what is wrong. */
export function parseRadiusFile(
  value: unknown,
  env: Readonly<Record<string, string | undefined>>,
  defaultDir: string,
): NetworkRadiusOptions & { ports: PortSettings[] } {
  const f = checked(RadiusFile, value, 'ERR_CONFIG', 'the RADIUS settings');
  const name = f.secretEnv ?? DEFAULT_SECRET_ENV;
  const secret = env[name];
  if (secret === undefined || secret.length < 16)
    throw new AirlockError(
      'ERR_CONFIG',
      `the RADIUS shared secret is read from ${name}, which holds ${secret === undefined ? 'nothing' : 'fewer than 16 characters'}`,
      { details: { hint: `export ${name}=<the secret hostapd or the switch is given>` } },
    );
  return {
    dir: f.dir ?? defaultDir,
    ...(f.listen ? { listen: f.listen } : {}),
    clients: f.clients,
    secret,
    vlans: f.vlans,
    ...(f.authenticators ? { authenticators: f.authenticators } : {}),
    ...(f.wifiKeyFile !== undefined ? { wifiKeyFile: f.wifiKeyFile } : {}),
    ports: (f.ports ?? []).map((p) => ({
      ctrl: p.ctrl,
      interface: p.interface,
      ...(p.netns !== undefined ? { netns: p.netns } : {}),
    })),
  };
}
