/**
 * The verifier's appraisal of evidence (RFC 9334 section 3: the verifier appraises evidence
 * against endorsements and reference values; docs/ATTESTATION.md, "Appraisal and results").
 *
 * Two kinds of evidence, told apart by their media type:
 * - a device's own token (`eat_profile` device/1): signed by its attestation key (AK), whose
 *   certificate must chain to an attestation CA that a trusted manufacturer endorses in its
 *   reference values; that manufacturer's reference values then judge the claims;
 * - supply-chain evidence (`eat_profile` supply-chain/1), for a model without secure boot:
 *   signed at minting by a manufacturer's endorsements signer.
 *
 * Evidence that does not parse, or does not match its profile, is ERR_EAT_MALFORMED (thrown);
 * an unknown media type is ERR_INPUT_MEDIA_TYPE. Everything else gets an appraisal, however bad:
 * an untrusted signer, a stale nonce or a tampered image is a contraindicated result whose
 * reasons say why, never an exception. Reasons name claims and public reference values only.
 *
 * Each finding sets one AR4SI trustworthiness claim (draft-ietf-rats-ar4si); when two findings
 * set the same claim the worse (higher) tier stays. The status is the worst of the vector.
 */
import { AirlockError } from '../../core/errors.js';
import type { Clock, Crypto } from '../../core/ports.js';
import {
  AIRLOCK_DEVICE_PROFILE,
  AIRLOCK_SUPPLY_CHAIN_PROFILE,
  AirlockDeviceClaims,
  AirlockSupplyChainClaims,
  EAT_JWT_MEDIA_TYPE,
  type DebugState,
} from '../../protocols/eat/claims.js';
import { decodeEat, verifyEatSignature, type DecodedEat } from '../../protocols/eat/token.js';
import { decodeMeasurements, type Measurement } from '../../protocols/eat/measured-component.js';
import { hwmodelOf, oemidOf, ueidOf } from '../../protocols/eat/identifiers.js';
import {
  EAR_PROFILE,
  Tier,
  statusOfVector,
  type EarClaims,
  type EarStatus,
  type TrustworthinessClaim,
  type TrustworthinessVector,
} from '../../protocols/ear/claims.js';
import type {
  FirmwareRelease,
  VerifiedReferenceValues,
} from '../../protocols/endorsement/reference-values.js';
import { subjectCommonName, type Certificate } from '../../protocols/x509/certificate.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import { checked } from '../../protocols/schema.js';

/** What the verifier holds of one manufacturer: its trust anchors and its latest reference values. */
export interface ManufacturerEndorsements {
  party: { id: string; name: string };
  root: Certificate;
  /** Signs reference values and supply-chain evidence (through its endorsements signer). */
  endorsementsCa: Certificate;
  /** The latest reference values held, verified; undefined when none are held yet. */
  references: VerifiedReferenceValues | undefined;
}

/** What the verifier vouches for about the device (Veraison's `ear.veraison.annotated-evidence`). */
export interface AnnotatedEvidence {
  'serial-number': string;
  /** The manufacturer's party id. */
  manufacturer: string;
  model: string;
  ueid: string;
  swname?: string;
  swversion?: string;
  dbgstat?: DebugState;
  oemboot: boolean;
  profile: string;
}

export interface Appraisal {
  status: EarStatus;
  vector: TrustworthinessVector;
  /** Why the status is not affirming (and what was noted), one line per finding. */
  reasons: string[];
  /** Only when the signer is a manufacturer's: what it certified, and what the evidence claims. */
  annotated: AnnotatedEvidence | undefined;
}

export interface AppraisalInput {
  /** The evidence's media type (the Content-Type it came with). */
  mediaType: string;
  evidence: string;
  /** The session's nonce, base64url. */
  nonce: string;
  manufacturers: readonly ManufacturerEndorsements[];
  /** How far in the future `iat` may be, in seconds (default 300). */
  clockSkewSeconds?: number;
}

export type EvidenceKind = 'device' | 'supply-chain';

const DEFAULT_CLOCK_SKEW_SECONDS = 300;

/**
 * The kind of evidence a media type names: `application/eat+jwt` with the `eat_profile`
 * parameter of one of Airlock's profiles (quoted or not; type and parameter name are
 * case-insensitive, the profile is not). Undefined for anything else.
 */
export function evidenceKindOf(mediaType: string): EvidenceKind | undefined {
  const [essence, ...params] = mediaType.split(';');
  if (essence?.trim().toLowerCase() !== EAT_JWT_MEDIA_TYPE) return undefined;
  let profile: string | undefined;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) return undefined;
    const name = p.slice(0, eq).trim().toLowerCase();
    let value = p.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1);
    if (name !== 'eat_profile') continue;
    if (profile !== undefined) return undefined;
    profile = value;
  }
  if (profile === AIRLOCK_DEVICE_PROFILE) return 'device';
  if (profile === AIRLOCK_SUPPLY_CHAIN_PROFILE) return 'supply-chain';
  return undefined;
}

/** The findings of one appraisal, as they are made. */
class Findings {
  readonly vector: TrustworthinessVector = {};
  readonly reasons: string[] = [];

  /** Sets `claim` to `tier` unless a worse tier is set already; notes `reason` if given. */
  set(claim: TrustworthinessClaim, tier: number, reason?: string): void {
    const held = this.vector[claim];
    if (held === undefined || tier > held) this.vector[claim] = tier;
    if (reason !== undefined) this.reasons.push(reason);
  }

  /** Claims contradict each other or the reference values. */
  contradiction(reason: string): void {
    this.set('configuration', Tier.contraindicatedRuntime, reason);
  }

  appraisal(annotated: AnnotatedEvidence | undefined): Appraisal {
    return {
      status: statusOfVector(this.vector),
      vector: this.vector,
      reasons: this.reasons,
      annotated,
    };
  }
}

/** A claimed value in a reason: quoted, so that whatever the device put there reads as one value. */
const q = (s: string): string => JSON.stringify(s);

export function appraiseEvidence(
  ctx: { crypto: Crypto; clock: Clock },
  input: AppraisalInput,
): Appraisal {
  const kind = evidenceKindOf(input.mediaType);
  if (kind === undefined)
    throw new AirlockError('ERR_INPUT_MEDIA_TYPE', 'not evidence this verifier appraises');
  const eat = decodeEat(input.evidence);
  return kind === 'device'
    ? appraiseDeviceToken(ctx, eat, input)
    : appraiseSupplyChain(ctx, eat, input);
}

/** The single measured component Airlock's profiles carry: the firmware image. */
function firmwareOf(entries: readonly (readonly [number, string])[]): Measurement {
  const measured = decodeMeasurements(entries);
  if (measured.length !== 1)
    throw new AirlockError(
      'ERR_EAT_MALFORMED',
      `the profile measures one component (the firmware), the token carries ${measured.length}`,
    );
  return measured[0]!;
}

/** Whether the signer (with the x5c certificates after it) chains to one of `anchors` at `at`. */
function chainsTo(
  crypto: Crypto,
  eat: DecodedEat,
  anchors: readonly Certificate[],
  at: Date,
): boolean {
  if (anchors.length === 0) return false;
  try {
    verifyChain(crypto, { leaf: eat.chain[0]!, intermediates: eat.chain.slice(1), anchors, at });
    return true;
  } catch {
    return false;
  }
}

/** digitalSignature (RFC 5280 section 4.2.1.3, bit 0). */
const DIGITAL_SIGNATURE = 1;

function signatureVerifies(crypto: Crypto, eat: DecodedEat, f: Findings): boolean {
  try {
    verifyEatSignature(crypto, eat);
    return true;
  } catch {
    f.set(
      'instance-identity',
      Tier.unrecognizedInstance,
      'signature: does not verify with the key of its x5c certificate',
    );
    return false;
  }
}

function checkIat(iat: number, now: Date, skewSeconds: number, f: Findings): void {
  if (iat > Math.floor(now.getTime() / 1000) + skewSeconds)
    f.set(
      'instance-identity',
      Tier.unrecognizedInstance,
      `iat: ${iat} is later than the verifier's clock allows (skew ${skewSeconds} s)`,
    );
}

/**
 * The firmware against the model's releases: its digest must be that of a release whose name
 * and version are the ones measured and claimed. `released` is the tier a current release gets.
 */
function checkFirmware(
  claimed: { swname: string; swversion: string },
  fw: Measurement,
  model: string,
  firmware: readonly FirmwareRelease[],
  released: number,
  f: Findings,
): void {
  if (claimed.swname !== fw.name)
    f.contradiction(`swname: ${q(claimed.swname)} claimed, ${q(fw.name)} measured`);
  if (claimed.swversion !== fw.version)
    f.contradiction(`swversion: ${q(claimed.swversion)} claimed, ${q(fw.version)} measured`);
  const release = firmware.find((r) => r.digest === fw.digest);
  if (release === undefined) {
    f.set(
      'executables',
      Tier.contraindicatedBoot,
      `executables: the digest matches no release of ${model}`,
    );
    return;
  }
  if (release.name !== fw.name || release.version !== fw.version)
    f.contradiction(
      `measurements: the digest is that of ${release.name} ${release.version}, the component says ${q(fw.name)} ${q(fw.version)}`,
    );
  if (release.status === 'withdrawn')
    f.set(
      'executables',
      Tier.contraindicatedRuntime,
      `executables: ${release.name} ${release.version} of ${model} was withdrawn${release['withdrawn-on'] ? ` on ${release['withdrawn-on']}` : ''}`,
    );
  else f.set('executables', released);
}

function appraiseDeviceToken(
  ctx: { crypto: Crypto; clock: Clock },
  eat: DecodedEat,
  input: AppraisalInput,
): Appraisal {
  const { crypto } = ctx;
  const claims = checked(AirlockDeviceClaims, eat.json, 'ERR_EAT_MALFORMED', 'the device token');
  const fw = firmwareOf(claims.measurements);
  const f = new Findings();
  const now = ctx.clock.now();

  if (claims.eat_nonce !== input.nonce)
    f.set('instance-identity', Tier.unrecognizedInstance, "nonce: not this session's");
  checkIat(claims.iat, now, input.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS, f);

  if (!signatureVerifies(crypto, eat, f)) return f.appraisal(undefined);

  // The AK certificate: a leaf that names the device (serial number) and its model (CN).
  const ak = eat.chain[0]!;
  const serial = ak.subjectSerialNumber;
  const model = subjectCommonName(ak);
  const endorsed = input.manufacturers.find((m) =>
    chainsTo(crypto, eat, m.references?.attestationCas ?? [], now),
  );
  if (endorsed === undefined) {
    f.set(
      'instance-identity',
      Tier.unrecognizedInstance,
      'signer: not certified by an attestation CA that a trusted manufacturer endorses',
    );
    return f.appraisal(undefined);
  }
  if (
    ak.isCa ||
    (ak.keyUsage !== undefined && (ak.keyUsage & DIGITAL_SIGNATURE) === 0) ||
    !serial ||
    !model
  ) {
    f.set(
      'instance-identity',
      Tier.unrecognizedInstance,
      'signer: not an attestation key certificate (a CA, or no serial number and model in its subject)',
    );
    return f.appraisal(undefined);
  }
  const references = endorsed.references!.body;
  const annotated: AnnotatedEvidence = {
    'serial-number': serial,
    manufacturer: endorsed.party.id,
    model,
    ueid: claims.ueid,
    swname: claims.swname,
    swversion: claims.swversion[0],
    dbgstat: claims.dbgstat,
    oemboot: claims.oemboot,
    profile: AIRLOCK_DEVICE_PROFILE,
  };

  let consistent = true;
  if (claims.ueid !== ueidOf(crypto, ak.spki)) {
    consistent = false;
    f.contradiction('ueid: not derived from the attestation key');
  }
  if (claims.oemid !== oemidOf(endorsed.party.id)) {
    consistent = false;
    f.contradiction('oemid: not the manufacturer that certified the attestation key');
  }
  if (claims.hwmodel !== hwmodelOf(crypto, model)) {
    consistent = false;
    f.contradiction(`hwmodel: not ${model}, the model its attestation key certificate names`);
  }
  const refs = Object.hasOwn(references.models, model) ? references.models[model] : undefined;
  if (refs === undefined) {
    consistent = false;
    f.contradiction(`model: ${model} is not in the reference values of ${endorsed.party.name}`);
  }
  if (consistent) {
    f.set('instance-identity', Tier.affirming);
    f.set('hardware', Tier.affirming);
  }
  if (claims.dbgstat === 'enabled')
    f.set('configuration', Tier.unsafeConfiguration, 'dbgstat: debug is enabled');
  if (refs === undefined) return f.appraisal(annotated);

  if (refs['secure-boot'] && !claims.oemboot)
    f.contradiction(`oemboot: false, but ${model} has secure boot`);
  if (!refs['secure-boot'] && claims.oemboot)
    f.contradiction(`oemboot: true, but ${model} has no secure boot`);
  checkFirmware(
    { swname: claims.swname, swversion: claims.swversion[0] },
    fw,
    model,
    refs.firmware,
    Tier.affirming,
    f,
  );
  return f.appraisal(annotated);
}

function appraiseSupplyChain(
  ctx: { crypto: Crypto; clock: Clock },
  eat: DecodedEat,
  input: AppraisalInput,
): Appraisal {
  const { crypto } = ctx;
  const claims = checked(
    AirlockSupplyChainClaims,
    eat.json,
    'ERR_EAT_MALFORMED',
    'the supply-chain evidence',
  );
  const fw = firmwareOf(claims.measurements);
  const f = new Findings();
  const now = ctx.clock.now();
  checkIat(claims.iat, now, input.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS, f);

  if (!signatureVerifies(crypto, eat, f)) return f.appraisal(undefined);
  const signer = eat.chain[0]!;
  const endorser = signer.isCa
    ? undefined
    : input.manufacturers.find((m) => chainsTo(crypto, eat, [m.endorsementsCa], now));
  if (endorser === undefined) {
    f.set(
      'instance-identity',
      Tier.unrecognizedInstance,
      "signer: not a trusted manufacturer's endorsements signer",
    );
    return f.appraisal(undefined);
  }
  f.set(
    'executables',
    Tier.unrecognizedRuntime,
    'evidence: supply-chain evidence made at manufacture; the running firmware is not measured',
  );
  let consistent = true;
  if (claims.oemid !== oemidOf(endorser.party.id)) {
    consistent = false;
    f.contradiction('oemid: not the manufacturer that signed the evidence');
  }
  // The model is known only by its hwmodel: the one of the reference values that hashes to it.
  const models = endorser.references?.body.models ?? {};
  const model = Object.keys(models).find((m) => hwmodelOf(crypto, m) === claims.hwmodel);
  const refs = model === undefined ? undefined : models[model];
  if (model === undefined || refs === undefined) {
    f.contradiction(`hwmodel: matches no model in the reference values of ${endorser.party.name}`);
    return f.appraisal(undefined);
  }
  const annotated: AnnotatedEvidence = {
    'serial-number': claims['airlock.serial-number'],
    manufacturer: endorser.party.id,
    model,
    ueid: claims.ueid,
    swname: claims.swname,
    swversion: claims.swversion[0],
    oemboot: claims.oemboot,
    profile: AIRLOCK_SUPPLY_CHAIN_PROFILE,
  };
  if (consistent) f.set('instance-identity', Tier.affirming);
  if (refs['secure-boot'])
    f.contradiction(
      `evidence: ${model} has secure boot, so its devices attest for themselves; supply-chain evidence is not accepted for it`,
    );
  checkFirmware(
    { swname: claims.swname, swversion: claims.swversion[0] },
    fw,
    model,
    refs.firmware,
    Tier.unrecognizedRuntime,
    f,
  );
  return f.appraisal(annotated);
}

/**
 * The EAR claims set (draft-ietf-rats-ear) of an appraisal: one submodule, named by the
 * device's serial number (or `device` when the signer was not a manufacturer's, so that the
 * device is unknown), with Airlock's reasons and the annotated evidence.
 */
export function earFor(
  appraisal: Appraisal,
  opts: { nonce: string; iat: number; build: string; developer: string; policyId: string },
): EarClaims {
  const a = appraisal.annotated;
  const annotated =
    a === undefined
      ? undefined
      : {
          'serial-number': a['serial-number'],
          manufacturer: a.manufacturer,
          model: a.model,
          ueid: a.ueid,
          ...(a.swname !== undefined ? { swname: a.swname } : {}),
          ...(a.swversion !== undefined ? { swversion: a.swversion } : {}),
          ...(a.dbgstat !== undefined ? { dbgstat: a.dbgstat } : {}),
          oemboot: a.oemboot,
          profile: a.profile,
        };
  return {
    eat_profile: EAR_PROFILE,
    iat: opts.iat,
    eat_nonce: opts.nonce,
    'ear.verifier-id': { developer: opts.developer, build: opts.build },
    submods: {
      [a?.['serial-number'] ?? 'device']: {
        'ear.status': appraisal.status,
        'ear.trustworthiness-vector': { ...appraisal.vector },
        'ear.appraisal-policy-id': opts.policyId,
        'ear.airlock.reasons': [...appraisal.reasons],
        ...(annotated !== undefined ? { 'ear.veraison.annotated-evidence': annotated } : {}),
      },
    },
  };
}
