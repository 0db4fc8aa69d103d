/**
 * Steps 2, 3 and 4 (NIST IR 8350 Figure 9; RFC 9334 RATS, the registrar as relying party):
 * the device, in onboarding mode, sends its attestation token; its nonce is keying material
 * exported from the device's TLS session (attestationNonce), for which the registrar opens a
 * session at the verification service, or, for a pledge that asked for a challenge on this
 * connection, the verifier's nonce the registrar handed it. The verifier's signed result (EAR)
 * is checked and put before the authorization policy. A device that is not trustworthy, or
 * whose result the policy does not accept, is stopped here, before it learns anything about
 * the network beyond this channel: no voucher, no declaration, no credential. The reasons are
 * in its audit trail.
 *
 * Airlock's extension, two ways: the evidence in header fields of the voucher request (the
 * agent's way: appraiseOnChannel, called by step 5 before it asks any MASA), or apart, on the
 * endpoints below (under /.well-known/airlock). A pledge that does not attest goes straight to
 * step 5, and the policy judges it as a device without attestation.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, sameBase64Bytes } from '../../core/bytes.js';
import type { AttestationRecord, EventInput, NetworkRepositories } from '../../core/store.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { TRANSITIONS, requireState, transition } from '../../core/onboarding-state.js';
import { attestationNonce } from '../../protocols/airlock/messages.js';
import type { EarAppraisal, EarClaims, EarStatus } from '../../protocols/ear/claims.js';
import type { Call, Endpoint } from './pipeline.js';
import type { Channel, RegistrarContext, VerifierSession } from './ports.js';
import { birthCertificate, type BirthCertificate } from './session.js';
import { decodeCompact, payloadJson } from '../../protocols/jws/compact.js';
import { parseCertificateBase64 } from '../../protocols/x509/certificate.js';
import { issuedOn } from './connection.js';
import {
  decide,
  policyInForce,
  subjectOf,
  type AttestationFacts,
  type Decided,
  type PolicyInForce,
} from './authorization.js';

export interface Challenge {
  nonce: string;
  expiry: string;
  accept: string[];
}

/** Steps 2 and 3: a fresh nonce from the verifier, for this device. */
export const attestationChallenge: Endpoint<void, Challenge> = {
  method: 'POST',
  path: '/.well-known/airlock/attestation/challenge',
  action: 'attestation challenge',
  step: OnboardingStep.OnboardingMode,
  device: 'birth certificate',
  requires: null,
  lock: false,
  transactional: false,
  // Success is recorded with the device's record, in the transaction that writes it.
  recordSuccess: false,
  async handler(ctx, call) {
    const { idevid, device } = birthCertificate(ctx, call.ch);
    call.identify(device.serial);
    if (!ctx.verifier)
      throw new AirlockError('ERR_NOT_FOUND', 'this network runs no verification service');
    if (issuedOn(ctx, call.ch).channelBoundAttestation)
      throw new AirlockError(
        'ERR_REGISTRAR_SEQUENCE',
        'this connection has given its evidence: a new attestation needs a new connection',
      );
    const session = await ctx.verifier.openSession();
    const sessionText = JSON.stringify(session);
    const at = ctx.clock.now();
    await ctx.store.transaction(async (r) => {
      const written = await r.devices.attesting(
        {
          serial: device.serial,
          idevidDer: idevid.der,
          manufacturer: idevid.issuer,
          session: sessionText,
        },
        at,
      );
      ensure(written, 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
      await r.events.record([contacted(device.serial, call, { attestation: 'challenge' })], at);
    });
    // The nonce was given to the party on this connection: only its evidence may answer it.
    issuedOn(ctx, call.ch).attestationSession = sessionText;
    return { nonce: session.nonce, expiry: session.expiry, accept: session.accept };
  },
};

export interface EvidenceIn {
  mediaType: string;
  evidence: string;
}

export interface AttestationOut {
  admitted: boolean;
  status: EarStatus;
  reasons: string[];
  decision: Decided;
}

/** Steps 3 and 4: the token forwarded, the result judged; a refusal is recorded, then answered. */
export const attestationEvidence: Endpoint<EvidenceIn, AttestationOut> = {
  method: 'POST',
  path: '/.well-known/airlock/attestation',
  action: 'attestation',
  step: OnboardingStep.AttestationVerified,
  device: 'birth certificate',
  requires: null,
  lock: false,
  transactional: false,
  recordSuccess: false,
  async handler(ctx, call, input) {
    const birth = birthCertificate(ctx, call.ch);
    const { device } = birth;
    call.identify(device.serial);
    ensure(ctx.verifier, 'ERR_NOT_FOUND', 'this network runs no verification service');
    const issued = issuedOn(ctx, call.ch);
    // Evidence answers the challenge given on this connection, if one was; else it must be
    // bound to the connection itself, once: its nonce is keying material of this TLS session.
    if (issued.attestationSession === undefined) {
      const found = await appraiseOnChannel(ctx, call, birth, input, await policyInForce(call.r));
      await ctx.store.transaction((r) =>
        recordChannelBound(r, call, birth, found, ctx.clock.now()),
      );
      return outcome(found);
    }
    const row = await call.r.devices.get(device.serial);
    if (!row || !equalBytes(row.idevidDer, birth.idevid.der) || row.attestationSession === null)
      throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'no attestation challenge is outstanding');
    // Another connection (a copy of the device, or this one's retry) asked since: its session is
    // not this evidence's, and forwarding there would judge a genuine device by the wrong nonce.
    if (issued.attestationSession !== row.attestationSession)
      throw new AirlockError(
        'ERR_REGISTRAR_SEQUENCE',
        'the attestation challenge outstanding is not the one given on this connection',
      );
    requireState(row.state, TRANSITIONS['attestation-admitted'].from);
    const session = JSON.parse(row.attestationSession) as VerifierSession;
    const found = await appraise(ctx, birth, input, session, await policyInForce(call.r));
    const at = ctx.clock.now();
    await ctx.store.transaction(async (r) => {
      const locked = await r.devices.get(device.serial, { lock: true });
      // The session is used once: a concurrent submission of the same challenge loses here.
      if (!locked || locked.attestationSession !== issued.attestationSession)
        throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'the attestation challenge was used');
      await writeResult(r, device.serial, transition(locked.state, found.event), found, at);
      await r.events.record(found.events, at);
    });
    return outcome(found);
  },
  committed(ctx, ch, o) {
    if (o.admitted) issuedOn(ctx, ch).admitted = true;
  },
  refusal: (o) => (o.admitted ? undefined : refusalOf(o)),
};

/** What one appraisal found and the policy made of it, before anything is written. */
export interface Appraised extends AttestationOut {
  facts: AttestationFacts | null;
  /** The verifier's signed result, as it came; null when the registrar refused the evidence itself. */
  jwt: string | null;
  /** The session the evidence went to, as opened. */
  session: VerifierSession | undefined;
  event: 'attestation-admitted' | 'attestation-refused';
  /** Steps 3 and 4 in the device's audit trail. */
  events: EventInput[];
}

function outcome(a: Appraised): AttestationOut {
  return { admitted: a.admitted, status: a.status, reasons: a.reasons, decision: a.decision };
}

/** ERR_ATTESTATION_REFUSED or ERR_POLICY_DENIED, with the reasons and the rule: what a refused device is told. */
export function refusalOf(o: AttestationOut): AirlockError {
  return new AirlockError(refusalCode(o.status), `${o.status}: ${o.reasons.join('; ')}`, {
    details: { rule: o.decision.rule },
  });
}

/**
 * Steps 3 and 4 for evidence bound to this connection (its nonce is keying material of the
 * TLS session, attestationNonce), which a connection gives once, whatever comes of it: on the
 * attestation endpoint or with the voucher request. Nothing is written here.
 */
export async function appraiseOnChannel(
  ctx: RegistrarContext,
  call: Call,
  birth: BirthCertificate,
  input: EvidenceIn,
  policy: PolicyInForce,
): Promise<Appraised> {
  const verifier = ctx.verifier;
  ensure(verifier, 'ERR_NOT_FOUND', 'this network runs no verification service');
  const issued = issuedOn(ctx, call.ch);
  if (issued.channelBoundAttestation || issued.attestationSession !== undefined)
    throw new AirlockError(
      'ERR_REGISTRAR_SEQUENCE',
      'this connection has given its evidence: a new attestation needs a new connection',
    );
  issued.channelBoundAttestation = true;
  // The channel's nonce: keying material exported from the TLS session the device reached the
  // registrar on (RFC 8446 section 7.5); the device derives the same, no one on another
  // connection can. The session is opened only for evidence that will go to it.
  return appraise(ctx, birth, input, () => verifier.openSession(attestationNonce(call.ch)), policy);
}

/**
 * The evidence forwarded to `session` (or one `open` makes), the result read and judged by the
 * policy. Evidence that names another device is contraindicated before a verifier that would
 * not say whom its result is about sees it (one that says is held to it in readResult).
 */
async function appraise(
  ctx: RegistrarContext,
  { idevid, device }: BirthCertificate,
  { mediaType, evidence }: EvidenceIn,
  session: VerifierSession | (() => Promise<VerifierSession>),
  policy: PolicyInForce,
): Promise<Appraised> {
  const verifier = ctx.verifier!;
  const party = ctx.manufacturers.partyOf(device.trust);
  const other = verifier.annotates ? undefined : namesAnotherDevice(evidence, device.serial);
  let found: ReturnType<typeof readResult> & { jwt: string | null };
  let opened: VerifierSession | undefined;
  if (other) found = { status: 'contraindicated', reasons: [other], facts: null, jwt: null };
  else {
    opened = typeof session === 'function' ? await session() : session;
    const { claims, jwt } = await verifier.appraise(opened, mediaType, evidence);
    // Whatever the transport: the result is for this session's nonce (the channel's, or the
    // challenge's), in whichever base64 the verifier writes it.
    if (!sameBase64Bytes(claims.eat_nonce, opened.nonce))
      throw new AirlockError('ERR_EAR_UNTRUSTED', "the result does not carry the session's nonce");
    found = { ...readResult(claims, device.serial, party.id), jwt };
  }
  const { status, reasons, facts, jwt } = found;
  const decision = decide(policy, subjectOf(ctx, idevid, device, facts));
  // A contraindicated device is never admitted, whatever a policy says.
  const admitted = status !== 'contraindicated' && decision.decision === 'allow';
  if (!admitted && decision.decision === 'allow')
    reasons.push(`the verifier found the device ${status}`);
  return {
    admitted,
    status,
    reasons,
    // What is stored is what happened: a refused device was denied, by the verifier or the policy.
    decision: admitted ? decision : { ...decision, decision: 'deny', segment: null },
    facts,
    jwt,
    session: opened,
    event: admitted ? 'attestation-admitted' : 'attestation-refused',
    events: [
      {
        serial: device.serial,
        step: OnboardingStep.AttestationSent,
        action: 'attestation token received and forwarded to the verifier',
        outcome: 'ok',
        detail: { mediaType: mediaType.split(';')[0]!.trim() },
      },
      {
        serial: device.serial,
        step: OnboardingStep.AttestationVerified,
        action: 'attestation result',
        outcome: admitted ? 'ok' : 'refused',
        ...(admitted ? {} : { code: refusalCode(status) }),
        detail: {
          status,
          reasons: reasons.join('; '),
          decision: admitted ? decision.decision : 'deny',
          segment: admitted ? decision.segment : null,
          rule: decision.rule,
          policy: decision.policyId,
          ...(facts?.swversion ? { swversion: facts.swversion } : {}),
        },
      },
    ],
  };
}

/** The result and decision with the device's record, in the state they led to. */
async function writeResult(
  r: NetworkRepositories,
  serial: string,
  state: 'attested' | 'refused',
  a: Appraised,
  at: Date,
): Promise<void> {
  await r.devices.attested(
    serial,
    { state, attestation: attestationRecord(a), decision: a.decision },
    at,
  );
}

/** What the device's record keeps of an appraisal. */
export function attestationRecord(a: Appraised): AttestationRecord {
  return { status: a.status, claims: JSON.stringify(a.facts ?? {}), result: a.jwt };
}

/**
 * Steps 2 to 4 of a channel-bound attestation, recorded at once, in `r`'s transaction: the
 * device contacted the registrar with its evidence (a device may attest again from any state),
 * and what the result led to. ERR_IDEVID_MISMATCH when another birth certificate holds the serial.
 */
export async function recordChannelBound(
  r: NetworkRepositories,
  call: Call,
  { idevid, device }: BirthCertificate,
  a: Appraised,
  at: Date,
): Promise<void> {
  const written = await r.devices.attesting(
    {
      serial: device.serial,
      idevidDer: idevid.der,
      manufacturer: idevid.issuer,
      // Used at once: kept only until the result below clears it.
      session: JSON.stringify(a.session ?? null),
    },
    at,
  );
  ensure(written, 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
  await writeResult(r, device.serial, transition('attesting', a.event), a, at);
  await r.events.record([contacted(device.serial, call, CHANNEL_BOUND), ...a.events], at);
}

/** Step 2's detail for evidence bound to the channel. */
export const CHANNEL_BOUND = { attestation: 'channel-bound' } as const;

/** Step 2's event: the device, in onboarding mode, reached the registrar (to attest, if `detail` says how). */
export function contacted(
  serial: string,
  call: { ch: Channel; received: Date },
  detail: Record<string, string> = {},
): EventInput {
  return {
    serial,
    step: OnboardingStep.OnboardingMode,
    action: 'onboarding mode: device contacted the registrar',
    outcome: 'ok',
    detail: { peer: call.ch.peer, since: call.received.toISOString(), ...detail },
  };
}

/** Not trustworthy (the verifier's finding), or trustworthy enough but not admitted (the policy's). */
function refusalCode(status: EarStatus): 'ERR_ATTESTATION_REFUSED' | 'ERR_POLICY_DENIED' {
  return status === 'contraindicated' ? 'ERR_ATTESTATION_REFUSED' : 'ERR_POLICY_DENIED';
}

/**
 * The evidence names the device on the channel: the serial number of the attestation key's
 * certificate (a device token), or the one the manufacturer's supply-chain evidence states. Only
 * read here, not trusted: the verifier judges who signed it; what this check adds is that a
 * genuine device's token cannot be presented for another, whatever verifier appraises it (one
 * that does not annotate its results included). The reason when it names another.
 */
export function namesAnotherDevice(evidence: string, serial: string): string | undefined {
  let named: unknown;
  try {
    // Only what names the device is read: the claim, else the signer's certificate alone.
    const jws = decodeCompact(evidence);
    const claims = payloadJson(jws) as Record<string, unknown> | null;
    named =
      typeof claims?.['airlock.serial-number'] === 'string'
        ? claims['airlock.serial-number']
        : parseCertificateBase64(jws.header.x5c![0]!).subjectSerialNumber;
  } catch {
    return undefined; // malformed: the verifier's to refuse, with its own error
  }
  return named === serial ? undefined : 'the evidence is about another device';
}

/**
 * The device's appraisal in the result. A verifier that annotates its results (Airlock's:
 * `ear.veraison.annotated-evidence` with the serial number and manufacturer) must name this
 * device of this manufacturer, else the result is contraindicated whatever it says; one that
 * does not gives one submodule, about the evidence forwarded (ensureAbout) in this session.
 */
export function readResult(
  claims: EarClaims,
  serial: string,
  manufacturer: string,
): { status: EarStatus; reasons: string[]; facts: AttestationFacts | null } {
  const subs = Object.values(claims.submods) as EarAppraisal[];
  const annotatedSubs = subs.filter((s) => annotated(s)?.['serial-number'] !== undefined);
  const sub =
    annotatedSubs.length > 0
      ? annotatedSubs.find((s) => annotated(s)!['serial-number'] === serial)
      : subs.length === 1
        ? subs[0]
        : undefined;
  if (!sub)
    return {
      status: 'contraindicated',
      reasons: ['the result is about another device'],
      facts: null,
    };
  const a = annotated(sub) ?? {};
  const reasons = Array.isArray(sub['ear.airlock.reasons'])
    ? (sub['ear.airlock.reasons'] as unknown[]).filter((x): x is string => typeof x === 'string')
    : [];
  if (a.manufacturer !== undefined && a.manufacturer !== manufacturer)
    return {
      status: 'contraindicated',
      reasons: [...reasons, "the result names another manufacturer's device"],
      facts: null,
    };
  const status = sub['ear.status'];
  if (status === 'none')
    return {
      status: 'contraindicated',
      reasons: [...reasons, 'the verifier claimed nothing'],
      facts: null,
    };
  return {
    status,
    reasons,
    facts: {
      status,
      ...(typeof a.swversion === 'string' ? { swversion: a.swversion } : {}),
      ...(typeof a.dbgstat === 'string' ? { dbgstat: a.dbgstat } : {}),
    },
  };
}

function annotated(s: EarAppraisal): Record<string, unknown> | undefined {
  const a = s['ear.veraison.annotated-evidence'];
  return typeof a === 'object' && a !== null && !Array.isArray(a)
    ? (a as Record<string, unknown>)
    : undefined;
}
