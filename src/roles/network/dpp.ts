/**
 * Wi-Fi Easy Connect (DPP) in the network role: the Configurator for the devices its owner
 * added (NIST IR 8350 section 6, user-assisted onboarding; docs/DPP.md).
 *
 * The onboarder's part is to add a device by its bootstrapping URI (scanned or pasted):
 * `add(uri)` records its key. The network's own bootstrapping key is made once, its private
 * scalar sealed in `net_keys` like the network's other keys. `serve` runs the DPP Controller
 * over TCP (adapters/dpp/tcp-controller.ts) with that key, answering only the enrollees added
 * (mutual authentication: the enrollee initiates with its own key, `own=` in wpa_supplicant).
 * An added device is given a unique per-device PSK exactly as a zero-touch one is (the same
 * sealed storage: `network wifi-keys` and hostapd's key file include it), and is recorded in
 * the inventory and its audit trail: the steps performed, and those not performed as skipped.
 */
import { toHex } from '../../core/bytes.js';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { transition } from '../../core/onboarding-state.js';
import { OnboardingStep } from '../../core/onboarding-steps.js';
import {
  DPP_AKMS,
  type DppAkm,
  type EventInput,
  type NetworkRepositories,
  type NetworkStore,
  type DppEnrolleeRecord,
} from '../../core/store.js';
import { equalBytes } from '../../core/bytes.js';
import { keyStoreOf } from '../shared/context.js';
import type { Sealer } from '../../adapters/crypto/seal.js';
import { isUniqueViolation } from '../../adapters/store/unique-violation.js';
import {
  startDppTcpController,
  type DppExchangeResult,
  type DppTcpController,
} from '../../adapters/dpp/tcp-controller.js';
import { runDppTcpConfigurator } from '../../adapters/dpp/tcp-initiator.js';
import type { DppConfigurationContext } from '../../adapters/dpp/configure.js';
import {
  csignKid,
  dppJwk,
  signConnector,
  type DppCsignKey,
  type DppJwk,
} from '../../protocols/dpp/connector.js';
import type {
  DppConfigurationGiven,
  DppConfigurationRequest,
  DppConnectorCredential,
  DppCredential,
} from '../../protocols/dpp/configuration.js';
import { csrAttributes } from '../../protocols/est/csr.js';
import { encodeCertsOnly } from '../../protocols/est/certs-only.js';
import { fromBase64 } from '../../core/bytes.js';
import type { DppOwnBootstrap } from '../../protocols/dpp/authentication.js';
import {
  bootstrappingKeyHash,
  encodeBootstrappingKey,
  parseBootstrappingKey,
  type DppCurve,
} from '../../protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../protocols/dpp/crypto.js';
import { formatDppUri, parseDppUri } from '../../protocols/dpp/uri.js';
import { DerReader, Tag } from '../../protocols/x509/der.js';
import type { RoleContext } from '../shared/context.js';
import type { CredentialIssuer } from './credentials.js';
import type { NetworkPki } from './pki.js';
import { policyInForce } from '../../onboarding/registrar/authorization.js';
import type { EnforcedIntent, IntentPort } from '../../onboarding/registrar/ports.js';
import type { Party } from '../../core/party.js';
import { latestDeclared } from '../../protocols/declaration/verify.js';
import type { DeclarationBody } from '../../protocols/declaration/schema.js';

/** The name of the network's own DPP bootstrapping key in `net_keys` (P-256; others add `-<curve>`). */
export const DPP_KEY_NAME = 'dpp-bootstrap';

/** The names of the Configurator's C-sign key (signs Connectors) and privacy protection key. */
export const DPP_CSIGN_KEY_NAME = 'dpp-csign';
export const DPP_PPKEY_NAME = 'dpp-ppkey';

/** The curves the network has a bootstrapping key on: every curve hostap supports. */
export const DPP_NETWORK_CURVES: readonly DppCurve[] = [
  'P-256',
  'P-384',
  'P-521',
  'BP-256',
  'BP-384',
  'BP-512',
];

/**
 * The rule recorded for a DPP device's authorization: the policy judges birth certificates and
 * attestation, which a DPP device has not; its owner's adding it authorized it, and it lands in
 * (and follows) the policy's default segment.
 */
export const DPP_RULE = 'dpp-added-by-owner';

/** The curves whose keys the domain CA certifies: sta-dot1x certifies the protocol key. */
const DOT1X_CURVES: readonly DppCurve[] = ['P-256', 'P-384'];

function keyName(curve: DppCurve): string {
  return curve === 'P-256' ? DPP_KEY_NAME : `${DPP_KEY_NAME}-${curve}`;
}

/** Options of `add`. */
export interface DppAddOptions {
  /** The credential the device is given; default `psk` (a unique per-device PSK). */
  akm?: DppAkm;
}

/** A serial the network takes from a URI's I: token as it is. */
const SERIAL = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/**
 * The device's serial at the network: the URI's `I:` value when it is `SN=<serial>` or a plain
 * serial (1 to 64 of letters, digits, `.`, `_`, `:`, `-`, starting with a letter or digit),
 * else `dpp-` and the first 16 hex digits of the key hash.
 */
export function dppSerial(info: string | undefined, keyHash: string): string {
  const candidate = info?.startsWith('SN=') ? info.slice(3) : info;
  return candidate !== undefined && SERIAL.test(candidate)
    ? candidate
    : `dpp-${keyHash.slice(0, 16)}`;
}

export interface DppServeOptions {
  /** 0 for any free port; default 8908 (Wi-Fi Easy Connect's DPP over TCP). */
  port?: number;
  host?: string;
  /** The SSID the enrollees are given; default the network's (config.ssid). */
  ssid?: string;
  /** Heard after each exchange, once what it did is recorded. */
  onExchange?: (outcome: DppExchangeOutcome) => void;
  /** Idle time allowed between messages; default 10 s. */
  idleTimeoutMs?: number;
}

/** One exchange as the network recorded it: never a secret. */
export interface DppExchangeOutcome extends DppExchangeResult {
  /** The device, when the enrollee's key is one the owner added. */
  serial?: string;
}

export interface DppConfiguratorHandle {
  readonly port: number;
  /** The network's own DPP URI: what an enrollee scans. */
  readonly uri: string;
  close(): Promise<void>;
}

/** An unauthenticated refusal is recorded at most once per key hash in this window. */
const REFUSAL_WINDOW_MS = 10 * 60_000;
/** Key hashes remembered for that, at most. */
const REFUSAL_MEMORY = 1024;

export class DppConfigurator {
  readonly #own = new Map<DppCurve, DppOwnBootstrap>();
  #csign: { key: DppCsignKey; ppKey: DppJwk } | undefined;
  /** Key hash (or '' for none) → when its last refusal was recorded. */
  readonly #refusals = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();
  readonly #controllers = new Set<DppTcpController>();

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: NetworkStore,
    private readonly sealer: Sealer,
    private readonly credentials: Pick<CredentialIssuer, 'newPsk' | 'signLdevid' | 'recordLdevid'>,
    private readonly pki: Pick<NetworkPki, 'domainCa' | 'registrar'>,
    private readonly ssid: string,
    /** The network's owner: a declaration naming it (owner or onboarder) pre-registers a device. */
    private readonly owner: Party,
    /** The device intent manager, when the network enforces intent. */
    private readonly intent: IntentPort | undefined,
  ) {}

  /**
   * Adds a device by its bootstrapping URI, with the credential it is to be given (`akm`).
   * ERR_DPP_URI for a URI that does not parse; ERR_CONFIG for an unknown credential, or
   * sta-dot1x for a key on a curve the domain CA does not certify; ERR_DPP_DUPLICATE when its
   * key, or the serial it gives, is added already, or a zero-touch device holds that serial.
   * Nothing is stored on a refusal.
   */
  async add(uri: string, options: DppAddOptions = {}): Promise<DppEnrolleeRecord> {
    const parsed = parseDppUri(uri.trim());
    const akm = options.akm ?? 'psk';
    if (!DPP_AKMS.includes(akm))
      throw new AirlockError('ERR_CONFIG', `unknown DPP credential ${JSON.stringify(akm)}`, {
        details: { akm: String(akm), known: DPP_AKMS.join(', ') },
      });
    // sta-dot1x certifies the enrollee's protocol key, on its bootstrapping key's curve.
    if (akm === 'dot1x' && !DOT1X_CURVES.includes(parsed.key.curve))
      throw new AirlockError(
        'ERR_CONFIG',
        `sta-dot1x needs a P-256 or P-384 key: the domain CA does not certify ${parsed.key.curve}`,
        { details: { curve: parsed.key.curve } },
      );
    const keyHash = toHex(bootstrappingKeyHash(this.ctx.crypto, parsed.key.spkiDer));
    const serial = dppSerial(parsed.info, keyHash);
    const at = this.ctx.clock.now();
    const record = {
      keyHash,
      serial,
      curve: parsed.key.curve,
      spkiDer: parsed.key.spkiDer,
      info: parsed.info ?? null,
      uri: uri.trim(),
      akm,
    };
    await this.store.transaction(async (r) => {
      const birth = await r.devices.birthCertificateOf(serial);
      if (birth && birth.length > 0)
        throw new AirlockError('ERR_DPP_DUPLICATE', 'a zero-touch device holds that serial', {
          details: { serial },
        });
      const known = await r.dpp.get(keyHash);
      if (known)
        throw new AirlockError('ERR_DPP_DUPLICATE', 'that bootstrapping key is added already', {
          details: { serial: known.serial },
        });
      if (!(await r.dpp.add(record, at)))
        throw new AirlockError('ERR_DPP_DUPLICATE', 'another key gives that serial', {
          details: { serial },
        });
      await r.events.record(
        [
          {
            serial,
            action: 'dpp bootstrapping key added',
            outcome: 'ok',
            detail: { keyHash, curve: record.curve, akm },
          },
        ],
        at,
      );
    });
    return { ...record, addedAt: at.toISOString() };
  }

  /**
   * Pre-registered devices (report section 5.1.2): each of `serials` whose installed
   * declaration names this network's owner, as owner or authorized onboarder, and carries the
   * device's DPP URI (minted with it, signed by its manufacturer) is added as its owner would
   * add it by scanning, with `akm`: no scan needed. A URI that gives another serial than the
   * declaration's, and a device added already, are left as they are. Returns those added.
   */
  async addDeclared(
    serials: readonly string[],
    options: DppAddOptions = {},
  ): Promise<DppEnrolleeRecord[]> {
    const added: DppEnrolleeRecord[] = [];
    for (const serial of serials) {
      const body = await this.#declaration(serial);
      const uri = body?.['dpp-uri'];
      if (!body || !uri) continue;
      const ours =
        body.owner.id === this.owner.id ||
        body['authorized-onboarders'].some((p) => p.id === this.owner.id);
      if (!ours) continue;
      const parsed = parseDppUri(uri);
      const keyHash = toHex(bootstrappingKeyHash(this.ctx.crypto, parsed.key.spkiDer));
      if (dppSerial(parsed.info, keyHash) !== serial) continue;
      try {
        added.push(await this.add(uri, options));
      } catch (e) {
        if (!isAirlockError(e) || e.code !== 'ERR_DPP_DUPLICATE') throw e;
      }
    }
    return added;
  }

  /** The latest installed declaration of `serial`, if any. */
  async #declaration(serial: string): Promise<DeclarationBody | undefined> {
    const row = await this.store.run((r) => r.declarations.get(serial));
    return row ? latestDeclared(row.chain) : undefined;
  }

  /**
   * What the manufacturer declared of `enrollee`, when its installed declaration carries the
   * very key it authenticated with (its `dpp-uri`): the manufacturer, and the MUD URL, its
   * intent (wpa_supplicant 2.10 sends none over TCP).
   */
  async #declared(enrollee: DppEnrolleeRecord): Promise<DeclarationBody | undefined> {
    const body = await this.#declaration(enrollee.serial);
    const uri = body?.['dpp-uri'];
    if (!uri) return undefined;
    const declaredHash = toHex(bootstrappingKeyHash(this.ctx.crypto, parseDppUri(uri).key.spkiDer));
    return declaredHash === enrollee.keyHash ? body : undefined;
  }

  /**
   * Steps 11 to 13 for a DPP device, before its credential and outside any unit of work (a MUD
   * file may take seconds to fetch): its intent, from its declaration, enforced in the
   * segment it will land in. Skipped, with the reason, where the network enforces no intent or
   * no MUD URL is known. A MUD file refused refuses the configuration (nothing is given).
   */
  async #enforceIntent(keyHash: string): Promise<DppIntent> {
    const enrollee = await this.store.run((r) => r.dpp.get(keyHash));
    // An enrollee not added is refused by #configure, in its unit of work.
    if (!enrollee) return {};
    const declared = await this.#declared(enrollee);
    const mudUrl = declared?.['mud-url'];
    const manufacturer = declared?.manufacturer.name;
    const base = manufacturer !== undefined ? { manufacturer } : {};
    if (!this.intent) return { ...base, skipped: 'the network enforces no device intent' };
    if (!mudUrl)
      return {
        ...base,
        skipped: declared
          ? "the device's declaration names no MUD URL"
          : 'no MUD URL known: no installed declaration names this DPP key, and a DPP enrollee sends none',
      };
    const segment = (await this.store.run((r) => policyInForce(r))).policy.defaults.segment;
    const enforced = await this.intent.enforce({ serial: enrollee.serial, mudUrl, segment });
    return { ...base, mudUrl, segment, enforced };
  }

  list(): Promise<DppEnrolleeRecord[]> {
    return this.store.run((r) => r.dpp.list());
  }

  /**
   * The network's own bootstrapping key on `curve` (default P-256), made and sealed the first
   * time it is asked for. An enrollee authenticates mutually with the key on its own curve.
   */
  async ownBootstrap(curve: DppCurve = 'P-256'): Promise<DppOwnBootstrap> {
    const cached = this.#own.get(curve);
    if (cached) return cached;
    const name = keyName(curve);
    // The seal's associated data names the public key (its SubjectPublicKeyInfo's SHA-256): a
    // public key swapped in the row does not open with the private scalar sealed for another.
    const aad = (spkiDer: Uint8Array) =>
      `net_keys:${name}:${toHex(this.ctx.crypto.sha256(spkiDer))}`;
    const read = async (): Promise<DppOwnBootstrap | undefined> => {
      const row = await this.store.run((r) => r.keys.get(name));
      if (!row) return undefined;
      // For this key the row's certificate column holds the DER SubjectPublicKeyInfo: DPP has no certificate.
      const key = parseBootstrappingKey(row.certDer);
      const publicKey = this.ctx.crypto.ecPoint(
        dppCurveParams(key.curve).ecCurve,
        spkiPointOctets(row.certDer),
      );
      if (!publicKey || key.curve !== curve)
        throw new AirlockError('ERR_SECURE_STORE', 'the DPP key cannot be read');
      return {
        curve: key.curve,
        privateKey: this.openBound(row.sealedKey, aad(row.certDer)),
        publicKey,
        spkiDer: row.certDer,
      };
    };
    let own = await read();
    if (!own) {
      const pair = this.ctx.crypto.ecGenerate(dppCurveParams(curve).ecCurve);
      const { spkiDer } = encodeBootstrappingKey(curve, pair.publicKey);
      try {
        await this.store.run((r) =>
          r.keys.put(
            name,
            { sealedKey: this.sealer.seal(pair.privateKey, aad(spkiDer)), certDer: spkiDer },
            this.ctx.clock.now(),
          ),
        );
        own = { curve, privateKey: pair.privateKey, publicKey: pair.publicKey, spkiDer };
      } catch (e) {
        // Another node sharing the database made it first: use that one.
        if (!isUniqueViolation(e)) throw e;
        own = await read();
        if (!own) throw e;
      }
    }
    this.#own.set(curve, own);
    return own;
  }

  /**
   * The Configurator's C-sign key (P-256, signs every Connector) and its privacy protection
   * key (ppKey, P-256), made in the key store and sealed the first time they are asked for.
   */
  async csign(): Promise<{ key: DppCsignKey; ppKey: DppJwk }> {
    if (this.#csign) return this.#csign;
    const signing = await this.sealedP256(DPP_CSIGN_KEY_NAME);
    const pp = await this.sealedP256(DPP_PPKEY_NAME);
    const point = (spki: Uint8Array) => spkiPointOctets(spki);
    const publicKey = point(signing.spki);
    this.#csign = {
      key: { key: signing, publicKey, kid: csignKid(this.ctx.crypto, publicKey) },
      ppKey: dppJwk('P-256', point(pp.spki)),
    };
    return this.#csign;
  }

  /** A P-256 key of the key store sealed in `net_keys` under `name`, bound to its public key. */
  private async sealedP256(name: string) {
    const keys = keyStoreOf(this.ctx);
    const aad = (spki: Uint8Array) => `net_keys:${name}:${toHex(this.ctx.crypto.sha256(spki))}`;
    const read = async () => {
      const row = await this.store.run((r) => r.keys.get(name));
      if (!row) return undefined;
      const key = await keys.importPkcs8(this.openBound(row.sealedKey, aad(row.certDer)));
      if (!equalBytes(key.spki, row.certDer))
        throw new AirlockError('ERR_SECURE_STORE', `the ${name} key does not match its public key`);
      return key;
    };
    const stored = await read();
    if (stored) return stored;
    const key = await keys.generateP256();
    try {
      await this.store.run(async (r) =>
        r.keys.put(
          name,
          {
            sealedKey: this.sealer.seal(await keys.exportPkcs8(key), aad(key.spki)),
            certDer: key.spki,
          },
          this.ctx.clock.now(),
        ),
      );
      return key;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const theirs = await read();
      if (!theirs) throw e;
      return theirs;
    }
  }

  /** Opens the sealed scalar; one sealed for another public key is ERR_SECURE_STORE. */
  private openBound(sealed: string, aad: string): Uint8Array {
    try {
      return this.sealer.open(sealed, aad);
    } catch (e) {
      if (isAirlockError(e) && e.code === 'ERR_SECURE_STORE')
        throw new AirlockError(
          'ERR_SECURE_STORE',
          "the network's DPP key does not open for the public key stored with it",
        );
      throw e;
    }
  }

  /** The network's own DPP URI (version 2, its key on `curve`): what an enrollee scans. */
  async uri(curve: DppCurve = 'P-256'): Promise<string> {
    return formatDppUri({ version: 2, key: (await this.ownBootstrap(curve)).spkiDer });
  }

  /** Starts the DPP Controller over TCP for the devices added. */
  async serve(o: DppServeOptions = {}): Promise<DppConfiguratorHandle> {
    const bootstraps: DppOwnBootstrap[] = [];
    for (const curve of DPP_NETWORK_CURVES) bootstraps.push(await this.ownBootstrap(curve));
    await this.csign();
    const uri = await this.uri();
    const ssid = o.ssid ?? this.ssid;
    const controller = await startDppTcpController({
      crypto: this.ctx.crypto,
      bootstrap: bootstraps,
      onlyKnownEnrollees: true,
      peers: async (keyHash) => {
        const e = await this.store.run((r) => r.dpp.get(keyHash));
        return e && { spkiDer: e.spkiDer };
      },
      // The enrollee proved the key it named only when authentication was mutual.
      configuration: (request, enrollee, live) =>
        this.#configuration(
          ssid,
          request,
          enrollee.mutual ? enrollee.keyHash : undefined,
          enrollee,
          live,
        ),
      onResult: (result) => void this.#record(result, ssid, o.onExchange),
      onServerError: (code) =>
        this.ctx.logger.error({ code }, 'network: the DPP Configurator server failed'),
      host: o.host ?? '127.0.0.1',
      port: o.port ?? 8908,
      ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    });
    this.#controllers.add(controller);
    this.ctx.logger.info(
      { port: controller.port, uri },
      'network: DPP Configurator listening (enrollees the owner added)',
    );
    return {
      port: controller.port,
      uri,
      close: async () => {
        this.#controllers.delete(controller);
        await controller.close();
        await this.idle();
      },
    };
  }

  /**
   * The onboarder's part (report section 6): the device's URI, scanned or pasted, is added with
   * `akm` (a URI added already is taken as it is); when the URI says where the device listens
   * (`H:`, or `host`), the Configurator connects and configures it now, authenticating it by the
   * key of its URI (and mutually when the device scanned the network's URI on its curve). Else
   * the device is configured when it initiates to `serve`. ERR_DPP_AUTH and the like when the
   * exchange fails; what happened is recorded either way.
   */
  async onboard(
    uri: string,
    o: DppAddOptions & { host?: string; port?: number; ssid?: string } = {},
  ): Promise<{ enrollee: DppEnrolleeRecord; exchange?: DppExchangeOutcome }> {
    const parsed = parseDppUri(uri.trim());
    const keyHash = toHex(bootstrappingKeyHash(this.ctx.crypto, parsed.key.spkiDer));
    const known = await this.store.run((r) => r.dpp.get(keyHash));
    const enrollee = known ?? (await this.add(uri, o.akm ? { akm: o.akm } : {}));
    const host = o.host ?? parsed.host?.address;
    if (host === undefined) return { enrollee };
    // The URI's port goes with the URI's host; --host without --port means DPP's 8908.
    const port = o.port ?? (o.host === undefined ? parsed.host?.port : undefined);
    const ssid = o.ssid ?? this.ssid;
    const own = await this.ownBootstrap(parsed.key.curve);
    await this.csign();
    const result: DppExchangeResult = {
      peer: host,
      enrolleeBootstrapKeyHash: keyHash,
      authenticated: false,
      mutual: false,
      configurationDelivered: false,
      status: 'failed',
    };
    let failure: unknown;
    try {
      const done = await runDppTcpConfigurator({
        crypto: this.ctx.crypto,
        enrollee: parsed,
        own,
        host,
        ...(port !== undefined ? { port } : {}),
        // As the Responder, the device proved it holds the key of the URI the owner gave.
        configuration: (request, peer, live) => {
          result.authenticated = true;
          result.mutual = peer.mutual;
          result.enrollee = { name: request.name, netRole: request.netRole };
          return this.#configuration(ssid, request, peer.keyHash, peer, live);
        },
      });
      result.configurationDelivered = done.configurationDelivered;
      if (done.resultStatus !== undefined) result.resultStatus = done.resultStatus;
      result.status = done.status;
    } catch (e) {
      failure = e;
      result.error = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
      const reason = isAirlockError(e) ? e.details.reason : undefined;
      if (typeof reason === 'string') result.reason = reason;
    }
    let exchange: DppExchangeOutcome | undefined;
    await this.#record({ ...result, initiated: true }, ssid, (x) => (exchange = x));
    await this.idle();
    if (failure !== undefined) throw failure;
    return { enrollee, ...(exchange ? { exchange } : {}) };
  }

  /**
   * The configuration for an enrollee whose key `proven` names (the hash of the key it proved
   * it holds), for either side's exchange: steps 11 to 13, then the credential it was added
   * with. An enrollee that proved no key the owner added is refused.
   */
  async #configuration(
    ssid: string,
    request: DppConfigurationRequest,
    proven: string | undefined,
    identity: DppConfigurationContext,
    live: () => boolean,
  ): Promise<DppConfigurationGiven> {
    if (proven === undefined)
      throw new AirlockError('ERR_DPP_AUTH', 'the enrollee is not one the owner added', {
        details: { reason: 'unknown-enrollee' },
      });
    // Exactly what buildConfigurationResponse gives to: nothing is touched for anything else.
    if (request.netRole !== 'sta' || request.wifiTech !== 'infra') return undefined;
    const intent = await this.#enforceIntent(proven);
    if (!live()) return undefined;
    return this.#configure(proven, identity, ssid, live, intent);
  }

  /** Records an exchange, then tells `onExchange`; a failure to record is logged (its code). */
  #record(
    result: DppExchangeResult & { initiated?: boolean },
    ssid: string,
    onExchange: ((o: DppExchangeOutcome) => void) | undefined,
  ): Promise<void> {
    const work = this.#recordResult(result, ssid)
      .then((serial) => onExchange?.({ ...result, ...(serial ? { serial } : {}) }))
      .catch((e: unknown) =>
        this.ctx.logger.error(
          { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
          'network: a DPP exchange could not be recorded',
        ),
      )
      .finally(() => this.#pending.delete(work));
    this.#pending.add(work);
    return work;
  }

  /** Resolves when every exchange heard so far is recorded. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Stops every controller this configurator started. */
  async stop(): Promise<void> {
    for (const c of [...this.#controllers]) {
      this.#controllers.delete(c);
      await c.close();
    }
    await this.idle();
  }

  /**
   * In one unit of work: the device's record 'provisioned', its credential, and the audit trail
   * of the steps performed and not. The credential is the one it was added with: a new
   * per-device PSK (sta-psk, sta-sae; sealed, it replaces the device's earlier ones), a
   * Connector for its protocol key (sta-dpp), or an LDevID for the key of its certificate
   * request (sta-dot1x; without a request yet, CSR Needed and nothing is changed). Rolled back
   * when the exchange is no longer live at the end; "delivered" is recorded by #recordResult,
   * once it was sent.
   */
  async #configure(
    keyHash: string,
    identity: DppConfigurationContext,
    ssid: string,
    live: () => boolean,
    intent: DppIntent,
  ): Promise<DppConfigurationGiven> {
    const at = this.ctx.clock.now();
    const csign = await this.csign();
    return this.store.transaction(async (r) => {
      const enrollee = await r.dpp.get(keyHash);
      if (!enrollee)
        throw new AirlockError('ERR_DPP_AUTH', 'the enrollee is not one the owner added', {
          details: { reason: 'unknown-enrollee' },
        });
      const { serial, akm } = enrollee;
      if (akm === 'dot1x' && !identity.csr)
        return { status: 'csr-needed', csrAttributes: csrAttributes() } as const;
      const device = await r.devices.get(serial, { lock: true });
      if (device) transition(device.state, 'dpp-configured');
      if (!(await r.devices.dppConfigured(serial, at)))
        throw new AirlockError('ERR_DPP_DUPLICATE', 'a zero-touch device holds that serial', {
          details: { serial, reason: 'serial-taken' },
        });
      // The policy judges birth certificates and attestation, which a DPP device has not: the
      // owner's adding its URI authorized it, and it lands in the policy's default segment.
      const inForce = await policyInForce(r);
      const segment = inForce.policy.defaults.segment;
      await r.devices.decided(
        serial,
        { decision: 'allow', segment, rule: DPP_RULE, policyId: inForce.id },
        at,
        true,
      );
      const { credential, issued } = await this.#credential(r, serial, akm, identity, csign, at);
      const events: EventInput[] = [
        {
          serial,
          step: OnboardingStep.AttestationVerified,
          action: 'attestation',
          outcome: 'skipped',
          detail: { reason: 'a DPP enrollee sends no attestation evidence' },
        },
        {
          serial,
          step: OnboardingStep.DeviceAuthenticated,
          action: 'dpp mutual authentication: the enrollee proved the bootstrapping key added',
          outcome: 'ok',
          detail: {
            keyHash,
            curve: enrollee.curve,
            ...(intent.manufacturer !== undefined ? { declaredBy: intent.manufacturer } : {}),
          },
        },
        {
          serial,
          step: OnboardingStep.PolicyRetrieved,
          action: 'authorization policy',
          outcome: 'skipped',
          detail: {
            reason:
              'no birth certificate to judge; the owner authorized the device by adding its URI',
            segment,
          },
        },
        {
          serial,
          step: OnboardingStep.NetworkAuthenticated,
          action: "dpp: the enrollee authenticated the network's bootstrapping key",
          outcome: 'ok',
          detail: { curve: identity.protocolKey.curve },
        },
        {
          serial,
          step: OnboardingStep.SecureChannel,
          action: 'dpp: configuration protocol keyed (ke)',
          outcome: 'ok',
        },
        {
          serial,
          step: OnboardingStep.Provisioning,
          action: `dpp credential made (sta-${akm})`,
          outcome: 'ok',
          detail: issued,
        },
        ...intentEvents(serial, intent),
      ];
      await r.events.record(events, at);
      // The exchange ended while this was made: nothing of it is kept.
      if (!live())
        throw new AirlockError('ERR_TRANSPORT', 'the DPP exchange ended before configuration', {
          details: { reason: 'closed' },
        });
      return { ssid, credential };
    });
  }

  /** The credential of `akm` for the device, recorded in `r`; `issued` says what, never a secret. */
  async #credential(
    r: NetworkRepositories,
    serial: string,
    akm: DppAkm,
    identity: DppConfigurationContext,
    csign: { key: DppCsignKey; ppKey: DppJwk },
    at: Date,
  ): Promise<{ credential: DppCredential; issued: Record<string, string> }> {
    if (akm === 'psk' || akm === 'sae') {
      const psk = await this.credentials.newPsk(r, serial);
      await r.devices.update(serial, { pskId: psk.id }, at);
      return { credential: { akm, passphrase: psk.psk }, issued: { psk: psk.id } };
    }
    const connector: DppConnectorCredential = {
      signedConnector: signConnector(this.ctx.crypto, csign.key, {
        groups: [{ groupId: '*', netRole: 'sta' }],
        netAccessKey: identity.protocolKey,
      }),
      csign: dppJwk('P-256', csign.key.publicKey, csign.key.kid),
      ppKey: csign.ppKey,
    };
    if (akm === 'dpp')
      return { credential: { akm, connector }, issued: { connector: csign.key.kid } };
    const csr = identity.csr!;
    // The network's own keys are never a device's; any other key certified before is refused
    // by recordLdevid (ERR_CSR_KEY), and nothing is issued.
    if (
      equalBytes(csr.spki, this.pki.domainCa.cert.spki) ||
      equalBytes(csr.spki, this.pki.registrar.cert.spki)
    )
      throw new AirlockError('ERR_CSR_KEY', "the key is the network's own");
    const cert = this.credentials.signLdevid(serial, csr.spki);
    await this.credentials.recordLdevid(r, serial, cert);
    await r.devices.update(serial, { state: 'provisioned', ldevidSerial: cert.serial }, at);
    const ca = this.pki.domainCa.cert.der;
    return {
      credential: {
        akm,
        connector,
        certBag: fromBase64(encodeCertsOnly([cert.der, ca]))!,
        caCert: ca,
      },
      issued: { ldevid: cert.serial },
    };
  }

  /** Records how an exchange ended; returns the device's serial when the key was added. */
  async #recordResult(
    result: DppExchangeResult & { initiated?: boolean },
    ssid: string,
  ): Promise<string | undefined> {
    const at = this.ctx.clock.now();
    // An exchange is the device's only once the enrollee proved its key: mutual authentication
    // when it initiated; as the Responder, it proves the key of the URI we initiated to.
    const proven = result.authenticated && (result.mutual || result.initiated === true);
    const keyHash = proven ? result.enrolleeBootstrapKeyHash : result.claimedKeyHash;
    if (!proven) {
      // Anyone can send a Request naming any hash: at most one event per hash and window.
      const last = this.#refusals.get(keyHash ?? '');
      if (last !== undefined && at.getTime() - last < REFUSAL_WINDOW_MS) return undefined;
      if (keyHash === undefined) return undefined;
      this.#refusals.delete(keyHash);
      if (this.#refusals.size >= REFUSAL_MEMORY) {
        const oldest = this.#refusals.keys().next().value;
        if (oldest !== undefined) this.#refusals.delete(oldest);
      }
      this.#refusals.set(keyHash, at.getTime());
    }
    return this.store.transaction(async (r) => {
      const enrollee = proven && keyHash !== undefined ? await r.dpp.get(keyHash) : undefined;
      const detail = {
        ...(keyHash !== undefined ? { keyHash } : {}),
        ...(result.reason !== undefined ? { reason: result.reason } : {}),
        ...(result.resultStatus !== undefined ? { status: result.resultStatus } : {}),
        mutual: result.mutual,
      };
      if (!enrollee) {
        // Only an enrollee that named a key is worth a line: no serial, the hash it named (unchecked).
        if (keyHash !== undefined)
          await r.events.record(
            [
              {
                serial: null,
                action: 'dpp authentication',
                outcome: 'refused',
                code: result.error ?? 'ERR_DPP_AUTH',
                detail: { ...detail, reason: result.reason ?? 'unknown-enrollee' },
              },
            ],
            at,
          );
        return undefined;
      }
      const { serial } = enrollee;
      if (!result.configurationDelivered) {
        await r.events.record(
          [
            {
              serial,
              action: 'dpp exchange',
              outcome: 'error',
              ...(result.error !== undefined ? { code: result.error } : {}),
              detail: {
                ...detail,
                ...(result.enrollee ? { netRole: result.enrollee.netRole } : {}),
                configured: false,
              },
            },
          ],
          at,
        );
        return serial;
      }
      const device = await r.devices.get(serial, { lock: true });
      const ok = result.resultStatus === 0;
      const delivered: EventInput = {
        serial,
        step: OnboardingStep.Provisioning,
        action: `dpp configuration delivered (sta-${enrollee.akm})`,
        outcome: 'ok',
        detail: {
          ...(device?.pskId && (enrollee.akm === 'psk' || enrollee.akm === 'sae')
            ? { psk: device.pskId }
            : {}),
          ...(device?.ldevidSerial && enrollee.akm === 'dot1x'
            ? { ldevid: device.ldevidSerial }
            : {}),
          ssid,
        },
      };
      if (device?.state === 'provisioned') {
        if (ok)
          await r.devices.update(
            serial,
            {
              state: transition(device.state, 'enrollment-confirmed'),
              onboardings: device.onboardings + 1,
            },
            at,
          );
        else if (result.resultStatus !== undefined) {
          transition(device.state, 'enrollment-failed');
          await r.devices.update(serial, { state: 'failed' }, at);
        }
      }
      await r.events.record(
        [
          delivered,
          {
            serial,
            step: OnboardingStep.Provisioning,
            action: 'dpp configuration result',
            outcome: ok ? 'ok' : 'error',
            ...(result.error !== undefined ? { code: result.error } : {}),
            detail,
          },
        ],
        at,
      );
      return serial;
    });
  }
}

/** Steps 11 to 13 of a DPP device: what #enforceIntent did, never a secret. */
interface DppIntent {
  /** The manufacturer whose declaration carries the device's DPP key. */
  manufacturer?: string;
  mudUrl?: string;
  segment?: string;
  enforced?: EnforcedIntent;
  /** Why intent was not enforced. */
  skipped?: string;
}

function intentEvents(serial: string, intent: DppIntent): EventInput[] {
  if (!intent.enforced || intent.mudUrl === undefined)
    return [
      {
        serial,
        step: OnboardingStep.IntentEnforced,
        action: 'intent',
        outcome: 'skipped',
        detail: { reason: intent.skipped ?? 'no MUD URL known' },
      },
    ];
  const mud = { 'mud-url': intent.mudUrl, source: 'declaration' };
  return [
    {
      serial,
      step: OnboardingStep.IntentLocatorSent,
      action: 'intent locator',
      outcome: 'ok',
      detail: mud,
    },
    {
      serial,
      step: OnboardingStep.IntentForwarded,
      action: 'intent forwarded',
      outcome: 'ok',
      detail: { ...mud, segment: intent.segment ?? null },
    },
    {
      serial,
      step: OnboardingStep.IntentEnforced,
      action: 'intent enforced',
      outcome: 'ok',
      detail: {
        address: intent.enforced.address,
        profile: intent.enforced.profile,
        segment: intent.segment ?? null,
      },
    },
  ];
}

/** The public point octets of a SubjectPublicKeyInfo: its BIT STRING, after the unused-bits octet. */
function spkiPointOctets(spkiDer: Uint8Array): Uint8Array {
  const spki = new DerReader(spkiDer, 'ERR_SECURE_STORE').enter(Tag.SEQUENCE);
  spki.enter(Tag.SEQUENCE);
  return spki.read(Tag.BIT_STRING).value.subarray(1);
}
