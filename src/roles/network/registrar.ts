/**
 * The registrar (RFC 8995 with RFC 7030 EST): the network onboarding component of NIST IR
 * 8350. Its steps are in src/onboarding/registrar, one module per step, and its endpoints a
 * table there (endpoints.ts); this class wires the network role's adapters into them and runs
 * each request through the audited pipeline. State lives in the database only, so several
 * registrars can share one.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { fromUtf8, toPem, utf8 } from '../../core/bytes.js';
import type { AppBootstrap } from '../../core/credentials.js';
import type { NetworkStore } from '../../core/store.js';
import type { MasaClient, MasaTls } from '../../adapters/http/masa-client.js';
import { masaTlsAnchors, type AnyManufacturerTrust } from '../shared/trust.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import {
  VOUCHER_JWS_MEDIA_TYPE,
  type EncodedVoucher,
  type VoucherMediaType,
} from '../../protocols/voucher/codec.js';
import type {
  Channel,
  IntentPort,
  RegistrarContext,
  VerifierPort,
} from '../../onboarding/registrar/ports.js';
import {
  attestationChallenge,
  attestationEvidence,
  type AttestationOut,
  type Challenge,
  type EvidenceIn,
} from '../../onboarding/registrar/step-03-attestation.js';
import { runEndpoint } from '../../onboarding/registrar/pipeline.js';
import {
  requestVoucher,
  type VoucherOut,
} from '../../onboarding/registrar/step-05-trusted-introduction.js';
import { declaration } from '../../onboarding/registrar/step-06-declaration.js';
import {
  deviceAuthentication,
  voucherStatus,
} from '../../onboarding/registrar/step-07-device-authentication.js';
import { appBootstrap } from '../../onboarding/registrar/step-14-app-bootstrap.js';
import { simpleEnroll, wifi } from '../../onboarding/registrar/step-15-provisioning.js';
import { intentBefore } from '../../onboarding/registrar/step-11-intent.js';
import { simpleReenroll } from '../../onboarding/registrar/renewal.js';
import { connectionReport } from '../../onboarding/registrar/connection-report.js';
import { enrollStatus } from '../../onboarding/registrar/enrollment-status.js';
import type { RoleContext } from '../shared/context.js';
import {
  reattest,
  type ReattestationOutcome,
  type ReattestationPorts,
} from '../../onboarding/registrar/reattestation.js';
import type { CredentialIssuer } from './credentials.js';
import type { NetworkDeclarations } from './declarations.js';
import type { Inventory } from './inventory.js';
import { partyOfTrust, voucherAnchorsOf, type TrustedManufacturers } from './manufacturers.js';
import type { NetworkPki } from './pki.js';
import type { NetworkConfig } from './defaults.js';

/** What a handler knows of the request's connection. */
export type ChannelContext = Channel;

const INTENT_BEFORE_ENROLL = intentBefore('/.well-known/est/simpleenroll');
const INTENT_BEFORE_WIFI = intentBefore('/.well-known/airlock/wifi');

export class Registrar {
  /** What the steps are given: the role's adapters behind the ports of src/onboarding/registrar/ports.ts. */
  readonly #steps: RegistrarContext;

  constructor(
    private readonly ctx: RoleContext,
    store: NetworkStore,
    pki: NetworkPki,
    config: NetworkConfig,
    manufacturers: TrustedManufacturers,
    /** Read at each request: a test may wire another MASA client in. */
    private masa: MasaClient,
    declarations: NetworkDeclarations,
    credentials: CredentialIssuer,
    _inventory: Inventory,
    verifier: VerifierPort | undefined,
    intent: IntentPort | undefined,
  ) {
    this.#steps = {
      crypto: ctx.crypto,
      clock: ctx.clock,
      store,
      pki,
      settings: {
        ssid: config.ssid,
        applicationUrl: config.applicationUrl,
        applicationTrustAnchor:
          config.applicationTrustAnchorPem || toPem('CERTIFICATE', pki.domainCa.cert.der),
        voucherRequestChain: config.voucherRequestChain,
        minimumVoucherAssertion: config.minimumVoucherAssertion,
        voucherClockSkewSeconds: config.voucherClockSkewSeconds,
      },
      manufacturers: {
        identify: (idevid, at) => manufacturers.identify(idevid, at),
        identifyVerified: (idevid, at) => manufacturers.identifyVerified(idevid, at),
        voucherAnchors: (trust) => voucherAnchorsOf(trust as AnyManufacturerTrust),
        partyOf: (trust) => partyOfTrust(ctx.crypto, trust as AnyManufacturerTrust),
      },
      masa: {
        voucher: (masaUrl, rvr, format, trust) =>
          this.#askMasa(masaUrl, rvr, format, this.#masaTlsFor(trust as AnyManufacturerTrust)),
        auditLog: async (masaUrl, rvr, trust) =>
          this.masa.requestAuditLog
            ? this.masa.requestAuditLog(
                masaUrl,
                rvr,
                this.#masaTlsFor(trust as AnyManufacturerTrust),
              )
            : undefined,
      },
      declarations: {
        chainFor: (serial, masaUrl, trust) =>
          declarations.chainFor(serial, masaUrl, trust as AnyManufacturerTrust),
      },
      credentials,
      verifier,
      intent,
      issuedOn: new WeakMap(),
      background: (work) => this.#inBackground(work),
    };
  }

  /** Steps 2 and 3: a fresh nonce from the verification service, for the device on the channel. */
  async attestationChallenge(ch: ChannelContext): Promise<Challenge> {
    return runEndpoint(this.#steps, attestationChallenge, ch, undefined);
  }

  /** Steps 3 and 4: the device's evidence appraised; ERR_ATTESTATION_REFUSED (recorded) when it does not admit the device. */
  async attestation(
    ch: ChannelContext,
    mediaType: string,
    evidence: string,
  ): Promise<AttestationOut> {
    return runEndpoint(this.#steps, attestationEvidence, ch, { mediaType, evidence });
  }

  /**
   * Steps 2 and 5: the device, in onboarding mode, asks for a voucher. The registrar checks
   * the birth certificate against the manufacturers it trusts before it contacts any MASA.
   */
  async requestVoucher(ch: ChannelContext, pledgeVoucherRequest: string): Promise<string> {
    const voucher = await this.requestVoucherIn(ch, {
      mediaType: VOUCHER_JWS_MEDIA_TYPE,
      bytes: utf8(pledgeVoucherRequest),
    });
    return fromUtf8(voucher.bytes);
  }

  /**
   * Steps 2 and 5 in any format: the pledge's request in JWS or CMS; the registrar's request
   * to the MASA in the same format; the voucher in `format` (the pledge's Accept, passed on
   * to the MASA; by default the request's format). ERR_VOUCHER_FORMAT (406) before anything
   * is sent when Airlock cannot carry that format. With `evidence` (bound to the channel),
   * steps 2 to 4 first: a device they do not admit is refused (recorded) and gets no voucher.
   */
  async requestVoucherIn(
    ch: ChannelContext,
    pledgeVoucherRequest: EncodedVoucher,
    format: VoucherMediaType = pledgeVoucherRequest.mediaType,
    evidence?: EvidenceIn,
  ): Promise<VoucherOut> {
    return runEndpoint(this.#steps, requestVoucher, ch, {
      request: pledgeVoucherRequest,
      format,
      ...(evidence ? { evidence } : {}),
    });
  }

  /** Step 6: the device information declaration, installed or fetched in real time. */
  async declaration(ch: ChannelContext): Promise<string[]> {
    return runEndpoint(this.#steps, declaration, ch, undefined);
  }

  /**
   * RFC 8995 section 5.7: the device says whether it accepted the voucher; signed and bound
   * to the channel (`jose`), it is step 7 (src/onboarding/registrar/step-07-device-authentication.ts).
   */
  async voucherStatus(
    ch: ChannelContext,
    body: { json: unknown } | { jose: string },
  ): Promise<{ status: boolean; authenticated: boolean }> {
    const { status, authenticated } =
      'jose' in body
        ? await runEndpoint(this.#steps, deviceAuthentication, ch, body.jose)
        : await runEndpoint(this.#steps, voucherStatus, ch, body.json);
    return { status, authenticated };
  }

  /** Step 14: application-layer bootstrapping information, in exchange for the device's. */
  async appBootstrap(ch: ChannelContext, deviceInfo: unknown): Promise<AppBootstrap> {
    return runEndpoint(this.#steps, appBootstrap, ch, deviceInfo);
  }

  /**
   * Step 15, RFC 7030 section 4.2.1: an LDevID for a key the device generated itself; where
   * the network enforces intent, steps 11 to 13 first (the MUD URL from the birth certificate
   * or the CSR).
   */
  async simpleEnroll(ch: ChannelContext, body: string): Promise<Certificate> {
    if (this.#steps.intent) await runEndpoint(this.#steps, INTENT_BEFORE_ENROLL, ch, { csr: body });
    return runEndpoint(this.#steps, simpleEnroll, ch, body);
  }

  /** RFC 7030 section 4.2.2: renewal, authenticated by the current LDevID. */
  async simpleReenroll(ch: ChannelContext, body: string): Promise<Certificate> {
    return runEndpoint(this.#steps, simpleReenroll, ch, body);
  }

  /**
   * Step 15: the SSID and a unique per-device PSK; where the network enforces intent, steps 11
   * to 13 first, and the address the device's rules are keyed by.
   */
  async wifiCredentials(
    ch: ChannelContext,
  ): Promise<{ ssid: string; psk: string; address?: string }> {
    if (this.#steps.intent) await runEndpoint(this.#steps, INTENT_BEFORE_WIFI, ch, {});
    const issued = await runEndpoint(this.#steps, wifi, ch, undefined);
    return {
      ssid: this.#steps.settings.ssid,
      psk: issued.psk,
      ...(issued.address ? { address: issued.address } : {}),
    };
  }

  /** Report section 5.3: the device's diagnostic report after connecting, by its current LDevID. */
  async connectionReport(ch: ChannelContext, json: unknown): Promise<void> {
    await runEndpoint(this.#steps, connectionReport, ch, json);
  }

  /** RFC 8995 section 5.9.4: the device reports whether it could use what it received. */
  async enrollStatus(ch: ChannelContext, json: unknown): Promise<void> {
    await runEndpoint(this.#steps, enrollStatus, ch, json);
  }

  /** Report section 7: one onboarded device appraised again (src/onboarding/registrar/reattestation.ts). */
  async reattest(
    ports: ReattestationPorts,
    device: { serial: string; url: string },
  ): Promise<ReattestationOutcome> {
    return reattest(this.#steps, ports, device);
  }

  /** The MASA, asked in the format the pledge wants; a MASA client without formats speaks JWS. */
  async #askMasa(
    masaUrl: string,
    rvr: EncodedVoucher,
    format: VoucherMediaType,
    tls: MasaTls,
  ): Promise<EncodedVoucher> {
    if (this.masa.requestVoucherIn) return this.masa.requestVoucherIn(masaUrl, rvr, format, tls);
    if (rvr.mediaType !== VOUCHER_JWS_MEDIA_TYPE || format !== VOUCHER_JWS_MEDIA_TYPE)
      throw new AirlockError('ERR_VOUCHER_FORMAT', 'this MASA client speaks JWS only');
    return {
      mediaType: VOUCHER_JWS_MEDIA_TYPE,
      bytes: utf8(await this.masa.requestVoucher(masaUrl, fromUtf8(rvr.bytes))),
    };
  }

  /** How the MASA of each trusted manufacturer is reached: one object per manufacturer, so that the client's per-anchors state is found again. */
  readonly #masaTls = new WeakMap<AnyManufacturerTrust, MasaTls>();
  #masaTlsFor(trust: AnyManufacturerTrust): MasaTls {
    let tls = this.#masaTls.get(trust);
    if (!tls) this.#masaTls.set(trust, (tls = { anchors: masaTlsAnchors([trust]) }));
    return tls;
  }

  readonly #pending = new Set<Promise<void>>();

  #inBackground(work: Promise<void>): void {
    const p = work
      .catch((e) =>
        this.ctx.logger.error(
          { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
          'registrar: background work failed',
        ),
      )
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves when the work started in the background (MASA audit logs) has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }
}
