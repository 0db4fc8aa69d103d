/**
 * Airlock's messages for the steps BRSKI leaves open (under /.well-known/airlock): the
 * declaration chain (step 6), application bootstrap (step 14) and Wi-Fi credentials (step 15).
 * A device receives them from a registrar it has not fully judged yet, so each is parsed
 * against its schema before anything reads it.
 */
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { toBase64Url } from '../../core/bytes.js';
import { checked } from '../schema.js';
import { DeclarationChain } from '../declaration/schema.js';

export const DeclarationReply = z.object({ chain: DeclarationChain });

/**
 * Steps 2 and 3, bound to the channel: the nonce of a device's evidence is keying material
 * exported from its TLS session with the registrar (RFC 8446 section 7.5; RFC 5705 in TLS
 * 1.2, with the extended master secret), this label, no context, this many bytes, base64url.
 */
export const ATTESTATION_NONCE_LABEL = 'EXPORTER-airlock-attestation-nonce';
export const ATTESTATION_NONCE_BYTES = 32;

/** The channel-bound nonce, as the device and the registrar each derive it from their end. */
export function attestationNonce(channel: {
  exporter(label: string, length: number): Uint8Array;
}): string {
  return toBase64Url(channel.exporter(ATTESTATION_NONCE_LABEL, ATTESTATION_NONCE_BYTES));
}

/**
 * Steps 2 to 5 at once (docs/ATTESTATION.md): the evidence rides on the pledge's voucher
 * request in two header fields, its media type and the token itself (a compact JWS: base64url
 * and dots, as a field value may carry). A registrar that appraised it says the verifier's
 * status in the answer's field; any other registrar ignores the fields, and its answer has none.
 */
export const EVIDENCE_TYPE_FIELD = 'airlock-evidence-type';
export const EVIDENCE_FIELD = 'airlock-evidence';
export const ATTESTATION_STATUS_FIELD = 'airlock-attestation-status';

/** Re-attestation (report section 7): the device's evidence for the nonce the network sent. */
export const ReattestationReply = z.object({
  mediaType: z.string().min(1).max(256),
  token: z.string().min(1).max(16_384),
});

export const AppBootstrapReply = z.object({
  applicationUrl: z.url({ protocol: /^https$/ }),
  trustAnchor: z.string().min(1).max(16_384),
});

export const WifiReply = z.object({
  ssid: z.string().min(1).max(32),
  /** A WPA2 passphrase: 8 to 63 printable ASCII characters. */
  psk: z.string().regex(/^[\x20-\x7e]{8,63}$/),
  /** Where the network enforces the device's intent: the address its rules are keyed by. */
  address: z.string().max(45).optional(),
});

/** JSON text to a schema-checked value, or a typed error. */
export function parseJson<S extends z.ZodType>(text: string, schema: S): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AirlockError('ERR_INPUT_MALFORMED_JSON', undefined, { cause });
  }
  return checked(schema, value, 'ERR_INPUT_SCHEMA');
}
