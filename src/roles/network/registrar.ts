/**
 * The registrar (RFC 8995 with RFC 7030 EST): the network onboarding component of NIST IR
 * 8350. Each handler is one step of Figure 9 and records it in the device's audit trail.
 * State lives in the database only, so several registrars can share one.
 */
import { AirlockError, ensure, isAirlockError } from '../../core/errors.js';
import { checked } from '../../protocols/schema.js';
import { equalBytes, fromUtf8, toPem, utf8 } from '../../core/bytes.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import type { AppBootstrap } from '../../core/credentials.js';
import { DEVICE_STATES, ONBOARDING_STATES, canTransition, requireState, transition, type DeviceState } from '../../core/onboarding-state.js';
import type { NetworkRepositories, NetworkStore } from '../../core/store.js';
import type { MasaClient, MasaTls } from '../../adapters/http/masa-client.js';
import { masaTlsAnchors, type AnyManufacturerTrust } from '../shared/trust.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { verifyPledgeVoucherRequest } from '../../protocols/voucher/pledge-voucher-request.js';
import { signRegistrarVoucherRequestAs } from '../../protocols/voucher/registrar-voucher-request.js';
import { verifyVoucher } from '../../protocols/voucher/voucher.js';
import { SIGNABLE, VOUCHER_JWS_MEDIA_TYPE, type EncodedVoucher, type VoucherMediaType } from '../../protocols/voucher/codec.js';
import { normaliseMasaUrl } from '../../protocols/x509/masa-url.js';
import { CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH, StatusTelemetry, verifyVoucherStatus } from '../../protocols/brski/status.js';
import { decodeCsrBody, verifyCsr } from '../../protocols/est/csr.js';
import { domainIdOf, otherDomains } from '../../protocols/brski/audit-log.js';
import type { RoleContext } from '../shared/context.js';
import type { CredentialIssuer } from './credentials.js';
import type { NetworkDeclarations } from './declarations.js';
import type { Inventory } from './inventory.js';
import { voucherAnchorsOf, type IdentifiedDevice, type TrustedManufacturers } from './manufacturers.js';
import type { NetworkPki } from './pki.js';
import type { NetworkConfig } from './defaults.js';

/** What a handler knows of the request's connection. */
export interface ChannelContext {
  clientCert: Certificate | undefined;
  exporter(label: string, length: number): Uint8Array;
  peer: string;
  /** The request's connection: what was issued on it is remembered for as long as it lives. */
  connection: object;
  /** Told the device's serial number once a request of that device has succeeded (for the request log). */
  identified?(serial: string): void;
}

/** A device whose voucher was issued is authenticated (step 7) and may enroll (RFC 7030). */
const EST_STATES = ONBOARDING_STATES;
/** States in which a voucher status is meaningful: a voucher was issued in this onboarding. */
/** The states each transition may start from (core/onboarding-state.ts). */
const TRANSITIONS_FROM = { 'device-authenticated': ['vouched', 'authenticated'] } as const satisfies Record<string, readonly DeviceState[]>;
const SESSION_STATES: readonly DeviceState[] = [...ONBOARDING_STATES, 'failed'];

function parseStatus(json: unknown): StatusTelemetry {
  return checked(StatusTelemetry, json, 'ERR_INPUT_SCHEMA');
}

/** What the audit trail keeps of a status report: never more than 256 characters of reason. */
function statusDetail(report: StatusTelemetry | undefined): Record<string, string | boolean | null> {
  return { status: report?.status ?? null, reason: report?.reason?.slice(0, 256) ?? null };
}

export class Registrar {
  constructor(
    private readonly ctx: RoleContext,
    private readonly store: NetworkStore,
    private readonly pki: NetworkPki,
    private readonly config: NetworkConfig,
    private readonly manufacturers: TrustedManufacturers,
    private readonly masa: MasaClient,
    private readonly declarations: NetworkDeclarations,
    private readonly credentials: CredentialIssuer,
    private readonly inventory: Inventory,
  ) {
    this.#appTrustAnchor = config.applicationTrustAnchorPem || toPem('CERTIFICATE', pki.domainCa.cert.der);
  }

  readonly #appTrustAnchor: string;
  /** Per connection: what was issued on it. Connection state, not device state: it dies with the socket. */
  readonly #issuedOn = new WeakMap<object, { ldevid?: string; psk?: string }>();

  /**
   * Steps 2 and 5: the device, in onboarding mode, asks for a voucher. The registrar checks
   * the birth certificate against the manufacturers it trusts before it contacts any MASA.
   */
  async requestVoucher(ch: ChannelContext, pledgeVoucherRequest: string): Promise<string> {
    const voucher = await this.requestVoucherIn(ch, { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(pledgeVoucherRequest) });
    return fromUtf8(voucher.bytes);
  }

  /**
   * Steps 2 and 5 in any format: the pledge's request in JWS or CMS; the registrar's request
   * to the MASA in the same format; the voucher in `format` (the pledge's Accept, passed on
   * to the MASA; by default the request's format). ERR_VOUCHER_FORMAT (406) before anything
   * is sent when Airlock cannot carry that format.
   */
  async requestVoucherIn(ch: ChannelContext, pledgeVoucherRequest: EncodedVoucher, format: VoucherMediaType = pledgeVoucherRequest.mediaType): Promise<EncodedVoucher> {
    const started = this.ctx.clock.now();
    return this.#audited(ch, 'requestvoucher', OnboardingStep.TrustedIntroduction, async ({ setSerial }) => {
      const { idevid, device } = this.#birthCertificate(ch);
      setSerial(device.serial);
      if (!SIGNABLE.includes(format) || !SIGNABLE.includes(pledgeVoucherRequest.mediaType)) throw new AirlockError('ERR_VOUCHER_FORMAT', `the registrar does not carry ${format}`);
      const pvr = verifyPledgeVoucherRequest(this.ctx.crypto, pledgeVoucherRequest.bytes, { tlsClientCert: idevid, registrarCert: this.pki.registrar.cert, mediaType: pledgeVoucherRequest.mediaType, serialNumber: device.serial });
      const masaUrl = normaliseMasaUrl(device.masaUrl);
      // Serial numbers are unique per manufacturer only: a record belongs to one birth certificate.
      const known = await this.store.run((r) => r.devices.birthCertificateOf(pvr.serialNumber));
      ensure(!known || equalBytes(known, idevid.der), 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
      const withCa = this.config.voucherRequestChain !== 'registrar-only';
      const chain = { registrarCert: this.pki.registrar.cert, ...(withCa ? { domainCa: this.pki.domainCa.cert } : {}) };
      const rvr: EncodedVoucher = { mediaType: pvr.artifact.mediaType, bytes: signRegistrarVoucherRequestAs(this.ctx.crypto, pvr.artifact.mediaType, this.pki.registrar.key, chain, pvr, this.ctx.clock.now()) };
      const tls = this.#masaTlsFor(device.trust);
      const voucher = await this.#askMasa(masaUrl, rvr, format, tls);
      // What the device will check, checked here first: it records nothing it would refuse.
      const v = verifyVoucher(this.ctx.crypto, voucher.bytes, {
        mediaType: voucher.mediaType,
        masaAnchors: voucherAnchorsOf(device.trust),
        serialNumber: pvr.serialNumber,
        nonce: pvr.nonce,
        at: this.ctx.clock.now(),
        idevid,
        policy: { minimumAssertion: this.config.minimumVoucherAssertion, clockSkewSeconds: this.config.voucherClockSkewSeconds },
      });
      // The voucher pins our domain CA, or our registrar certificate when that alone is what we sent.
      const pinsUs = equalBytes(v.pinnedDomainCert.der, this.pki.domainCa.cert.der) || (!withCa && equalBytes(v.pinnedDomainCert.der, this.pki.registrar.cert.der));
      ensure(pinsUs, 'ERR_VOUCHER_OTHER_DOMAIN');
      const at = this.ctx.clock.now();
      await this.store.transaction(async (r) => {
        const written = await r.devices.vouched({ serial: pvr.serialNumber, idevidDer: idevid.der, manufacturer: idevid.issuer, nonce: pvr.nonce }, at);
        ensure(written, 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
        await this.credentials.recordBirthKey(r, pvr.serialNumber, idevid);
        await this.inventory.record([
          { serial: pvr.serialNumber, step: OnboardingStep.OnboardingMode, action: 'onboarding mode: device contacted the registrar', outcome: 'ok', detail: { peer: ch.peer, since: started.toISOString() } },
          { serial: pvr.serialNumber, step: OnboardingStep.TrustedIntroduction, action: 'voucher issued by the MASA and delivered', outcome: 'ok' },
        ], at, r);
      });
      // Telemetry, off the device's path: the device does not wait for the MASA's audit log.
      this.#inBackground(this.#recordMasaAuditLog(masaUrl, rvr, pvr.serialNumber, tls));
      return voucher;
    }, { recordSuccess: false });
  }

  /** The MASA, asked in the format the pledge wants; a MASA client without formats speaks JWS. */
  async #askMasa(masaUrl: string, rvr: EncodedVoucher, format: VoucherMediaType, tls: MasaTls): Promise<EncodedVoucher> {
    if (this.masa.requestVoucherIn) return this.masa.requestVoucherIn(masaUrl, rvr, format, tls);
    if (rvr.mediaType !== VOUCHER_JWS_MEDIA_TYPE || format !== VOUCHER_JWS_MEDIA_TYPE) throw new AirlockError('ERR_VOUCHER_FORMAT', 'this MASA client speaks JWS only');
    return { mediaType: VOUCHER_JWS_MEDIA_TYPE, bytes: utf8(await this.masa.requestVoucher(masaUrl, fromUtf8(rvr.bytes))) };
  }

  /** Step 6: the device information declaration, installed or fetched in real time. */
  async declaration(ch: ChannelContext): Promise<string[]> {
    return this.#audited(ch, 'declaration', OnboardingStep.DeclarationDelivered, async ({ r, setSerial }) => {
      const device = await this.#session(r, ch, EST_STATES, setSerial);
      const { masaUrl, trust } = device.identified;
      return this.declarations.chainFor(device.serial, masaUrl === undefined ? undefined : normaliseMasaUrl(masaUrl), trust);
    });
  }

  /**
   * RFC 8995 section 5.7: the device says whether it accepted the voucher. Telemetry, recorded
   * in the audit trail: it gates nothing, since step 7 (the network authenticates the device)
   * is the IDevID's proof of possession in the TLS handshake together with the signed pledge
   * voucher request the registrar verified before it asked for the voucher.
   *
   * `application/json` is the RFC's form. `application/jose` is Airlock's optional extension:
   * the same status signed with the IDevID key over the voucher nonce and a TLS exporter value
   * of this channel; one that does not verify is refused (and recorded), one that does is
   * recorded as step 7 and marks the device 'authenticated'.
   */
  async voucherStatus(ch: ChannelContext, body: { json: unknown } | { jose: string }): Promise<{ status: boolean; authenticated: boolean }> {
    const signed = 'jose' in body;
    let report: StatusTelemetry | undefined;
    return this.#audited(ch, 'voucher_status', signed ? OnboardingStep.DeviceAuthenticated : undefined, async ({ r, setSerial }) => {
      if (!signed) {
        const device = await this.#session(r, ch, SESSION_STATES, setSerial);
        report = parseStatus(body.json);
        return { status: report.status, authenticated: device.state === 'authenticated' };
      }
      const device = await this.#session(r, ch, TRANSITIONS_FROM['device-authenticated'], setSerial, { lock: true });
      ensure(device.nonce, 'ERR_REGISTRAR_SEQUENCE', 'no voucher is outstanding');
      report = verifyVoucherStatus(this.ctx.crypto, body.jose, {
        tlsClientCert: device.idevid,
        nonce: device.nonce,
        channelBinding: ch.exporter(CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH),
      });
      if (report.status) {
        transition(device.state, 'device-authenticated');
        await r.devices.update(device.serial, { state: 'authenticated' }, this.ctx.clock.now());
      }
      return { status: report.status, authenticated: report.status };
    }, { transactional: true, outcome: (r) => (r.status ? 'ok' : 'error'), detail: (r) => ({ ...statusDetail(report), format: signed ? 'jose' : 'json', authenticated: r.authenticated }) });
  }

  /** Step 14: application-layer bootstrapping information, in exchange for the device's. */
  async appBootstrap(ch: ChannelContext, deviceInfo: unknown): Promise<AppBootstrap> {
    return this.#audited(ch, 'app-bootstrap', OnboardingStep.AppBootstrap, async ({ r, setSerial }) => {
      await this.#session(r, ch, EST_STATES, setSerial);
      ensure(typeof deviceInfo === 'object' && deviceInfo !== null && !Array.isArray(deviceInfo), 'ERR_INPUT_SCHEMA', 'expected a JSON object');
      return { applicationUrl: this.config.applicationUrl, trustAnchor: this.#appTrustAnchor };
    });
  }

  /**
   * Step 15, RFC 7030 section 4.2.1: an LDevID for a key the device generated itself. The
   * device is authenticated by its IDevID on this channel and the voucher issued to it.
   * A key certified before, for any device, or any device's birth key, is ERR_CSR_KEY.
   */
  async simpleEnroll(ch: ChannelContext, body: string): Promise<Certificate> {
    const cert = await this.#audited(ch, 'simpleenroll', OnboardingStep.Provisioning, async ({ r, setSerial }) => {
      const device = await this.#session(r, ch, EST_STATES, setSerial, { lock: true });
      const state = transition(device.state, 'ldevid-issued');
      const csr = verifyCsr(this.ctx.crypto, decodeCsrBody(body));
      this.#ensureNotOurKey(csr.spki);
      const cert = this.credentials.signLdevid(device.serial, csr.spki);
      await this.credentials.recordLdevid(r, device.serial, cert);
      await r.devices.update(device.serial, { state, ldevidSerial: cert.serial }, this.ctx.clock.now());
      return cert;
    }, { transactional: true, detail: (c) => ({ ldevid: c.serial }) });
    this.#issued(ch).ldevid = cert.serial;
    return cert;
  }

  /**
   * RFC 7030 section 4.2.2: renewal, authenticated by the current LDevID. The new LDevID names
   * the device of the LDevID that authenticated the request, whatever the request's subject.
   * The key may be the current LDevID's (renewal) or a fresh one (rekey); never a key
   * certified for another device, a superseded key, or a birth key.
   */
  async simpleReenroll(ch: ChannelContext, body: string): Promise<Certificate> {
    return this.#audited(ch, 'simplereenroll', undefined, async ({ r, setSerial }) => {
      const current = ch.clientCert;
      ensure(current, 'ERR_LDEVID_MISSING', 'renewal needs the current LDevID');
      verifyChain(this.ctx.crypto, { leaf: current, anchors: [this.pki.domainCa.cert], at: this.ctx.clock.now() });
      const holder = await this.#currentHolder(r, current.serial);
      setSerial(holder.device);
      const csr = verifyCsr(this.ctx.crypto, decodeCsrBody(body));
      const sameKey = equalBytes(csr.spki, current.spki);
      if (!sameKey) this.#ensureNotOurKey(csr.spki);
      const cert = this.credentials.signLdevid(holder.device, csr.spki);
      await this.credentials.recordLdevid(r, holder.device, cert, sameKey ? current.serial : undefined);
      await r.devices.update(holder.device, { state: holder.state, ldevidSerial: cert.serial }, this.ctx.clock.now());
      return cert;
    }, { transactional: true, detail: (c) => ({ ldevid: c.serial }) });
  }

  /** Step 15: the SSID and a unique per-device PSK. */
  async wifiCredentials(ch: ChannelContext): Promise<{ ssid: string; psk: string }> {
    const issued = await this.#audited(ch, 'wifi', OnboardingStep.Provisioning, async ({ r, setSerial }) => {
      const device = await this.#session(r, ch, EST_STATES, setSerial, { lock: true });
      const p = await this.credentials.newPsk(r, device.serial);
      await r.devices.update(device.serial, { pskId: p.id }, this.ctx.clock.now());
      return p;
    }, { transactional: true, detail: (p) => ({ psk: p.id }) });
    this.#issued(ch).psk = issued.id;
    return { ssid: this.config.ssid, psk: issued.psk };
  }

  /**
   * RFC 8995 section 5.9.4: the device reports whether it could use what it received, on the
   * onboarding connection (IDevID) or on a new one authenticated with its new LDevID.
   * Success moves a provisioned device to 'onboarded'. A failure is recorded whatever the
   * state: a device still onboarding becomes 'failed' (it starts again with a new voucher);
   * credentials already issued stay as they are, and an onboarded device stays onboarded.
   */
  async enrollStatus(ch: ChannelContext, json: unknown): Promise<void> {
    let report: StatusTelemetry | undefined;
    let via: 'idevid' | 'ldevid' = 'idevid';
    return this.#audited(ch, 'enrollstatus', undefined, async ({ r, setSerial }) => {
      const ldevid = await this.#currentLdevid(r, ch);
      if (ldevid) via = 'ldevid';
      const session = ldevid ? undefined : await this.#session(r, ch, DEVICE_STATES, setSerial, { lock: true });
      const device = session ?? await this.#device(r, ldevid!.device, setSerial);
      report = parseStatus(json);
      const at = this.ctx.clock.now();
      if (report.status) {
        // Over the onboarding connection, success speaks for what was issued on it: when another
        // copy of the device has since been issued newer credentials, these are revoked or
        // retired, and the device must not keep them (it stores only what this accepts).
        if (session) this.#ensureIssuedHereAreCurrent(ch, session);
        if (device.state === 'onboarded') return; // a repeated success report: nothing changes
        transition(device.state, 'enrollment-confirmed');
        await r.devices.update(device.serial, { state: 'onboarded', onboardings: device.onboardings + 1 }, at);
      } else if (canTransition(device.state, 'enrollment-failed') && (session || (device.state === 'provisioned' && device.ldevidSerial === ch.clientCert?.serial))) {
        // A failure ends the onboarding it speaks for: the one on this connection, or the one
        // that issued this LDevID. An older LDevID, still current while a new onboarding is
        // under way, is recorded and changes nothing (it could otherwise stall that onboarding).
        await r.devices.update(device.serial, { state: transition(device.state, 'enrollment-failed') }, at);
      }
    }, { transactional: true, outcome: () => (report?.status === false ? 'error' : 'ok'), detail: () => ({ ...statusDetail(report), via }) });
  }

  readonly #pending = new Set<Promise<void>>();

  /** How the MASA of each trusted manufacturer is reached: one object per manufacturer, so that the client's per-anchors state is found again. */
  readonly #masaTls = new WeakMap<AnyManufacturerTrust, MasaTls>();
  #masaTlsFor(trust: AnyManufacturerTrust): MasaTls {
    let tls = this.#masaTls.get(trust);
    if (!tls) this.#masaTls.set(trust, (tls = { anchors: masaTlsAnchors([trust]) }));
    return tls;
  }

  /** This domain's identity in MASA audit logs (RFC 8995 section 5.8.2). */
  #ownDomainId: string | undefined;

  #inBackground(work: Promise<void>): void {
    const p = work.catch((e) => this.ctx.logger.error({ code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' }, 'registrar: background work failed')).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves when the work started in the background (MASA audit logs) has finished. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** What was issued on this connection (the LDevID and PSK of this onboarding). */
  #issued(ch: ChannelContext): { ldevid?: string; psk?: string } {
    let issued = this.#issuedOn.get(ch.connection);
    if (!issued) this.#issuedOn.set(ch.connection, (issued = {}));
    return issued;
  }

  #ensureIssuedHereAreCurrent(ch: ChannelContext, device: { ldevidSerial: string | null; pskId: string | null }): void {
    const issued = this.#issuedOn.get(ch.connection);
    ensure(issued?.ldevid !== undefined && issued.ldevid === device.ldevidSerial, 'ERR_REGISTRAR_SEQUENCE', 'the LDevID issued on this connection is not the device\'s current one');
    ensure(issued.psk === undefined || issued.psk === device.pskId, 'ERR_REGISTRAR_SEQUENCE', 'the PSK issued on this connection is not the device\'s current one');
  }

  /** The LDevID on the channel, if it is a current one of ours. */
  async #currentLdevid(r: NetworkRepositories, ch: ChannelContext): Promise<{ device: string } | undefined> {
    const cert = ch.clientCert;
    if (!cert || !equalBytes(cert.issuerDer, this.pki.domainCa.cert.subjectDer)) return undefined;
    verifyChain(this.ctx.crypto, { leaf: cert, anchors: [this.pki.domainCa.cert], at: this.ctx.clock.now() });
    return this.#currentHolder(r, cert.serial);
  }

  /**
   * The device an LDevID of ours is current for, its row locked for the rest of the work: the
   * LDevID is checked again once the lock is held, so that two renewals with one LDevID on two
   * nodes cannot both succeed.
   */
  async #currentHolder(r: NetworkRepositories, ldevidSerial: string): Promise<{ device: string; state: DeviceState }> {
    const first = await this.credentials.isCurrent(ldevidSerial, r);
    ensure(first, 'ERR_CERT_REVOKED', 'the LDevID is not current');
    const device = await r.devices.get(first.device, { lock: true });
    const holder = await this.credentials.isCurrent(ldevidSerial, r);
    ensure(device && holder, 'ERR_CERT_REVOKED', 'the LDevID is not current');
    return { device: device.serial, state: device.state };
  }

  async #device(r: NetworkRepositories, serial: string, setSerial: (s: string | undefined) => void) {
    setSerial(serial);
    const row = await r.devices.get(serial, { lock: true });
    if (!row) throw new AirlockError('ERR_DEVICE_NOT_FOUND');
    return row;
  }

  /**
   * The network's own keys are never a device's. Every other key is checked by the insert that
   * binds it to the device (credentials.ts recordLdevid): a key certified before, for any
   * device, or any device's birth key, is ERR_CSR_KEY.
   */
  #ensureNotOurKey(spki: Uint8Array): void {
    ensure(!equalBytes(spki, this.pki.domainCa.cert.spki) && !equalBytes(spki, this.pki.registrar.cert.spki), 'ERR_CSR_KEY', 'the key is the network\'s own');
  }

  /**
   * RFC 8995 section 5.8.3: after a voucher, the MASA's audit log of the device, into its audit
   * trail; every other domain that claimed the device is a warning. Informational: a MASA
   * without the log, or one that fails, is recorded and does not stop the onboarding.
   */
  async #recordMasaAuditLog(masaUrl: string, rvr: EncodedVoucher, serial: string, tls: MasaTls): Promise<void> {
    if (!this.masa.requestAuditLog) return;
    try {
      const log = await this.masa.requestAuditLog(masaUrl, rvr, tls);
      const own = (this.#ownDomainId ??= domainIdOf(this.ctx.crypto, this.pki.domainCa.cert));
      const others = otherDomains(log, own);
      await this.inventory.record([
        { serial, action: 'masa audit log', outcome: 'ok', detail: { vouchers: log.events.length, otherDomains: others.length, truncated: JSON.stringify(log.truncation ?? {}) } },
        ...others.map((d) => ({ serial, action: 'masa audit log: the device was claimed by another domain', outcome: 'warning' as const, detail: { domainID: d.domainID, lastClaimed: d.lastClaimed, vouchers: d.vouchers } })),
      ], this.ctx.clock.now());
    } catch (e) {
      await this.inventory.record({ serial, action: 'masa audit log', outcome: 'error', code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' }, this.ctx.clock.now());
    }
  }

  /**
   * The birth certificate on the channel, from a manufacturer this network trusts (Airlock or
   * not), with the serial number and MASA URL read where that manufacturer's trust says.
   */
  #birthCertificate(ch: ChannelContext): { idevid: Certificate; device: IdentifiedDevice } {
    const idevid = ch.clientCert;
    if (!idevid) throw new AirlockError('ERR_IDEVID_MISSING');
    return { idevid, device: this.manufacturers.identify(idevid, this.ctx.clock.now()) };
  }

  /** The serial number of the birth certificate on the channel, if a trusted manufacturer's CA has its issuer's name. */
  #sessionDevice(idevid: Certificate): IdentifiedDevice | undefined {
    try {
      return this.manufacturers.identifyVerified(idevid, this.ctx.clock.now());
    } catch (e) {
      if (isAirlockError(e)) return undefined;
      throw e;
    }
  }

  /** The device's onboarding session: same birth certificate, and in one of `states`. */
  async #session(r: NetworkRepositories, ch: ChannelContext, states: readonly DeviceState[], setSerial: (s: string | undefined) => void, opts?: { lock?: boolean }) {
    const idevid = ch.clientCert;
    if (!idevid) throw new AirlockError('ERR_IDEVID_MISSING');
    const identified = this.#sessionDevice(idevid);
    const serial = identified?.serial;
    // A certificate of no trusted manufacturer (an LDevID, say) is refused under the serial it claims.
    setSerial(serial ?? idevid.subjectSerialNumber);
    const row = serial === undefined ? undefined : await r.devices.get(serial, opts);
    if (!identified || !row || !equalBytes(row.idevidDer, idevid.der)) throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'no voucher was issued to this device');
    requireState(row.state, states);
    return { ...row, idevid, identified };
  }

  /**
   * Runs a handler and records its outcome in the device's audit trail, refusals included.
   * A transactional handler's changes and its audit event commit together, or not at all.
   */
  async #audited<T>(
    ch: ChannelContext,
    action: string,
    step: (typeof OnboardingStep)[keyof typeof OnboardingStep] | undefined,
    fn: (h: { r: NetworkRepositories; setSerial: (s: string | undefined) => void }) => Promise<T>,
    opts: { transactional?: boolean; recordSuccess?: boolean; outcome?: (r: T) => 'ok' | 'error'; detail?: (r: T) => Record<string, string | number | boolean | null> } = {},
  ): Promise<T> {
    let serial: string | undefined;
    const setSerial = (s: string | undefined) => (serial = s);
    const run = async (r: NetworkRepositories) => {
      const result = await fn({ r, setSerial });
      if (serial !== undefined) ch.identified?.(serial);
      if (opts.recordSuccess !== false) {
        await this.inventory.record({ serial: serial ?? null, ...(step ? { step } : {}), action, outcome: opts.outcome?.(result) ?? 'ok', ...(opts.detail ? { detail: opts.detail(result) } : {}) }, this.ctx.clock.now(), r);
      }
      return result;
    };
    try {
      return opts.transactional ? await this.store.transaction(run) : await this.store.run(run);
    } catch (e) {
      const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
      // Refusals before a device is known (serial null) say who asked, and with what certificate.
      const cert = ch.clientCert;
      const detail = { peer: ch.peer, ...(cert ? { subject: cert.subject, issuer: cert.issuer, certificate: cert.serial } : {}) };
      await this.inventory.record({ serial: serial ?? null, action, outcome: 'refused', code, detail }, this.ctx.clock.now());
      throw e;
    }
  }
}
