/**
 * The device agent: what runs on the IoT device. It onboards itself with no human input
 * (RFC 8995 pledge, RFC 7030 EST client), recording each NIST IR 8350 Figure 9 step it
 * performs, keeps its credentials in its secure store, and can be factory-reset.
 *
 * It keeps only credentials that are live: what it receives is committed to the secure store
 * only once the registrar has accepted it (onboarding: the enrollment status was answered 2xx;
 * renewal: the new LDevID verified), and until then the store holds exactly what it held.
 */
import { AirlockError, ensure } from '../../core/errors.js';
import { equalBytes, fromBase64, fromUtf8, toBase64, toPem, utf8 } from '../../core/bytes.js';
import { SecureStoreEntry, type AppBootstrap, type BirthCredentials, type OnboardingCredentials } from '../../core/credentials.js';
import { OnboardingStep, stepName, type OnboardingStepNumber } from '../../core/onboarding-steps.js';
import { partyIdFromSpki } from '../../core/party.js';
import type { SecureStore } from '../../core/ports.js';
import { exportPkcs8, generateP256Key, importPkcs8, type NodePrivateKey } from '../../adapters/crypto/node-crypto.js';
import { PeerConnection, type ConnectionOptions } from '../../adapters/http/connection.js';
import { Oid } from '../../protocols/x509/oids.js';
import { parseCertificate, parseCertificateBase64, type Certificate } from '../../protocols/x509/certificate.js';
import { verifyChain } from '../../protocols/x509/chain.js';
import { signPledgeVoucherRequest } from '../../protocols/voucher/pledge-voucher-request.js';
import { verifyVoucher, type VoucherPolicy } from '../../protocols/voucher/voucher.js';
import { VOUCHER_JWS_MEDIA_TYPE } from '../../protocols/voucher/schema.js';
import { assertNotStale, mayOnboard, verifyDeclarationChain } from '../../protocols/declaration/verify.js';
import { CHANNEL_BINDING_LABEL, CHANNEL_BINDING_LENGTH, signVoucherStatus } from '../../protocols/brski/status.js';
import { decodeCertsOnly } from '../../protocols/est/certs-only.js';
import { AppBootstrapReply, DeclarationReply, WifiReply, parseJson } from '../../protocols/airlock/messages.js';
import { buildCsr } from '../../protocols/est/csr.js';
import type { RoleContext } from '../shared/context.js';
import { deviceDefaults, type DeviceConfig } from './defaults.js';

export interface JournalEntry {
  step: OnboardingStepNumber;
  name: string;
  at: string;
}

export interface OnboardingReport {
  serialNumber: string;
  networkOwner: { id: string; name: string };
  ldevidSerial: string;
  ssid: string;
  steps: JournalEntry[];
}

/** Settings of one agent: `deviceDefaults`, with any key overridden. */
export interface DeviceAgentOptions {
  requireRegistrarRa?: boolean;
  connection?: Partial<DeviceConfig['connection']>;
  /** What the pledge requires of a voucher (minimum assertion, clock skew); defaults: defaultVoucherPolicy. */
  voucherPolicy?: Partial<VoucherPolicy>;
}

export class DeviceAgent {
  readonly config: DeviceConfig;

  constructor(
    readonly store: SecureStore,
    private readonly ctx: RoleContext,
    opts: DeviceAgentOptions = {},
  ) {
    this.config = {
      requireRegistrarRa: opts.requireRegistrarRa ?? deviceDefaults.requireRegistrarRa,
      connection: { ...deviceDefaults.connection, ...opts.connection },
    };
    this.voucherPolicy = opts.voucherPolicy ?? {};
    if (!this.config.requireRegistrarRa) ctx.logger.warn('requireRegistrarRa is off: any certificate of the pinned domain is accepted as its registrar');
  }

  /** What the pledge requires of a voucher (minimum assertion, clock skew); defaults: defaultVoucherPolicy. */
  private readonly voucherPolicy: Partial<VoucherPolicy>;

  async birth(): Promise<BirthCredentials> {
    return this.#readJson<BirthCredentials>(SecureStoreEntry.birth, 'the device has no birth credentials');
  }

  async onboardingCredentials(): Promise<OnboardingCredentials | undefined> {
    return (await this.store.read(SecureStoreEntry.onboarding)) ? this.#readJson<OnboardingCredentials>(SecureStoreEntry.onboarding, '') : undefined;
  }

  /** Report section 6 (device manager): erase everything but the birth credentials. */
  async factoryReset(): Promise<void> {
    for (const name of await this.store.names()) if (name !== SecureStoreEntry.birth) await this.store.erase(name);
  }

  /**
   * Onboards to the registrar at `registrarUrl`. The credentials are checked (they name this
   * device and the key made here), reported to the registrar (enrollment status), and stored
   * only once the registrar has accepted that report: a device whose credentials were already
   * superseded (another copy of it onboarded meanwhile) keeps what it had before.
   */
  async onboard(registrarUrl: string): Promise<OnboardingReport> {
    const { crypto, clock } = this.ctx;
    const birth = await this.birth();
    const idevid = parseCertificateBase64(birth.idevidChain[0]!);
    const manufacturerId = partyIdFromSpki(crypto, parseCertificateBase64(birth.manufacturerAnchor).spki);
    const masaAnchors = [parseCertificateBase64(birth.masaAnchor)];
    const declarationAnchors = [parseCertificateBase64(birth.declarationAnchor)];
    const idevidPkcs8 = fromBase64(birth.idevidKey);
    if (!idevidPkcs8) throw new AirlockError('ERR_SECURE_STORE', 'the birth key is corrupt');
    const idevidKey = importPkcs8(idevidPkcs8);
    const journal: JournalEntry[] = [];
    const done = (step: OnboardingStepNumber) => journal.push({ step, name: stepName[step], at: clock.now().toISOString() });

    // Step 2: onboarding mode. The connection is provisional until step 9 (RFC 8995 section 5.1).
    const conn = await PeerConnection.open(registrarUrl, {
      ...this.#limits(),
      cert: birth.idevidChain.map((c) => toPem('CERTIFICATE', fromBase64(c)!)).join(''),
      key: toPem('PRIVATE KEY', idevidPkcs8),
    });
    done(OnboardingStep.OnboardingMode);
    try {
      const registrarCert = parseCertificate(conn.peerCertificate());

      // Step 5: trusted introduction, the voucher exchange.
      const nonce = toBase64(crypto.bytes(16));
      const pvr = signPledgeVoucherRequest(crypto, idevidKey, idevid, { serialNumber: birth.serialNumber, nonce, createdOn: clock.now(), proximityRegistrarCert: registrarCert.der });
      const voucherText = (await conn.call('POST', '/.well-known/brski/requestvoucher', { body: pvr, contentType: VOUCHER_JWS_MEDIA_TYPE, accept: VOUCHER_JWS_MEDIA_TYPE })).body;
      const voucher = verifyVoucher(crypto, voucherText, { masaAnchors, serialNumber: birth.serialNumber, nonce, at: clock.now(), idevid, policy: this.voucherPolicy });
      // The pinned domain certificate: the domain CA, or (RFC 8995 section 5.5, a registrar that
      // sent only its own certificate) the registrar certificate itself. It names the network owner.
      const pinned = voucher.pinnedDomainCert;
      done(OnboardingStep.TrustedIntroduction);

      // Step 6: the device information declaration, checked to the manufacturer.
      const { chain } = parseJson((await conn.call('GET', '/.well-known/airlock/declaration')).body, DeclarationReply);
      const declaration = verifyDeclarationChain(crypto, chain, { declarationAnchors, manufacturerId, serialNumber: birth.serialNumber, at: clock.now() });
      assertNotStale(declaration, (await this.onboardingCredentials())?.declaration.sequence);
      done(OnboardingStep.DeclarationDelivered);

      // Step 7: prove, bound to this channel, that this device received this voucher.
      const binding = conn.exportKeyingMaterial(CHANNEL_BINDING_LENGTH, CHANNEL_BINDING_LABEL);
      const status = signVoucherStatus(crypto, idevidKey, idevid, { ok: true, reason: 'voucher accepted', nonce, channelBinding: binding });
      await conn.call('POST', '/.well-known/brski/voucher_status', { body: status, contentType: 'application/jose' });
      done(OnboardingStep.DeviceAuthenticated);

      // Step 9: authenticate the network, and check its owner may onboard this device.
      authenticateNetwork(this.ctx, registrarCert, pinned, { requireRa: this.config.requireRegistrarRa });
      const networkOwnerId = partyIdFromSpki(crypto, pinned.spki);
      if (!mayOnboard(declaration.latest, networkOwnerId)) throw new AirlockError('ERR_NETWORK_NOT_AUTHORIZED', `serial ${birth.serialNumber}`);
      const ownerName = declaration.latest.owner.id === networkOwnerId ? declaration.latest.owner.name
        : declaration.latest['authorized-onboarders'].find((p) => p.id === networkOwnerId)!.name;
      done(OnboardingStep.NetworkAuthenticated);

      // Step 10: the TLS channel is now authenticated both ways; nothing else is trusted.
      done(OnboardingStep.SecureChannel);

      // Step 14: application-layer bootstrapping information.
      const app: AppBootstrap = parseJson((await conn.call('POST', '/.well-known/airlock/app-bootstrap', {
        body: JSON.stringify({ 'application-url': birth.application?.url ?? null }),
        contentType: 'application/json',
      })).body, AppBootstrapReply);
      done(OnboardingStep.AppBootstrap);

      // Step 15: onboarding credentials. An LDevID for a key made here, and a Wi-Fi PSK.
      const cacerts = decodeCertsOnly((await conn.call('GET', '/.well-known/est/cacerts')).body);
      const domainCa = estDomainCa(this.ctx, cacerts, pinned);
      const key = generateP256Key();
      const csrDer = buildCsr(crypto, key, birth.serialNumber);
      const issued = decodeCertsOnly((await conn.call('POST', '/.well-known/est/simpleenroll', { body: toBase64(csrDer), contentType: 'application/pkcs10' })).body);
      const ldevid = acceptLdevid(this.ctx, issued, { domainCa, key, serialNumber: birth.serialNumber });
      const wifi = parseJson((await conn.call('POST', '/.well-known/airlock/wifi')).body, WifiReply);

      const credentials: OnboardingCredentials = {
        networkOwner: { id: networkOwnerId, name: ownerName },
        domainCa: toBase64(domainCa.der),
        ldevid: toBase64(ldevid.der),
        ldevidChain: [toBase64(domainCa.der)],
        ldevidKey: toBase64(exportPkcs8(key)),
        wifi: { ssid: wifi.ssid, psk: wifi.psk },
        app,
        declaration: { sequence: declaration.latest.sequence, hash: declaration.latestHash },
        onboardedAt: clock.now().toISOString(),
      };
      // The registrar accepts the credentials only while they are current (a later onboarding of
      // this serial number revokes them): nothing is stored unless it does.
      await conn.call('POST', '/.well-known/brski/enrollstatus', {
        body: JSON.stringify({ version: 1, status: true, reason: 'credentials installed' }),
        contentType: 'application/json',
      });
      // Should this write fail, the device keeps its previous (now superseded) credentials and
      // must onboard again: the reverse, keeping credentials the registrar refused, is not possible.
      await this.store.write(SecureStoreEntry.onboarding, utf8(JSON.stringify(credentials)));
      done(OnboardingStep.Provisioning);
      return { serialNumber: birth.serialNumber, networkOwner: credentials.networkOwner, ldevidSerial: ldevid.serial, ssid: wifi.ssid, steps: journal };
    } finally {
      await conn.close();
    }
  }

  /**
   * Credential renewal (RFC 7030 section 4.2.2): a new key and LDevID, authenticated by the
   * current LDevID over TLS that is validated against the domain CA from the start, with a
   * registrar (RA) certificate. The new LDevID is stored only once it is verified: it chains
   * to the domain CA, names this device and holds the key made here.
   */
  async renew(registrarUrl: string): Promise<{ ldevidSerial: string; previousSerial: string }> {
    const { crypto } = this.ctx;
    const current = await this.onboardingCredentials();
    if (!current) throw new AirlockError('ERR_DEVICE_NOT_ONBOARDED');
    const { serialNumber } = await this.birth();
    const domainCa = parseCertificateBase64(current.domainCa);
    const previous = parseCertificateBase64(current.ldevid);
    const conn = await PeerConnection.open(registrarUrl, {
      ...this.#limits(),
      cert: toPem('CERTIFICATE', previous.der),
      key: toPem('PRIVATE KEY', fromBase64(current.ldevidKey)!),
      ca: toPem('CERTIFICATE', domainCa.der),
    });
    try {
      // TLS checked the chain to the domain CA; the certificate must also be a registrar's.
      authenticateNetwork(this.ctx, parseCertificate(conn.peerCertificate()), domainCa, { requireRa: this.config.requireRegistrarRa });
      const key = generateP256Key();
      const issued = decodeCertsOnly((await conn.call('POST', '/.well-known/est/simplereenroll', { body: toBase64(buildCsr(crypto, key, serialNumber)), contentType: 'application/pkcs10' })).body);
      const ldevid = acceptLdevid(this.ctx, issued, { domainCa, key, serialNumber });
      const renewed: OnboardingCredentials = { ...current, ldevid: toBase64(ldevid.der), ldevidKey: toBase64(exportPkcs8(key)) };
      await this.store.write(SecureStoreEntry.onboarding, utf8(JSON.stringify(renewed)));
      return { ldevidSerial: ldevid.serial, previousSerial: previous.serial };
    } finally {
      await conn.close();
    }
  }

  #limits(): Pick<ConnectionOptions, 'handshakeTimeoutMs' | 'requestTimeoutMs' | 'maxResponseBytes'> {
    return { ...this.config.connection };
  }

  async #readJson<T>(name: string, missing: string): Promise<T> {
    const raw = await this.store.read(name);
    if (!raw) throw new AirlockError('ERR_SECURE_STORE', missing);
    try {
      return JSON.parse(fromUtf8(raw)) as T;
    } catch (cause) {
      throw new AirlockError('ERR_SECURE_STORE', `${name} is corrupt`, { cause });
    }
  }
}

/** The one certificate of an EST certs-only answer. */
function issuedCertificate(certs: Uint8Array[]): Certificate {
  if (certs.length !== 1) throw new AirlockError('ERR_CERT_MALFORMED', `expected one certificate, got ${certs.length}`);
  return parseCertificate(certs[0]!);
}

/**
 * Step 15: the CA that issues LDevIDs, from EST cacerts (RFC 7030 section 4.1), over the channel
 * already authenticated to the pinned certificate: the pinned domain CA itself, or, when the
 * voucher pinned the registrar's own certificate, the CA among cacerts that issued it.
 */
export function estDomainCa(ctx: RoleContext, cacerts: readonly Uint8Array[], pinned: Certificate): Certificate {
  if (pinned.isCa) {
    ensure(cacerts.some((c) => equalBytes(c, pinned.der)), 'ERR_NETWORK_UNTRUSTED', 'the EST CA is not the pinned domain CA');
    return pinned;
  }
  for (const der of cacerts) {
    const ca = parseCertificate(der);
    if (!ca.isCa || !equalBytes(ca.subjectDer, pinned.issuerDer)) continue;
    try {
      verifyChain(ctx.crypto, { leaf: pinned, anchors: [ca], at: ctx.clock.now() });
      return ca;
    } catch {
      // another CA of that name; keep looking
    }
  }
  throw new AirlockError('ERR_NETWORK_UNTRUSTED', 'no EST CA issued the pinned registrar certificate');
}

/**
 * Step 15: the LDevID the registrar issued is accepted only if it chains to the pinned domain
 * CA, names this device (subject serialNumber, IEEE 802.1AR) and certifies the key made here.
 * A registrar that relays the request elsewhere gets back a certificate naming someone else.
 */
export function acceptLdevid(ctx: RoleContext, issued: Uint8Array[], expected: { domainCa: Certificate; key: NodePrivateKey; serialNumber: string }): Certificate {
  const ldevid = issuedCertificate(issued);
  verifyChain(ctx.crypto, { leaf: ldevid, anchors: [expected.domainCa], at: ctx.clock.now() });
  ensure(equalBytes(ldevid.spki, expected.key.spki), 'ERR_NETWORK_LDEVID_MISMATCH', 'the LDevID is for another key');
  ensure(ldevid.subjectSerialNumber === expected.serialNumber, 'ERR_NETWORK_LDEVID_MISMATCH', 'the LDevID names another device');
  return ldevid;
}

/**
 * Step 9 (RFC 8995 sections 2.3.2 and 5.6.2): the provisional server certificate chains to the
 * pinned domain CA and, unless `requireRa` is off, is a registrar certificate (id-kp-cmcRA):
 * every LDevID of the domain chains to the same CA, and none of them may act as the registrar.
 */
export function authenticateNetwork(ctx: RoleContext, registrarCert: Certificate, pinnedDomainCa: Certificate, opts: { requireRa: boolean } = { requireRa: true }): void {
  try {
    verifyChain(ctx.crypto, { leaf: registrarCert, anchors: [pinnedDomainCa], at: ctx.clock.now() });
  } catch (cause) {
    throw new AirlockError('ERR_NETWORK_UNTRUSTED', undefined, { cause });
  }
  if (opts.requireRa) ensure(registrarCert.extendedKeyUsage?.includes(Oid.cmcRA), 'ERR_NETWORK_NOT_REGISTRAR', 'the registrar certificate lacks id-kp-cmcRA');
}
