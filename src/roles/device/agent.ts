/**
 * The device agent: what runs on the IoT device. It onboards itself with no human input
 * (RFC 8995 pledge, RFC 7030 EST client), recording each NIST IR 8350 Figure 9 step it
 * performs, keeps its credentials in its secure store, and can be factory-reset.
 *
 * It keeps only credentials that are live: what it receives is committed to the secure store
 * only once the registrar has accepted it (onboarding: the enrollment status was answered 2xx;
 * renewal: the new LDevID verified), and until then the store holds exactly what it held.
 */
import * as path from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { fromBase64, fromUtf8, utf8 } from '../../core/bytes.js';
import {
  SecureStoreEntry,
  type BirthCredentials,
  type DppConfigurationRecord,
  type OnboardingCredentials,
} from '../../core/credentials.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import type {
  ChannelLimits,
  MeasuredBoot,
  PledgeConnector,
  SecureStore,
} from '../../core/ports.js';
import { tlsPledgeConnector } from '../../adapters/http/tls-pledge-channel.js';
import { writeEapTlsFiles, type EapTlsFiles } from '../../adapters/device/eap-tls-files.js';
import { connectWired, type WiredConnection } from '../../adapters/device/wpa-supplicant.js';
import {
  reportConnection,
  type ConnectionReportOut,
} from '../../onboarding/pledge/connection-report.js';
import type { VoucherPolicy } from '../../protocols/voucher/voucher.js';
import type { PledgeContext } from '../../onboarding/pledge/context.js';
import { Journal, type JournalEntry } from '../../onboarding/pledge/journal.js';
import { openBirthCredentials } from '../../onboarding/pledge/identity.js';
import { openDppBootstrap } from '../../onboarding/pledge/dpp-bootstrap.js';
import {
  enrollByDpp,
  listenForDpp,
  storedDppConfiguration,
  type DppEnrollmentSummary,
} from './dpp-enrollee.js';
import type { DppOwnBootstrap } from '../../protocols/dpp/authentication.js';
import { enterOnboardingMode } from '../../onboarding/pledge/step-02-onboarding-mode.js';
import { evidenceFields, measuredBoot } from '../../onboarding/pledge/step-03-attestation.js';
import { generateEvidence } from '../../onboarding/pledge/step-01-attestation.js';
import {
  serveAttestation,
  type AttestationResponder,
} from '../../adapters/device/attestation-responder.js';
import { trustedIntroduction } from '../../onboarding/pledge/step-05-trusted-introduction.js';
import { receiveDeclaration } from '../../onboarding/pledge/step-06-declaration.js';
import { authenticateDevice } from '../../onboarding/pledge/step-07-device-authentication.js';
import {
  authenticateNetwork,
  authorizeNetworkOwner,
} from '../../onboarding/pledge/step-09-network-authentication.js';
import { establishSecureChannel } from '../../onboarding/pledge/step-10-secure-channel.js';
import { exchangeAppBootstrap } from '../../onboarding/pledge/step-14-app-bootstrap.js';
import {
  provisionCredentials,
  reportEnrollment,
} from '../../onboarding/pledge/step-15-provisioning.js';
import {
  connectForRenewal,
  openCurrentLdevid,
  renewLdevid,
} from '../../onboarding/pledge/renewal.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { deviceDefaults, type DeviceConfig } from './defaults.js';

export type { JournalEntry };

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
  /**
   * How the agent opens its channel to the registrar; default: TLS (tlsPledgeConnector) with
   * the context's key store. Tests and the benchmark may wrap it or pass another channel.
   */
  connector?: PledgeConnector;
  /**
   * Step 1: what measures the firmware the device runs (src/adapters/device/measured-boot.ts).
   * Without it a device with an attestation key does not attest; one that carries its
   * manufacturer's supply-chain evidence presents that.
   */
  measuredBoot?: MeasuredBoot;
  /**
   * Report section 7: where this device will answer re-attestation (`serveAttestation`), an
   * https URL it tells the network in step 14. None: the network cannot ask it again.
   */
  attestationUrl?: string;
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
    this.connect = opts.connector ?? tlsPledgeConnector(keyStoreOf(ctx));
    this.measuredBoot = opts.measuredBoot;
    this.attestationUrl = opts.attestationUrl;
    if (!this.config.requireRegistrarRa)
      ctx.logger.warn(
        'requireRegistrarRa is off: any certificate of the pinned domain is accepted as its registrar',
      );
  }

  /** What the pledge requires of a voucher (minimum assertion, clock skew); defaults: defaultVoucherPolicy. */
  private readonly voucherPolicy: Partial<VoucherPolicy>;
  private readonly connect: PledgeConnector;
  private readonly measuredBoot: MeasuredBoot | undefined;
  private readonly attestationUrl: string | undefined;

  /** The ports the onboarding steps use, as the context holds them now. */
  private get steps(): PledgeContext {
    return { crypto: this.ctx.crypto, clock: this.ctx.clock, keys: keyStoreOf(this.ctx) };
  }

  async birth(): Promise<BirthCredentials> {
    return this.#readJson<BirthCredentials>(
      SecureStoreEntry.birth,
      'the device has no birth credentials',
    );
  }

  /**
   * The device's own DPP bootstrapping key (Wi-Fi Easy Connect, docs/DPP.md), the one its URI
   * carries, from the birth credentials: for an enrollee that initiates with its own key
   * (`own`), or a responder.
   * ERR_DPP_NO_KEY for a device minted before devices got one; ERR_SECURE_STORE when the key
   * does not match its URI. Holds the private scalar: never log it.
   */
  async dppBootstrap(): Promise<DppOwnBootstrap> {
    return openDppBootstrap(this.ctx.crypto, await this.birth()).bootstrap;
  }

  /**
   * The device's DPP URI, what its QR code shows, once checked against the key it holds (a
   * code it could not answer to is never shown). ERR_DPP_NO_KEY when it has none.
   */
  async dppUri(): Promise<string> {
    return openDppBootstrap(this.ctx.crypto, await this.birth()).uri;
  }

  /**
   * Wi-Fi Easy Connect, the device initiating (docs/DPP.md): it scanned the network's URI
   * `uri` and connects to its Configurator (the URI's `H:` host, or `host`), authenticating
   * with its birth DPP key; what it is given is kept in its secure store.
   */
  async enrollByDpp(o: {
    uri: string;
    host?: string;
    port?: number;
  }): Promise<DppEnrollmentSummary> {
    return enrollByDpp(await this.#dppContext(), o);
  }

  /**
   * Wi-Fi Easy Connect, the device listening: a Configurator that scanned its URI connects and
   * configures it; what it is given is kept in its secure store. `onListening` hears the URI to
   * show, with the address it listens on.
   */
  async listenForDpp(o: Parameters<typeof listenForDpp>[1] = {}): Promise<DppEnrollmentSummary> {
    return listenForDpp(await this.#dppContext(), o);
  }

  /** What a DPP Configurator gave the device, as its secure store keeps it (secret). */
  async dppConfiguration(): Promise<DppConfigurationRecord | undefined> {
    return storedDppConfiguration(this.store);
  }

  async #dppContext() {
    const birth = await this.birth();
    return {
      crypto: this.ctx.crypto,
      clock: this.ctx.clock,
      store: this.store,
      bootstrap: openDppBootstrap(this.ctx.crypto, birth).bootstrap,
      name: birth.serialNumber,
    };
  }

  async onboardingCredentials(): Promise<OnboardingCredentials | undefined> {
    return (await this.store.read(SecureStoreEntry.onboarding))
      ? this.#readJson<OnboardingCredentials>(SecureStoreEntry.onboarding, '')
      : undefined;
  }

  /** Report section 6 (device manager): erase everything but the birth credentials. */
  async factoryReset(): Promise<void> {
    for (const name of await this.store.names())
      if (name !== SecureStoreEntry.birth) await this.store.erase(name);
  }

  /**
   * Onboards to the registrar at `registrarUrl`. The credentials are checked (they name this
   * device and the key made here), reported to the registrar (enrollment status), and stored
   * only once the registrar has accepted that report: a device whose credentials were already
   * superseded (another copy of it onboarded meanwhile) keeps what it had before.
   */
  async onboard(registrarUrl: string): Promise<OnboardingReport> {
    const ctx = this.steps;
    const identity = await openBirthCredentials(ctx, await this.birth());
    const journal = new Journal(ctx.clock);
    const measurement = await measuredBoot(identity, this.measuredBoot);
    if (measurement) journal.done(OnboardingStep.AttestationGenerated);

    const channel = await enterOnboardingMode(this.connect, registrarUrl, identity, this.#limits());
    journal.done(OnboardingStep.OnboardingMode);
    try {
      // Steps 3 and 4 ride on step 5: the evidence goes with the voucher request.
      const evidence = evidenceFields(ctx, channel, identity, measurement);
      const introduction = await trustedIntroduction(
        ctx,
        channel,
        identity,
        this.voucherPolicy,
        evidence,
      );
      if (introduction.attestation !== undefined) journal.done(OnboardingStep.AttestationSent);
      journal.done(OnboardingStep.TrustedIntroduction);

      const declaration = await receiveDeclaration(
        ctx,
        channel,
        identity,
        async () => (await this.onboardingCredentials())?.declaration.sequence,
      );
      journal.done(OnboardingStep.DeclarationDelivered);

      const device = await authenticateDevice(ctx, channel, identity, introduction);
      journal.done(OnboardingStep.DeviceAuthenticated);

      authenticateNetwork(ctx, introduction.registrarCert, introduction.pinned, {
        requireRa: this.config.requireRegistrarRa,
      });
      const networkOwner = authorizeNetworkOwner(
        ctx,
        introduction.pinned,
        declaration,
        identity.serialNumber,
      );
      journal.done(OnboardingStep.NetworkAuthenticated);

      const secure = establishSecureChannel(channel, { device, network: networkOwner });
      journal.done(OnboardingStep.SecureChannel);

      const app = await exchangeAppBootstrap(secure, identity, this.attestationUrl);
      journal.done(OnboardingStep.AppBootstrap);

      // Step 11: the MUD URL the manufacturer certified, asked for again in the CSR (RFC 8520 section 10).
      const mudUrl = identity.idevid.mudUrl;
      const { credentials, ldevid } = await provisionCredentials(ctx, secure, {
        serialNumber: identity.serialNumber,
        ...(mudUrl ? { mudUrl } : {}),
        pinned: introduction.pinned,
        networkOwner,
        declaration,
        app,
      });
      await reportEnrollment(secure);
      // Only now, the registrar having accepted them. Should this write fail, the device keeps its
      // previous (now superseded) credentials and must onboard again: the reverse, keeping
      // credentials the registrar refused, is not possible.
      await this.store.write(SecureStoreEntry.onboarding, utf8(JSON.stringify(credentials)));
      journal.done(OnboardingStep.Provisioning);
      return {
        serialNumber: identity.serialNumber,
        networkOwner: credentials.networkOwner,
        ldevidSerial: ldevid.serial,
        ssid: credentials.wifi.ssid,
        steps: journal.entries,
      };
    } finally {
      await channel.close();
    }
  }

  /**
   * Credential renewal (RFC 7030 section 4.2.2): a new key and LDevID, authenticated by the
   * current LDevID over TLS that is validated against the domain CA from the start, with a
   * registrar (RA) certificate. The new LDevID is stored only once it is verified: it chains
   * to the domain CA, names this device and holds the key made here.
   */
  async renew(registrarUrl: string): Promise<{ ldevidSerial: string; previousSerial: string }> {
    const credentials = await this.onboardingCredentials();
    if (!credentials) throw new AirlockError('ERR_DEVICE_NOT_ONBOARDED');
    const { serialNumber } = await this.birth();
    const current = await openCurrentLdevid(this.steps, credentials);
    const channel = await connectForRenewal(this.connect, registrarUrl, current, this.#limits());
    try {
      const renewed = await renewLdevid(this.steps, channel, {
        credentials,
        current,
        serialNumber,
        requireRa: this.config.requireRegistrarRa,
      });
      await this.store.write(
        SecureStoreEntry.onboarding,
        utf8(JSON.stringify(renewed.credentials)),
      );
      return { ldevidSerial: renewed.ldevid.serial, previousSerial: current.ldevid.serial };
    } finally {
      await channel.close();
    }
  }

  /**
   * Report section 7: answers the network's re-attestation requests, presenting the LDevID
   * received at onboarding and accepting only a registrar of the same domain. Each request is
   * measured afresh (step 1) and signed for the network's nonce.
   */
  async serveAttestation(
    opts: { host?: string; port?: number } = {},
  ): Promise<AttestationResponder> {
    const credentials = await this.onboardingCredentials();
    if (!credentials) throw new AirlockError('ERR_DEVICE_NOT_ONBOARDED');
    const ctx = this.steps;
    const identity = await openBirthCredentials(ctx, await this.birth());
    return serveAttestation({
      crypto: ctx.crypto,
      now: () => ctx.clock.now(),
      ldevidChain: [der(credentials.ldevid), ...credentials.ldevidChain.map(der)],
      ldevidKeyPkcs8: der(credentials.ldevidKey),
      domainCa: der(credentials.domainCa),
      evidence: async (nonce) =>
        generateEvidence(ctx, identity, await measuredBoot(identity, this.measuredBoot), nonce),
      ...opts,
    });
  }

  /**
   * The device's 802.1X credentials for its supplicant (report section 5.3), written from its
   * secure store into `dir` (0700; each file 0600): EAP-TLS with its LDevID, as its serial number.
   */
  async eapTlsFiles(dir: string): Promise<EapTlsFiles> {
    const credentials = await this.onboardingCredentials();
    if (!credentials) throw new AirlockError('ERR_DEVICE_NOT_ONBOARDED');
    return writeEapTlsFiles(dir, {
      identity: (await this.birth()).serialNumber,
      chain: [der(credentials.ldevid), ...credentials.ldevidChain.map(der)],
      keyPkcs8: der(credentials.ldevidKey),
      domainCa: der(credentials.domainCa),
    });
  }

  /**
   * Report section 5.3: the diagnostic report after connecting, to the registrar at
   * `registrarUrl`, over a channel the current LDevID authenticates (as for renewal).
   */
  async reportConnection(registrarUrl: string, report: ConnectionReportOut): Promise<void> {
    const credentials = await this.onboardingCredentials();
    if (!credentials) throw new AirlockError('ERR_DEVICE_NOT_ONBOARDED');
    const current = await openCurrentLdevid(this.steps, credentials);
    const channel = await connectForRenewal(this.connect, registrarUrl, current, this.#limits());
    try {
      await reportConnection(channel, report);
    } finally {
      await channel.close();
    }
  }

  /**
   * Report section 5.3: the device joins the network with what onboarding delivered, 802.1X on
   * a wired port (wpa_supplicant, EAP-TLS with its LDevID, its files written 0600 under `dir`),
   * and resolves once the port is authorized. ERR_NETWORK_ACCESS_REFUSED when the network
   * refuses it.
   */
  async connectWired(o: {
    interface: string;
    dir: string;
    netns?: string;
    timeoutMs?: number;
  }): Promise<WiredConnection> {
    const files = await this.eapTlsFiles(path.join(o.dir, 'credentials'));
    return connectWired({
      interface: o.interface,
      dir: path.join(o.dir, 'supplicant'),
      files,
      ...(o.netns !== undefined ? { netns: o.netns } : {}),
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    });
  }

  #limits(): ChannelLimits {
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

/** A DER value of the onboarding credentials, as the secure store holds it (base64). */
function der(b64: string): Uint8Array {
  const bytes = fromBase64(b64);
  if (!bytes) throw new AirlockError('ERR_SECURE_STORE', 'the onboarding credentials are corrupt');
  return bytes;
}
