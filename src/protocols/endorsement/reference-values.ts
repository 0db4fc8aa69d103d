/**
 * A manufacturer's endorsements and reference values for the verification service (NIST IR
 * 8350 section 5.1.1 step 3; RFC 9334 section 3: the endorser and the reference value
 * provider): the CAs that certify its devices' attestation keys, and per model whether it
 * has secure boot and the digest of each firmware version it released, withdrawn ones
 * marked. One JWS compact (ES256, x5c signer then its CA), signed by the manufacturer's
 * endorsements key; `sequence` grows with every change, so that an older document cannot
 * replace a newer one.
 */
import { z } from 'zod';
import { AirlockError } from '../../core/errors.js';
import { toBase64 } from '../../core/bytes.js';
import type { Crypto, PrivateKeyHandle } from '../../core/ports.js';
import { PartySchema } from '../declaration/schema.js';
import { decodeCompact, payloadJson, signCompact, verifyCompact } from '../jws/compact.js';
import { parseCertificateBase64, type Certificate } from '../x509/certificate.js';
import { verifyChain } from '../x509/chain.js';
import { checked } from '../schema.js';

export const REFERENCE_VALUES_MEDIA_TYPE = 'application/vnd.airlock.reference-values+jws';
export const MAX_REFERENCE_VALUES_BYTES = 4 * 1024 * 1024;

export const FirmwareRelease = z.object({
  name: z.string().min(1).max(128),
  version: z.string().regex(/^\d+(\.\d+){0,3}$/, 'dotted numeric version'),
  /** base64url SHA-256 of the image. */
  digest: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  status: z.enum(['released', 'withdrawn']),
  'released-on': z.iso.datetime({ offset: true }),
  'withdrawn-on': z.iso.datetime({ offset: true }).optional(),
});
export type FirmwareRelease = z.infer<typeof FirmwareRelease>;

export const ModelReferenceValues = z.object({
  /** Whether the model boots only firmware its manufacturer signed (and so can attest). */
  'secure-boot': z.boolean(),
  firmware: z.array(FirmwareRelease).max(4096),
});

export const ReferenceValuesBody = z.object({
  manufacturer: PartySchema,
  sequence: z.number().int().min(1),
  'issued-on': z.iso.datetime({ offset: true }),
  /** Endorsements: base64 DER of the CAs that certify attestation keys. */
  'attestation-cas': z.array(z.string().min(1).max(16_384)).min(1).max(8),
  models: z.record(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), ModelReferenceValues),
});
export type ReferenceValuesBody = z.infer<typeof ReferenceValuesBody>;

const Document = z.object({ 'airlock-reference-values': ReferenceValuesBody });

export function signReferenceValues(
  crypto: Crypto,
  key: PrivateKeyHandle,
  chain: readonly Certificate[],
  body: ReferenceValuesBody,
): string {
  return signCompact(
    crypto,
    key,
    { alg: 'ES256', typ: 'reference-values+jws', x5c: chain.map((c) => toBase64(c.der)) },
    { 'airlock-reference-values': body },
  );
}

export interface VerifiedReferenceValues {
  readonly body: ReferenceValuesBody;
  readonly attestationCas: readonly Certificate[];
  readonly text: string;
}

/**
 * The document, its signer chaining to `anchors` (the manufacturer's endorsements CA) at
 * `at`, and each attestation CA it endorses chaining to `root` (the manufacturer's root).
 * Anything else is ERR_REFERENCE_VALUES_MALFORMED.
 */
export function verifyReferenceValues(
  crypto: Crypto,
  text: string,
  trust: { anchors: readonly Certificate[]; root: Certificate; at: Date },
): VerifiedReferenceValues {
  const fail = (detail: string, cause?: unknown) =>
    new AirlockError('ERR_REFERENCE_VALUES_MALFORMED', detail, cause ? { cause } : undefined);
  if (text.length > MAX_REFERENCE_VALUES_BYTES) throw fail('the document is too large');
  let body: ReferenceValuesBody;
  let attestationCas: Certificate[];
  try {
    const jws = decodeCompact(text);
    const x5c = (jws.header.x5c ?? []).map((c) => parseCertificateBase64(c));
    if (x5c.length === 0) throw fail('no x5c');
    verifyChain(crypto, {
      leaf: x5c[0]!,
      intermediates: x5c.slice(1),
      anchors: trust.anchors,
      at: trust.at,
    });
    verifyCompact(crypto, jws, x5c[0]!.spki);
    body = checked(Document, payloadJson(jws), 'ERR_REFERENCE_VALUES_MALFORMED')[
      'airlock-reference-values'
    ];
    attestationCas = body['attestation-cas'].map((c) => parseCertificateBase64(c));
    for (const ca of attestationCas) {
      if (!ca.isCa) throw fail('an attestation CA is not a CA');
      verifyChain(crypto, { leaf: ca, anchors: [trust.root], at: trust.at });
    }
  } catch (e) {
    if (e instanceof AirlockError && e.code === 'ERR_REFERENCE_VALUES_MALFORMED') throw e;
    throw fail('the document does not verify', e);
  }
  return { body, attestationCas, text };
}
