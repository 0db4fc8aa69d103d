/**
 * Steps 2 and 5 (RFC 8995 sections 5.2 to 5.6): the device, in onboarding mode, asks for a
 * voucher. The registrar checks the birth certificate against the manufacturers it trusts
 * before it contacts any MASA, asks the device's MASA in the format the pledge wants, checks
 * the voucher as the device will, and records the device 'vouched' with the voucher's nonce
 * outstanding. Then, off the device's path, the MASA's audit log of the device (section 5.8).
 *
 * Evidence bound to the channel may come with the request (Airlock's extension,
 * docs/ATTESTATION.md): steps 3 and 4 are then done first (step-03-attestation.ts), a device
 * they do not admit gets no voucher and no MASA is asked, and steps 2 to 5 of an admitted one
 * are recorded in the one transaction that writes its record.
 */
import { AirlockError, ensure, isAirlockError } from '../../core/errors.js';
import { equalBytes } from '../../core/bytes.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import { TRANSITIONS, requireState } from '../../core/onboarding-state.js';
import {
  verifyPledgeVoucherRequest,
  type VerifiedPledgeVoucherRequest,
} from '../../protocols/voucher/pledge-voucher-request.js';
import { signRegistrarVoucherRequestAs } from '../../protocols/voucher/registrar-voucher-request.js';
import { verifyVoucher } from '../../protocols/voucher/voucher.js';
import {
  SIGNABLE,
  type EncodedVoucher,
  type VoucherMediaType,
} from '../../protocols/voucher/codec.js';
import { normaliseMasaUrl } from '../../protocols/x509/masa-url.js';
import { domainIdOf, otherDomains } from '../../protocols/brski/audit-log.js';
import type { Endpoint } from './pipeline.js';
import type { ManufacturerRef, RegistrarContext } from './ports.js';
import { issuedOn } from './connection.js';
import { birthCertificate, type BirthCertificate } from './session.js';
import { decide, denied, policyInForce, storedFacts, subjectOf } from './authorization.js';
import type { EarStatus } from '../../protocols/ear/claims.js';
import {
  CHANNEL_BOUND,
  appraiseOnChannel,
  attestationRecord,
  contacted,
  recordChannelBound,
  refusalOf,
  type EvidenceIn,
} from './step-03-attestation.js';

export interface VoucherRequestIn {
  /** The pledge voucher request, JWS or CMS. */
  request: EncodedVoucher;
  /** The voucher's format: the pledge's Accept, passed on to the MASA. */
  format: VoucherMediaType;
  /**
   * Evidence bound to this connection, sent with the request (Airlock's extension,
   * docs/ATTESTATION.md): steps 2 to 4 are done first, and a device they do not admit gets no
   * voucher. Ignored by a network that runs no verifier, as by any other registrar.
   */
  evidence?: EvidenceIn;
}

export interface VoucherOut extends EncodedVoucher {
  /** The verifier's status, when the request's evidence was appraised. */
  attestation?: EarStatus;
}

export const requestVoucher: Endpoint<VoucherRequestIn, VoucherOut> = {
  method: 'POST',
  path: '/.well-known/brski/requestvoucher',
  action: 'requestvoucher',
  step: OnboardingStep.TrustedIntroduction,
  device: 'birth certificate',
  requires: null,
  lock: false,
  transactional: false,
  // Success is recorded with the device's record, in the transaction that writes it.
  recordSuccess: false,
  async handler(ctx, call, { request, format, evidence }) {
    const birth = birthCertificate(ctx, call.ch);
    const { idevid, device } = birth;
    call.identify(device.serial);
    // ERR_VOUCHER_FORMAT (406) before anything is sent when Airlock cannot carry that format.
    if (!SIGNABLE.includes(format) || !SIGNABLE.includes(request.mediaType))
      throw new AirlockError('ERR_VOUCHER_FORMAT', `the registrar does not carry ${format}`);
    const pvr = verifyPledgeVoucherRequest(ctx.crypto, request.bytes, {
      tlsClientCert: idevid,
      registrarCert: ctx.pki.registrar.cert,
      mediaType: request.mediaType,
      serialNumber: device.serial,
    });
    const masaUrl = normaliseMasaUrl(device.masaUrl);
    // Serial numbers are unique per manufacturer only: a record belongs to one birth certificate.
    const known = await call.r.devices.get(pvr.serialNumber);
    ensure(
      !known || equalBytes(known.idevidDer, idevid.der),
      'ERR_IDEVID_MISMATCH',
      'another device holds this serial number here',
    );
    const policy = await policyInForce(call.r);
    // Steps 2 to 4 first, when the device sent evidence (a device may attest from any state):
    // one it does not admit is recorded refused and learns nothing more.
    const appraised =
      evidence && ctx.verifier
        ? await appraiseOnChannel(ctx, call, birth, evidence, policy)
        : undefined;
    if (appraised && !appraised.admitted) {
      await ctx.store.transaction((r) =>
        recordChannelBound(r, call, birth, appraised, ctx.clock.now()),
      );
      throw refusalOf(appraised);
    }
    // An attestation begun must end, and a refused one be done again (core/onboarding-state.ts).
    if (known && !appraised) requireState(known.state, TRANSITIONS['voucher-issued'].from);
    // The policy, before the device learns who the network is: a device that attested in this
    // onboarding is judged by its result, any other as one that presented no evidence.
    const attested = appraised !== undefined || known?.state === 'attested';
    // Admitted on this connection, not on another one (a copy of the birth credentials).
    if (attested && !appraised && !issuedOn(ctx, call.ch).admitted)
      throw new AirlockError(
        'ERR_REGISTRAR_SEQUENCE',
        'the device was admitted on another connection: it attests again on this one',
      );
    // Judged at step 4 with the same policy, in this same request.
    const decision =
      appraised?.decision ??
      decide(
        policy,
        subjectOf(
          ctx,
          idevid,
          device,
          attested ? storedFacts(known!.attestationStatus, known!.attestationClaims) : null,
        ),
      );
    if (decision.decision === 'deny') throw denied(decision);
    let voucher: EncodedVoucher;
    let rvr: EncodedVoucher;
    try {
      ({ voucher, rvr } = await obtainVoucher(ctx, birth, pvr, masaUrl, format));
    } catch (e) {
      // The attestation stands, recorded as it would have been on its own: the device may ask
      // again for a voucher on this connection, without evidence (it gave its evidence here).
      if (appraised) {
        await ctx.store.transaction((r) =>
          recordChannelBound(r, call, birth, appraised, ctx.clock.now()),
        );
        issuedOn(ctx, call.ch).admitted = true;
      }
      throw e;
    }
    const at = ctx.clock.now();
    await ctx.store.transaction(async (r) => {
      const written = await r.devices.vouched(
        {
          serial: pvr.serialNumber,
          idevidDer: idevid.der,
          manufacturer: idevid.issuer,
          nonce: pvr.nonce,
          decision,
          ...(appraised ? { attestation: attestationRecord(appraised) } : {}),
        },
        at,
      );
      ensure(written, 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
      if (!attested && known?.attestationStatus)
        await r.devices.forgetAttestation(pvr.serialNumber, at);
      await ctx.credentials.recordBirthKey(r, pvr.serialNumber, idevid);
      await r.events.record(
        [
          // Step 2: with this request, unless the device attested apart (recorded there).
          ...(appraised
            ? [contacted(pvr.serialNumber, call, CHANNEL_BOUND), ...appraised.events]
            : attested
              ? []
              : [contacted(pvr.serialNumber, call)]),
          {
            serial: pvr.serialNumber,
            step: OnboardingStep.TrustedIntroduction,
            action: 'voucher issued by the MASA and delivered',
            outcome: 'ok',
          },
        ],
        at,
      );
    });
    if (appraised) issuedOn(ctx, call.ch).admitted = true;
    // Telemetry, off the device's path: the device does not wait for the MASA's audit log.
    ctx.background(recordMasaAuditLog(ctx, masaUrl, rvr, pvr.serialNumber, device.trust));
    return appraised ? { ...voucher, attestation: appraised.status } : voucher;
  },
};

/**
 * The registrar's voucher request to the device's MASA, in the pledge's format, and the
 * voucher checked as the device will check it: it records nothing the device would refuse.
 */
async function obtainVoucher(
  ctx: RegistrarContext,
  { idevid, device }: BirthCertificate,
  pvr: VerifiedPledgeVoucherRequest,
  masaUrl: string,
  format: VoucherMediaType,
): Promise<{ voucher: EncodedVoucher; rvr: EncodedVoucher }> {
  const { pki, settings } = ctx;
  const withCa = settings.voucherRequestChain !== 'registrar-only';
  const chain = {
    registrarCert: pki.registrar.cert,
    ...(withCa ? { domainCa: pki.domainCa.cert } : {}),
  };
  const rvr: EncodedVoucher = {
    mediaType: pvr.artifact.mediaType,
    bytes: signRegistrarVoucherRequestAs(
      ctx.crypto,
      pvr.artifact.mediaType,
      pki.registrar.key,
      chain,
      pvr,
      ctx.clock.now(),
    ),
  };
  const voucher = await ctx.masa.voucher(masaUrl, rvr, format, device.trust);
  const v = verifyVoucher(ctx.crypto, voucher.bytes, {
    mediaType: voucher.mediaType,
    masaAnchors: ctx.manufacturers.voucherAnchors(device.trust),
    serialNumber: pvr.serialNumber,
    nonce: pvr.nonce,
    at: ctx.clock.now(),
    idevid,
    policy: {
      minimumAssertion: settings.minimumVoucherAssertion,
      clockSkewSeconds: settings.voucherClockSkewSeconds,
    },
  });
  // The voucher pins our domain CA, or our registrar certificate when that alone is what we sent.
  const pinsUs =
    equalBytes(v.pinnedDomainCert.der, pki.domainCa.cert.der) ||
    (!withCa && equalBytes(v.pinnedDomainCert.der, pki.registrar.cert.der));
  ensure(pinsUs, 'ERR_VOUCHER_OTHER_DOMAIN');
  return { voucher, rvr };
}

/** This domain's identity in MASA audit logs (RFC 8995 section 5.8.2), by domain CA. */
const domainIds = new WeakMap<object, string>();

/**
 * RFC 8995 section 5.8.3: after a voucher, the MASA's audit log of the device, into its audit
 * trail; every other domain that claimed the device is a warning. Informational: a MASA
 * without the log, or one that fails, is recorded and does not stop the onboarding.
 */
export async function recordMasaAuditLog(
  ctx: RegistrarContext,
  masaUrl: string,
  rvr: EncodedVoucher,
  serial: string,
  trust: ManufacturerRef,
): Promise<void> {
  try {
    const log = await ctx.masa.auditLog(masaUrl, rvr, trust);
    if (!log) return;
    const ca = ctx.pki.domainCa.cert;
    let own = domainIds.get(ca);
    if (own === undefined) domainIds.set(ca, (own = domainIdOf(ctx.crypto, ca)));
    const others = otherDomains(log, own);
    await ctx.store.run((r) =>
      r.events.record(
        [
          {
            serial,
            action: 'masa audit log',
            outcome: 'ok',
            detail: {
              vouchers: log.events.length,
              otherDomains: others.length,
              truncated: JSON.stringify(log.truncation ?? {}),
            },
          },
          ...others.map((d) => ({
            serial,
            action: 'masa audit log: the device was claimed by another domain',
            outcome: 'warning' as const,
            detail: { domainID: d.domainID, lastClaimed: d.lastClaimed, vouchers: d.vouchers },
          })),
        ],
        ctx.clock.now(),
      ),
    );
  } catch (e) {
    const at = ctx.clock.now();
    await ctx.store.run((r) =>
      r.events.record(
        [
          {
            serial,
            action: 'masa audit log',
            outcome: 'error',
            code: isAirlockError(e) ? e.code : 'ERR_INTERNAL',
          },
        ],
        at,
      ),
    );
  }
}
