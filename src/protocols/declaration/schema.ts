/**
 * The device information declaration (NIST IR 8350 section 3): a manufacturer-signed JWS
 * naming a device's owner and authorized onboarders. Each declaration links to the one
 * before it by hash, so the whole history of transfers is a chain anyone can check.
 */
import { z } from 'zod';
import { PARTY_ID } from '../../core/party.js';
import { MAX_DPP_URI_LENGTH, parseDppUri } from '../dpp/uri.js';

/** Whether `text` reads as a DPP URI (Wi-Fi Easy Connect section 5.2.1). */
function isDppUri(text: string): boolean {
  try {
    parseDppUri(text);
    return true;
  } catch {
    return false;
  }
}

export const PartySchema = z.object({
  id: z.string().regex(PARTY_ID, 'base64url SHA-256'),
  name: z.string().min(1).max(200),
});

export const DeclarationEvent = z.enum(['minted', 'transferred', 'onboarders-changed']);

export const DeclarationBody = z.object({
  'serial-number': z.string().min(1).max(128),
  sequence: z.number().int().min(0),
  /** base64url SHA-256 of the previous declaration's compact JWS, or null for the first. */
  previous: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/)
    .nullable(),
  'issued-on': z.iso.datetime({ offset: true }),
  event: DeclarationEvent,
  manufacturer: PartySchema,
  owner: PartySchema,
  'authorized-onboarders': z.array(PartySchema).max(64),
  /**
   * The device's MUD URL (RFC 8520), as its birth certificate carries it: the manufacturer's
   * word for a network whose onboarding protocol does not convey one (a DPP enrollee, say).
   * Optional: declarations made before it, and other manufacturers', have none.
   */
  'mud-url': z
    .string()
    .max(2048)
    .regex(/^https:\/\/[^\s]+$/, 'an https URL')
    .optional(),
  /**
   * The device's Wi-Fi Easy Connect bootstrapping URI (docs/DPP.md), as minted: what its QR
   * code shows, so that its owner can add it to a DPP Configurator without scanning. Optional:
   * declarations made before it, of devices minted before it, and other manufacturers', have
   * none; a reader that does not know it ignores it.
   */
  'dpp-uri': z.string().max(MAX_DPP_URI_LENGTH).refine(isDppUri, 'a DPP URI').optional(),
});

export const Declaration = z.object({ 'airlock-declaration': DeclarationBody });
export type DeclarationBody = z.infer<typeof DeclarationBody>;
export type DeclarationEvent = z.infer<typeof DeclarationEvent>;

/** A chain as exchanged: the compact JWS of each declaration, oldest first. */
export const DeclarationChain = z.array(z.string().max(32_768)).min(1).max(1024);
export type DeclarationChain = z.infer<typeof DeclarationChain>;

/** The export file a network administrator installs ahead of time (report section 5.1.2). */
export const DeclarationExport = z.object({
  format: z.literal('airlock-declarations/1'),
  'exported-on': z.iso.datetime({ offset: true }),
  devices: z
    .array(z.object({ 'serial-number': z.string(), chain: DeclarationChain }))
    .max(1_000_000),
});
export type DeclarationExport = z.infer<typeof DeclarationExport>;
