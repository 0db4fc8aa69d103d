/**
 * The network's intent settings as a file (`airlock network serve --intent FILE`, the `intent`
 * commands; docs/INTENT.md): its device classes with their address pools and controllers, the
 * controllers and local networks MUD files may name, the remediation server, where nftables
 * runs, and how MUD files may be fetched. Every value is checked here, before anything runs.
 */
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { ipVersion, isAddressOrPrefix } from '../../core/ip.js';
import { checked } from '../../protocols/schema.js';
import { checkSegments, type IntentSettings } from './intent-manager.js';

const address = z.string().refine((s) => isAddressOrPrefix(s, false), {
  message: 'an IP address or prefix',
});
const prefix = z.string().refine((s) => isAddressOrPrefix(s, true), {
  message: 'an IP prefix (address/length)',
});

const IntentFile = z.strictObject({
  segments: z.record(
    z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
    z.strictObject({
      prefix: z.string(),
      reservedHosts: z.array(z.number().int().min(1)).max(4096).optional(),
      myController: z.array(address).max(64).optional(),
      /** The router's interfaces to the segment (Linux names: 1 to 15 characters). */
      interfaces: z
        .array(z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/))
        .max(64)
        .optional(),
    }),
  ),
  controllers: z.record(z.string().max(2048), z.array(address).max(64)).optional(),
  localNetworks: z.array(address).max(64).optional(),
  remediation: z.array(address).max(64).optional(),
  /** The onboarding segment: its prefixes, and the onboarding component's addresses and TCP ports. */
  onboarding: z
    .strictObject({
      prefixes: z.array(prefix).min(1).max(64),
      component: z
        .array(
          z.strictObject({
            address: z.string().refine((a) => ipVersion(a) !== 0, { message: 'an IP address' }),
            port: z.number().int().min(1).max(65535),
          }),
        )
        .min(1)
        .max(16),
    })
    .optional(),
  /** The network namespace nft runs in (default: the host's). */
  netns: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  fetch: z
    .strictObject({
      /** Plain http:// MUD URLs too: tests and labs only. */
      allowHttp: z.boolean().optional(),
      /** Non-public prefixes MUD files may be fetched from (a lab's server). */
      allowedPrefixes: z.array(prefix).max(64).optional(),
      /** A PEM file of anchors for the MUD servers' TLS certificates (default: Node's). */
      tlsCa: z.string().max(4096).optional(),
    })
    .optional(),
  /** PEM files of MUD signing CAs besides the trusted manufacturers' own. */
  mudAnchors: z.array(z.string().max(4096)).max(64).optional(),
});

export type IntentFile = z.infer<typeof IntentFile>;

export interface ParsedIntentFile {
  settings: IntentSettings;
  netns: string | undefined;
  fetch: NonNullable<IntentFile['fetch']>;
  mudAnchors: string[];
}

/** The file's JSON value, checked: ERR_CONFIG naming the field. */
export function parseIntentFile(value: unknown): ParsedIntentFile {
  const f = checked(IntentFile, value, 'ERR_CONFIG', 'the intent settings');
  if (Object.keys(f.segments).length === 0)
    throw new AirlockError('ERR_CONFIG', 'the intent settings name no segment');
  checkSegments(f.segments);
  return {
    settings: {
      segments: f.segments,
      ...(f.controllers ? { controllers: f.controllers } : {}),
      ...(f.localNetworks ? { localNetworks: f.localNetworks } : {}),
      ...(f.remediation ? { remediation: f.remediation } : {}),
      ...(f.onboarding ? { onboarding: f.onboarding } : {}),
    },
    netns: f.netns,
    fetch: f.fetch ?? {},
    mudAnchors: f.mudAnchors ?? [],
  };
}
