/**
 * The EAT Attestation Result (EAR, draft-ietf-rats-ear), JSON form: a verifier's signed
 * appraisal of evidence. Per submodule: `ear.status` (affirming / warning / contraindicated,
 * or none), an AR4SI trustworthiness vector (draft-ietf-rats-ar4si: eight claims, each a
 * tier value: 0 none, 2-31 affirming, 32-95 warning, 96-127 contraindicated, negative and 1
 * reserved), and the appraisal policy. Claims this reader does not know (Veraison's
 * `ear.veraison.*` extensions, Airlock's `ear.airlock.reasons`) are kept as they are.
 */
import { z } from 'zod';
import { checked } from '../schema.js';

export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';
/** draft-ietf-rats-ear: the EAR in JWT form. */
export const EAR_JWT_MEDIA_TYPE = `application/eat+jwt; eat_profile="${EAR_PROFILE}"`;

export const EAR_STATUSES = ['none', 'affirming', 'warning', 'contraindicated'] as const;
export type EarStatus = (typeof EAR_STATUSES)[number];

export const TRUSTWORTHINESS_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;
export type TrustworthinessClaim = (typeof TRUSTWORTHINESS_CLAIMS)[number];

/** AR4SI values Airlock's verifier emits (draft-ietf-rats-ar4si section 2.3). */
export const Tier = {
  none: 0,
  /** instance-identity: a recognized, uncompromised instance; hardware: genuine; executables: only approved runtime. */
  affirming: 2,
  /** executables: approved boot-time, runtime not measured. */
  approvedBoot: 3,
  /** executables: unrecognized runtime (measured, not among the reference values). */
  unrecognizedRuntime: 33,
  /** configuration: an unsafe configuration (debug enabled). */
  unsafeConfiguration: 36,
  /** executables: contraindicated runtime (a withdrawn release). */
  contraindicatedRuntime: 96,
  /** instance-identity: not recognized (no key of the manufacturer's). */
  unrecognizedInstance: 97,
  /** executables: a digest that matches no release of the device's model (tampered). */
  contraindicatedBoot: 99,
} as const;

export type TrustworthinessVector = Partial<Record<TrustworthinessClaim, number>>;

const tier = z.number().int().min(-128).max(127);

export const EarAppraisal = z.looseObject({
  'ear.status': z.enum(EAR_STATUSES),
  'ear.trustworthiness-vector': z.partialRecord(z.enum(TRUSTWORTHINESS_CLAIMS), tier).optional(),
  'ear.appraisal-policy-id': z.string().min(1).optional(),
});
export type EarAppraisal = z.infer<typeof EarAppraisal>;

export const EarClaims = z.looseObject({
  eat_profile: z.literal(EAR_PROFILE),
  iat: z.number().int(),
  'ear.verifier-id': z.looseObject({ developer: z.string().min(1), build: z.string().min(1) }),
  submods: z.record(z.string().min(1), EarAppraisal).refine((s) => Object.keys(s).length > 0, {
    message: 'at least one submodule',
  }),
  eat_nonce: z.string().min(1).optional(),
  'ear.raw-evidence': z.string().optional(),
});
export type EarClaims = z.infer<typeof EarClaims>;

/** An EAR claims set, or ERR_EAR_MALFORMED naming what fails. */
export function readEarClaims(json: unknown): EarClaims {
  return checked(EarClaims, json, 'ERR_EAR_MALFORMED', 'the attestation result');
}

/** The status a tier value stands for. */
export function statusOfTier(value: number): EarStatus {
  if (value >= 96) return 'contraindicated';
  if (value >= 32) return 'warning';
  if (value >= 2) return 'affirming';
  return 'none';
}

const RANK: Record<EarStatus, number> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** The worst of the statuses (contraindicated > warning > affirming > none). */
export function worstStatus(statuses: readonly EarStatus[]): EarStatus {
  return statuses.reduce<EarStatus>((w, s) => (RANK[s] > RANK[w] ? s : w), 'none');
}

/** The status a vector implies: its worst claim; `none` when it claims nothing. */
export function statusOfVector(v: TrustworthinessVector): EarStatus {
  return worstStatus(Object.values(v).map((x) => statusOfTier(x)));
}
