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
 * These are Airlock's extension (under /.well-known/airlock): a pledge that does not attest
 * goes straight to step 5, and the policy judges it as a device without attestation.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, sameBase64Bytes } from '../../core/bytes.js';
import type { EventInput } from '../../core/store.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import {
  TRANSITIONS,
  requireState,
  transition,
  type DeviceState,
} from '../../core/onboarding-state.js';
import { attestationNonce } from '../../protocols/airlock/messages.js';
import type { EarAppraisal, EarClaims, EarStatus } from '../../protocols/ear/claims.js';
import type { Endpoint } from './pipeline.js';
import type { Channel, VerifierSession } from './ports.js';
import { birthCertificate } from './session.js';
import { decodeCompact, payloadJson } from '../../protocols/jws/compact.js';
import { parseCertificateBase64 } from '../../protocols/x509/certificate.js';
import { issuedOn } from './connection.js';
import {
  decide,
  policyInForce,
  subjectOf,
  type AttestationFacts,
  type Decided,
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
  async handler(ctx, call, { mediaType, evidence }) {
    const { idevid, device } = birthCertificate(ctx, call.ch);
    call.identify(device.serial);
    ensure(ctx.verifier, 'ERR_NOT_FOUND', 'this network runs no verification service');
    const issued = issuedOn(ctx, call.ch);
    // Evidence answers the challenge given on this connection, if one was; else it must be
    // bound to the connection itself, once: its nonce is keying material of this TLS session.
    const challenged = issued.attestationSession !== undefined;
    let session: VerifierSession | undefined;
    if (challenged) {
      const row = await call.r.devices.get(device.serial);
      if (!row || !equalBytes(row.idevidDer, idevid.der) || row.attestationSession === null)
        throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'no attestation challenge is outstanding');
      // Another connection (a copy of the device, or this one's retry) asked since: its session is
      // not this evidence's, and forwarding there would judge a genuine device by the wrong nonce.
      if (issued.attestationSession !== row.attestationSession)
        throw new AirlockError(
          'ERR_REGISTRAR_SEQUENCE',
          'the attestation challenge outstanding is not the one given on this connection',
        );
      requireState(row.state, TRANSITIONS['attestation-admitted'].from);
      session = JSON.parse(row.attestationSession) as VerifierSession;
    } else {
      if (issued.channelBoundAttestation)
        throw new AirlockError(
          'ERR_REGISTRAR_SEQUENCE',
          'this connection has given its evidence: a new attestation needs a new connection',
        );
      issued.channelBoundAttestation = true;
    }
    const party = ctx.manufacturers.partyOf(device.trust);
    // Evidence that names another device is contraindicated before a verifier that would not
    // say whom its result is about sees it (one that says is held to it in readResult).
    const other = ctx.verifier.annotates ? undefined : namesAnotherDevice(evidence, device.serial);
    let appraised: ReturnType<typeof readResult> & { jwt: string | null };
    if (other) appraised = { status: 'contraindicated', reasons: [other], facts: null, jwt: null };
    else {
      // The channel's nonce: keying material exported from the TLS session the device reached
      // the registrar on (RFC 8446 section 7.5); the device derives the same, no one on another
      // connection can.
      session ??= await ctx.verifier.openSession(attestationNonce(call.ch));
      const { claims, jwt } = await ctx.verifier.appraise(session, mediaType, evidence);
      // Whatever the transport: the result is for this session's nonce (the channel's, or the
      // challenge's), in whichever base64 the verifier writes it.
      if (!sameBase64Bytes(claims.eat_nonce, session.nonce))
        throw new AirlockError(
          'ERR_EAR_UNTRUSTED',
          "the result does not carry the session's nonce",
        );
      appraised = { ...readResult(claims, device.serial, party.id), jwt };
    }
    const { status, reasons, facts, jwt } = appraised;
    const decision = decide(await policyInForce(call.r), subjectOf(ctx, idevid, device, facts));
    // A contraindicated device is never admitted, whatever a policy says.
    const admitted = status !== 'contraindicated' && decision.decision === 'allow';
    if (!admitted && decision.decision === 'allow')
      reasons.push(`the verifier found the device ${status}`);
    const at = ctx.clock.now();
    const events: EventInput[] = [
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
          decision: decision.decision,
          segment: decision.segment,
          rule: decision.rule,
          policy: decision.policyId,
          ...(facts?.swversion ? { swversion: facts.swversion } : {}),
        },
      },
    ];
    await ctx.store.transaction(async (r) => {
      let from: DeviceState;
      if (challenged) {
        const locked = await r.devices.get(device.serial, { lock: true });
        // The session is used once: a concurrent submission of the same challenge loses here.
        if (!locked || locked.attestationSession !== issued.attestationSession)
          throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'the attestation challenge was used');
        from = locked.state;
      } else {
        // Steps 2 to 4 at once: the device contacted the registrar with its evidence (a device
        // may attest again from any state).
        from = 'attesting';
        const written = await r.devices.attesting(
          {
            serial: device.serial,
            idevidDer: idevid.der,
            manufacturer: idevid.issuer,
            // Used at once: kept only until the result below clears it.
            session: JSON.stringify(session ?? null),
          },
          at,
        );
        ensure(written, 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
        events.unshift(contacted(device.serial, call, { attestation: 'channel-bound' }));
      }
      const state = transition(from, admitted ? 'attestation-admitted' : 'attestation-refused');
      await r.devices.attested(
        device.serial,
        {
          state,
          attestation: { status, claims: JSON.stringify(facts ?? {}), result: jwt },
          // What is stored is what happened: a refused device was denied, by the verifier or the policy.
          decision: admitted ? decision : { ...decision, decision: 'deny', segment: null },
        },
        at,
      );
      await r.events.record(events, at);
    });
    return { admitted, status, reasons, decision };
  },
  committed(ctx, ch, o) {
    if (o.admitted) issuedOn(ctx, ch).admitted = true;
  },
  refusal: (o) =>
    o.admitted
      ? undefined
      : new AirlockError(refusalCode(o.status), `${o.status}: ${o.reasons.join('; ')}`, {
          details: { rule: o.decision.rule },
        }),
};

/** Step 2's event: the device, in onboarding mode, reached the registrar (to attest). */
function contacted(
  serial: string,
  call: { ch: Channel; received: Date },
  detail: Record<string, string>,
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
