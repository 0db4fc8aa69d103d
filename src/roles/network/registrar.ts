/**
 * The registrar (RFC 8995 with RFC 7030 EST): the network onboarding component of NIST IR
 * 8350. Each handler is one step of Figure 9 and records it in the device's audit trail.
 * State lives in the database only, so several registrars can share one.
 */
import type { Kysely } from 'kysely';
import { AirlockError, ensure, isAirlockError } from '../../core/errors.js';
import { equalBytes, toPem } from '../../core/bytes.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import type { AppBootstrap } from '../../core/credentials.js';
import type { NetworkDb } from '../../adapters/store/schema.js';
import type { MasaClient } from '../../adapters/http/masa-client.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import { verifyPledgeVoucherRequest } from '../../protocols/voucher/pledge-voucher-request.js';
import { signRegistrarVoucherRequest } from '../../protocols/voucher/registrar-voucher-request.js';
import { verifyVoucher } from '../../protocols/voucher/voucher.js';
import { CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH, StatusTelemetry, verifyVoucherStatus } from '../../protocols/brski/status.js';
import { decodeCsrBody, verifyCsr } from '../../protocols/est/csr.js';
import { domainIdOf, otherDomains } from '../../protocols/brski/audit-log.js';
import type { RoleContext } from '../shared/context.js';
import type { CredentialIssuer } from './credentials.js';
import type { NetworkDeclarations } from './declarations.js';
import type { Inventory } from './inventory.js';
import type { TrustedManufacturers } from './manufacturers.js';
import type { ManufacturerTrust } from '../shared/trust.js';
import type { NetworkPki } from './pki.js';
import type { NetworkConfig } from './defaults.js';

/** What a handler knows of the request's connection. */
export interface ChannelContext {
  clientCert: Certificate | undefined;
  exporter(label: string, length: number): Uint8Array;
  peer: string;
}

export class Registrar {
  constructor(
    private readonly ctx: RoleContext,
    private readonly db: Kysely<NetworkDb>,
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

  /**
   * Steps 2 and 5: the device, in onboarding mode, asks for a voucher. The registrar checks
   * the birth certificate against the manufacturers it trusts before it contacts any MASA.
   */
  async requestVoucher(ch: ChannelContext, pledgeVoucherRequest: string): Promise<string> {
    const started = this.ctx.clock.now();
    return this.#audited(ch, 'requestvoucher', OnboardingStep.TrustedIntroduction, async ({ setSerial }) => {
      const { idevid, manufacturer } = this.#birthCertificate(ch);
      setSerial(idevid.subjectSerialNumber);
      const pvr = verifyPledgeVoucherRequest(this.ctx.crypto, pledgeVoucherRequest, { tlsClientCert: idevid, registrarCert: this.pki.registrar.cert });
      ensure(idevid.masaUrl, 'ERR_IDEVID_INVALID', 'the birth certificate names no MASA');
      // Serial numbers are unique per manufacturer only: a record belongs to one birth certificate.
      const known = await this.db.selectFrom('net_devices').select('idevid_der').where('serial', '=', pvr.serialNumber).executeTakeFirst();
      ensure(!known || equalBytes(new Uint8Array(known.idevid_der), idevid.der), 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
      const rvr = signRegistrarVoucherRequest(this.ctx.crypto, this.pki.registrar.key, { registrarCert: this.pki.registrar.cert, domainCa: this.pki.domainCa.cert }, pvr, this.ctx.clock.now());
      const voucher = await this.masa.requestVoucher(idevid.masaUrl, rvr);
      // What the device will check, checked here first: it records nothing it would refuse.
      const v = verifyVoucher(this.ctx.crypto, voucher, { masaAnchors: [manufacturer.masaCa], serialNumber: pvr.serialNumber, nonce: pvr.nonce, at: this.ctx.clock.now() });
      ensure(equalBytes(v.pinnedDomainCert.der, this.pki.domainCa.cert.der), 'ERR_MASA_REFUSED', 'the voucher pins another domain');
      const at = this.ctx.clock.now();
      await this.db.transaction().execute(async (trx) => {
        const values = { idevid_der: idevid.der, manufacturer: idevid.issuer, state: 'vouched' as const, nonce: pvr.nonce, voucher_at: at.toISOString(), authenticated_at: null, updated_at: at.toISOString() };
        const written = await trx.insertInto('net_devices').values({ serial: pvr.serialNumber, ...values, onboarded_at: null, ldevid_serial: null, psk_id: null, onboardings: 0 })
          .onConflict((oc) => oc.column('serial').doUpdateSet(values).where('net_devices.idevid_der', '=', idevid.der)).executeTakeFirst();
        ensure(written.numInsertedOrUpdatedRows === 1n, 'ERR_IDEVID_MISMATCH', 'another device holds this serial number here');
        await this.inventory.record([
          { serial: pvr.serialNumber, step: OnboardingStep.OnboardingMode, action: 'onboarding mode: device contacted the registrar', outcome: 'ok', detail: { peer: ch.peer, since: started.toISOString() } },
          { serial: pvr.serialNumber, step: OnboardingStep.TrustedIntroduction, action: 'voucher issued by the MASA and delivered', outcome: 'ok' },
        ], at, trx);
      });
      await this.#recordMasaAuditLog(idevid.masaUrl, rvr, pvr.serialNumber);
      return voucher;
    }, { recordSuccess: false });
  }

  /** Step 6: the device information declaration, installed or fetched in real time. */
  async declaration(ch: ChannelContext): Promise<string[]> {
    return this.#audited(ch, 'declaration', OnboardingStep.DeclarationDelivered, async ({ db, setSerial }) => {
      const device = await this.#session(db, ch, ['vouched', 'authenticated', 'provisioned'], setSerial);
      return this.declarations.chainFor(device.serial, device.idevid.masaUrl, this.manufacturers.ofVerifiedBirthCertificate(device.idevid));
    });
  }

  /**
   * Step 7: the device proves, with its IDevID key, that it is the party on this TLS channel
   * that received this voucher (RFC 8995 section 5.7 status, signed and channel-bound).
   * A status that reports a rejected voucher is recorded, and authenticates nothing.
   */
  async voucherStatus(ch: ChannelContext, signedStatus: string): Promise<{ authenticated: boolean }> {
    return this.#audited(ch, 'voucher_status', OnboardingStep.DeviceAuthenticated, async ({ db, setSerial }) => {
      const device = await this.#session(db, ch, ['vouched'], setSerial);
      const status = verifyVoucherStatus(this.ctx.crypto, signedStatus, {
        tlsClientCert: device.idevid,
        nonce: device.nonce!,
        channelBinding: ch.exporter(CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH),
      });
      const at = this.ctx.clock.now().toISOString();
      await db.updateTable('net_devices').set(status.status ? { state: 'authenticated', authenticated_at: at, updated_at: at } : { state: 'failed', updated_at: at }).where('serial', '=', device.serial).execute();
      return { authenticated: status.status };
    }, { transactional: true, detail: (r) => ({ authenticated: r.authenticated }) });
  }

  /** Step 14: application-layer bootstrapping information, in exchange for the device's. */
  async appBootstrap(ch: ChannelContext, deviceInfo: unknown): Promise<AppBootstrap> {
    return this.#audited(ch, 'app-bootstrap', OnboardingStep.AppBootstrap, async ({ db, setSerial }) => {
      await this.#session(db, ch, ['authenticated', 'provisioned'], setSerial);
      ensure(typeof deviceInfo === 'object' && deviceInfo !== null && !Array.isArray(deviceInfo), 'ERR_INPUT_SCHEMA', 'expected a JSON object');
      return { applicationUrl: this.config.applicationUrl, trustAnchor: this.#appTrustAnchor };
    });
  }

  /** Step 15, RFC 7030 section 4.2.1: an LDevID for a key the device generated itself. */
  async simpleEnroll(ch: ChannelContext, body: string): Promise<Certificate> {
    return this.#audited(ch, 'simpleenroll', OnboardingStep.Provisioning, async ({ db, setSerial }) => {
      const device = await this.#session(db, ch, ['authenticated', 'provisioned'], setSerial);
      const csr = verifyCsr(this.ctx.crypto, decodeCsrBody(body));
      ensure(!equalBytes(csr.spki, device.idevid.spki), 'ERR_CSR_KEY', 'the LDevID key must not be the IDevID key');
      const cert = this.credentials.signLdevid(device.serial, csr.spki);
      await this.credentials.recordLdevid(db, device.serial, cert);
      await db.updateTable('net_devices').set({ state: 'provisioned', ldevid_serial: cert.serial, updated_at: this.ctx.clock.now().toISOString() }).where('serial', '=', device.serial).execute();
      return cert;
    }, { transactional: true, detail: (c) => ({ ldevid: c.serial }) });
  }

  /** RFC 7030 section 4.2.2: renewal, authenticated by the current LDevID. */
  async simpleReenroll(ch: ChannelContext, body: string): Promise<Certificate> {
    return this.#audited(ch, 'simplereenroll', undefined, async ({ db, setSerial }) => {
      const current = ch.clientCert;
      ensure(current, 'ERR_IDEVID_MISSING', 'renewal needs the current LDevID');
      verifyChain(this.ctx.crypto, { leaf: current, anchors: [this.pki.domainCa.cert], at: this.ctx.clock.now() });
      const holder = await this.credentials.isCurrent(current.serial, db);
      ensure(holder, 'ERR_CERT_REVOKED', 'the LDevID is not current');
      setSerial(holder.device);
      const csr = verifyCsr(this.ctx.crypto, decodeCsrBody(body));
      const cert = this.credentials.signLdevid(holder.device, csr.spki);
      await this.credentials.recordLdevid(db, holder.device, cert);
      await db.updateTable('net_devices').set({ ldevid_serial: cert.serial, updated_at: this.ctx.clock.now().toISOString() }).where('serial', '=', holder.device).execute();
      return cert;
    }, { transactional: true, detail: (c) => ({ ldevid: c.serial }) });
  }

  /** Step 15: the SSID and a unique per-device PSK. */
  async wifiCredentials(ch: ChannelContext): Promise<{ ssid: string; psk: string }> {
    const issued = await this.#audited(ch, 'wifi', OnboardingStep.Provisioning, async ({ db, setSerial }) => {
      const device = await this.#session(db, ch, ['authenticated', 'provisioned'], setSerial);
      const p = await this.credentials.newPsk(db, device.serial);
      await db.updateTable('net_devices').set({ psk_id: p.id, updated_at: this.ctx.clock.now().toISOString() }).where('serial', '=', device.serial).execute();
      return p;
    }, { transactional: true, detail: (p) => ({ psk: p.id }) });
    return { ssid: this.config.ssid, psk: issued.psk };
  }

  /** RFC 8995 section 5.9.4: the device reports whether it could use what it received. */
  async enrollStatus(ch: ChannelContext, json: unknown): Promise<void> {
    return this.#audited(ch, 'enrollstatus', undefined, async ({ db, setSerial }) => {
      const device = await this.#session(db, ch, ['provisioned'], setSerial);
      const parsed = StatusTelemetry.safeParse(json);
      if (!parsed.success) throw new AirlockError('ERR_INPUT_SCHEMA', parsed.error.issues[0]?.message);
      const at = this.ctx.clock.now().toISOString();
      const update = parsed.data.status
        ? { state: 'onboarded' as const, onboarded_at: at, onboardings: device.onboardings + 1, nonce: null, updated_at: at }
        : { state: 'failed' as const, updated_at: at };
      await db.updateTable('net_devices').set(update).where('serial', '=', device.serial).execute();
    }, { transactional: true });
  }

  /**
   * RFC 8995 section 5.8.3: after a voucher, the MASA's audit log of the device, into its audit
   * trail; every other domain that claimed the device is a warning. Informational: a MASA
   * without the log, or one that fails, is recorded and does not stop the onboarding.
   */
  async #recordMasaAuditLog(masaUrl: string, rvr: string, serial: string): Promise<void> {
    if (!this.masa.requestAuditLog) return;
    const step = OnboardingStep.TrustedIntroduction;
    try {
      const log = await this.masa.requestAuditLog(masaUrl, rvr);
      const own = domainIdOf(this.ctx.crypto, this.pki.domainCa.cert);
      const others = otherDomains(log, own);
      await this.inventory.record([
        { serial, step, action: 'masa audit log', outcome: 'ok', detail: { vouchers: log.events.length, otherDomains: others.length, truncated: JSON.stringify(log.truncation ?? {}) } },
        ...others.map((d) => ({ serial, step, action: 'masa audit log: the device was claimed by another domain', outcome: 'warning' as const, detail: { domainID: d.domainID, lastClaimed: d.lastClaimed, vouchers: d.vouchers } })),
      ], this.ctx.clock.now());
    } catch (e) {
      await this.inventory.record({ serial, step, action: 'masa audit log', outcome: 'error', code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' }, this.ctx.clock.now());
    }
  }

  /** The birth certificate on the channel, from a manufacturer this network trusts. */
  #birthCertificate(ch: ChannelContext): { idevid: Certificate; manufacturer: ManufacturerTrust } {
    const idevid = ch.clientCert;
    if (!idevid) throw new AirlockError('ERR_IDEVID_MISSING');
    const manufacturer = this.manufacturers.ofBirthCertificate(idevid, this.ctx.clock.now());
    ensure(idevid.subjectSerialNumber, 'ERR_IDEVID_INVALID', 'the birth certificate has no serialNumber');
    return { idevid, manufacturer };
  }

  /** The device's onboarding session: same birth certificate, and in one of `states`. */
  async #session(db: Kysely<NetworkDb>, ch: ChannelContext, states: readonly string[], setSerial: (s: string | undefined) => void) {
    const idevid = ch.clientCert;
    if (!idevid) throw new AirlockError('ERR_IDEVID_MISSING');
    setSerial(idevid.subjectSerialNumber);
    const row = idevid.subjectSerialNumber === undefined ? undefined
      : await db.selectFrom('net_devices').select(['serial', 'idevid_der', 'state', 'nonce', 'onboardings']).where('serial', '=', idevid.subjectSerialNumber).executeTakeFirst();
    if (!row || !equalBytes(new Uint8Array(row.idevid_der), idevid.der)) throw new AirlockError('ERR_REGISTRAR_SEQUENCE', 'no voucher was issued to this device');
    if (!states.includes(row.state)) throw new AirlockError('ERR_REGISTRAR_SEQUENCE', `the device is ${row.state}`);
    return { serial: row.serial, idevid, nonce: row.nonce, onboardings: row.onboardings };
  }

  /**
   * Runs a handler and records its outcome in the device's audit trail, refusals included.
   * A transactional handler's changes and its audit event commit together, or not at all.
   */
  async #audited<T>(
    ch: ChannelContext,
    action: string,
    step: (typeof OnboardingStep)[keyof typeof OnboardingStep] | undefined,
    fn: (h: { db: Kysely<NetworkDb>; setSerial: (s: string | undefined) => void }) => Promise<T>,
    opts: { transactional?: boolean; recordSuccess?: boolean; detail?: (r: T) => Record<string, string | number | boolean | null> } = {},
  ): Promise<T> {
    let serial: string | undefined;
    const setSerial = (s: string | undefined) => (serial = s);
    const run = async (db: Kysely<NetworkDb>) => {
      const result = await fn({ db, setSerial });
      if (opts.recordSuccess !== false) {
        await this.inventory.record({ serial: serial ?? null, ...(step ? { step } : {}), action, outcome: 'ok', ...(opts.detail ? { detail: opts.detail(result) } : {}) }, this.ctx.clock.now(), db);
      }
      return result;
    };
    try {
      return opts.transactional ? await this.db.transaction().execute(run) : await run(this.db);
    } catch (e) {
      const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
      await this.inventory.record({ serial: serial ?? null, action, outcome: 'refused', code, detail: { peer: ch.peer } }, this.ctx.clock.now());
      throw e;
    }
  }
}
