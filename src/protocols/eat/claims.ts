/**
 * The Entity Attestation Token claims set (RFC 9711), JSON form (the claims of an EAT in JWT
 * form): every claim the RFC defines is checked for its type where it appears, and claims it
 * does not define are kept (RFC 9711 section 4: a recipient ignores what it does not know).
 * Byte strings are base64url text in JSON (RFC 9711 section 7.2.2); padding is tolerated on
 * input, as the RFC's own examples carry it.
 *
 * `AirlockDeviceClaims` is Airlock's profile of it (docs/ATTESTATION.md): the claims an
 * Airlock device's token must carry, each with the one form Airlock emits.
 */
import { z } from 'zod';
import { fromBase64Url } from '../../core/bytes.js';
import { checked } from '../schema.js';

/** RFC 9782: the media type of an EAT in JWT form; `eat_profile` names the profile. */
export const EAT_JWT_MEDIA_TYPE = 'application/eat+jwt';
/** Airlock's profile of a device's own token (measured boot, signed by its attestation key). */
export const AIRLOCK_DEVICE_PROFILE = 'tag:airlock.example,2026:eat/device/1';
/** Airlock's profile of a manufacturer's supply-chain evidence (a device that cannot attest). */
export const AIRLOCK_SUPPLY_CHAIN_PROFILE = 'tag:airlock.example,2026:eat/supply-chain/1';

export const deviceTokenMediaType = `${EAT_JWT_MEDIA_TYPE}; eat_profile="${AIRLOCK_DEVICE_PROFILE}"`;
export const supplyChainMediaType = `${EAT_JWT_MEDIA_TYPE}; eat_profile="${AIRLOCK_SUPPLY_CHAIN_PROFILE}"`;

const b64u = z.string().regex(/^[A-Za-z0-9_-]+={0,2}$/, 'base64url');
const b64uNoPad = z.string().regex(/^[A-Za-z0-9_-]+$/, 'base64url without padding');

/** RFC 9711 section 4.1: a nonce of 8 to 64 bytes, counted once decoded. */
const nonce = b64u.refine(
  (s) => {
    const bytes = fromBase64Url(s.replace(/=+$/, ''));
    return bytes !== undefined && bytes.length >= 8 && bytes.length <= 64;
  },
  { message: 'a nonce of 8 to 64 bytes' },
);

/** RFC 9711 section 4.2.9: the debug state, by name (JSON) or number (CBOR's values). */
export const DEBUG_STATES = [
  'enabled',
  'disabled',
  'disabled-since-boot',
  'disabled-permanently',
  'disabled-fully-and-permanently',
] as const;
export type DebugState = (typeof DEBUG_STATES)[number];

/** A submodule: a claims set, a nested token (`[type, token]`) or a detached digest. */
const Submodule: z.ZodType<unknown> = z.lazy(() =>
  z.union([EatClaims, z.tuple([z.enum(['JWT', 'CBOR', 'BUNDLE', 'DIGEST']), z.unknown()])]),
);

export const EatClaims = z.looseObject({
  eat_nonce: z.union([nonce, z.array(nonce).min(1)]).optional(),
  ueid: b64u.optional(),
  sueids: z.record(z.string(), b64u).optional(),
  oemid: z.union([b64u, z.number().int().nonnegative()]).optional(),
  hwmodel: b64u.optional(),
  hwversion: z
    .array(z.union([z.string(), z.number().int()]))
    .min(1)
    .max(2)
    .optional(),
  oemboot: z.boolean().optional(),
  dbgstat: z.union([z.enum(DEBUG_STATES), z.number().int().min(0).max(4)]).optional(),
  location: z.looseObject({ latitude: z.number(), longitude: z.number() }).optional(),
  uptime: z.number().int().nonnegative().optional(),
  bootcount: z.number().int().nonnegative().optional(),
  bootseed: b64u.optional(),
  swname: z.string().min(1).optional(),
  swversion: z
    .array(z.union([z.string(), z.number().int()]))
    .min(1)
    .max(2)
    .optional(),
  measurements: z
    .array(z.tuple([z.number().int().nonnegative(), z.string()]))
    .min(1)
    .optional(),
  measres: z.array(z.unknown()).optional(),
  intuse: z.union([z.number().int(), z.string()]).optional(),
  eat_profile: z.string().min(1).optional(),
  iat: z.number().optional(),
  exp: z.number().optional(),
  nbf: z.number().optional(),
  submods: z.record(z.string(), Submodule).optional(),
});
export type EatClaims = z.infer<typeof EatClaims>;

/** Any EAT claims set (RFC 9711), or ERR_EAT_MALFORMED naming the failing claims. */
export function parseEatClaims(json: unknown): EatClaims {
  return checked(EatClaims, json, 'ERR_EAT_MALFORMED', 'the EAT claims set');
}

/** The debug state as its RFC 9711 name, whichever form it came in. */
export function debugStateName(v: string | number): DebugState | undefined {
  return typeof v === 'number' ? DEBUG_STATES[v] : (v as DebugState);
}

/** Airlock's device token: what its profile requires, in the one form Airlock emits. */
/** What both of Airlock's profiles carry: who the device is, and what runs on it. */
const airlockCommon = {
  ueid: b64uNoPad,
  oemid: b64uNoPad,
  hwmodel: b64uNoPad,
  swname: z.string().min(1).max(128),
  swversion: z.tuple([z.string().min(1).max(64)]),
  measurements: z
    .array(z.tuple([z.number().int().nonnegative(), z.string().max(4096)]))
    .min(1)
    .max(16),
  iat: z.number().int().nonnegative(),
};

export const AirlockDeviceClaims = z.looseObject({
  ...airlockCommon,
  eat_profile: z.literal(AIRLOCK_DEVICE_PROFILE),
  eat_nonce: b64uNoPad.min(11).max(86),
  oemboot: z.boolean(),
  dbgstat: z.enum(DEBUG_STATES),
});
export type AirlockDeviceClaims = z.infer<typeof AirlockDeviceClaims>;

/** The manufacturer's supply-chain evidence: the same claims, made at minting, with no nonce. */
export const AirlockSupplyChainClaims = z.looseObject({
  ...airlockCommon,
  eat_profile: z.literal(AIRLOCK_SUPPLY_CHAIN_PROFILE),
  oemboot: z.literal(false),
  /** The device's serial number, as its birth certificate carries it. */
  'airlock.serial-number': z.string().min(1).max(64),
});
export type AirlockSupplyChainClaims = z.infer<typeof AirlockSupplyChainClaims>;
