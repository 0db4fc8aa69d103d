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
import type { EventInput, NetworkStore, DppEnrolleeRecord } from '../../core/store.js';
import type { Sealer } from '../../adapters/crypto/seal.js';
import { isUniqueViolation } from '../../adapters/store/unique-violation.js';
import {
  startDppTcpController,
  type DppExchangeResult,
  type DppTcpController,
} from '../../adapters/dpp/tcp-controller.js';
import type { DppOwnBootstrap } from '../../protocols/dpp/authentication.js';
import {
  bootstrappingKeyHash,
  encodeBootstrappingKey,
  parseBootstrappingKey,
} from '../../protocols/dpp/bootstrapping-key.js';
import { dppCurveParams } from '../../protocols/dpp/crypto.js';
import { formatDppUri, parseDppUri } from '../../protocols/dpp/uri.js';
import { DerReader, Tag } from '../../protocols/x509/der.js';
import type { RoleContext } from '../shared/context.js';
import type { CredentialIssuer } from './credentials.js';

/** The name of the network's own DPP bootstrapping key in `net_keys`. */
export const DPP_KEY_NAME = 'dpp-bootstrap';

/** The curve of the network's own bootstrapping key. */
const NETWORK_CURVE = 'P-256';

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
  #own: DppOwnBootstrap | undefined;
  /** Key hash (or '' for none) → when its last refusal was recorded. */
  readonly #refusals = new Map<string, number>();
  readonly #pending = new Set<Promise<void>>();
  readonly #controllers = new Set<DppTcpController>();

  constructor(
    private readonly ctx: RoleContext,
    private readonly store: NetworkStore,
    private readonly sealer: Sealer,
    private readonly credentials: Pick<CredentialIssuer, 'newPsk'>,
    private readonly ssid: string,
  ) {}

  /**
   * Adds a device by its bootstrapping URI. ERR_DPP_URI for a URI that does not parse;
   * ERR_DPP_DUPLICATE when its key, or the serial it gives, is added already, or a zero-touch
   * device holds that serial. Nothing is stored on a refusal.
   */
  async add(uri: string): Promise<DppEnrolleeRecord> {
    const parsed = parseDppUri(uri.trim());
    // Mutual authentication takes the enrollee's key on the network's curve (its key is P-256).
    if (parsed.key.curve !== NETWORK_CURVE)
      throw new AirlockError(
        'ERR_DPP_URI',
        `the bootstrapping key is on ${parsed.key.curve}: the network's Configurator (${NETWORK_CURVE}) cannot authenticate it mutually`,
        { details: { token: 'K', curve: parsed.key.curve } },
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
            detail: { keyHash, curve: record.curve },
          },
        ],
        at,
      );
    });
    return { ...record, addedAt: at.toISOString() };
  }

  list(): Promise<DppEnrolleeRecord[]> {
    return this.store.run((r) => r.dpp.list());
  }

  /** The network's own bootstrapping key (P-256), made and sealed the first time it is asked for. */
  async ownBootstrap(): Promise<DppOwnBootstrap> {
    if (this.#own) return this.#own;
    // The seal's associated data names the public key (its SubjectPublicKeyInfo's SHA-256): a
    // public key swapped in the row does not open with the private scalar sealed for another.
    const aad = (spkiDer: Uint8Array) =>
      `net_keys:${DPP_KEY_NAME}:${toHex(this.ctx.crypto.sha256(spkiDer))}`;
    const read = async (): Promise<DppOwnBootstrap | undefined> => {
      const row = await this.store.run((r) => r.keys.get(DPP_KEY_NAME));
      if (!row) return undefined;
      // For this key the row's certificate column holds the DER SubjectPublicKeyInfo: DPP has no certificate.
      const key = parseBootstrappingKey(row.certDer);
      const publicKey = this.ctx.crypto.ecPoint(
        dppCurveParams(key.curve).ecCurve,
        spkiPointOctets(row.certDer),
      );
      if (!publicKey) throw new AirlockError('ERR_SECURE_STORE', 'the DPP key cannot be read');
      return {
        curve: key.curve,
        privateKey: this.openBound(row.sealedKey, aad(row.certDer)),
        publicKey,
        spkiDer: row.certDer,
      };
    };
    let own = await read();
    if (!own) {
      const pair = this.ctx.crypto.ecGenerate(dppCurveParams(NETWORK_CURVE).ecCurve);
      const { spkiDer } = encodeBootstrappingKey(NETWORK_CURVE, pair.publicKey);
      try {
        await this.store.run((r) =>
          r.keys.put(
            DPP_KEY_NAME,
            { sealedKey: this.sealer.seal(pair.privateKey, aad(spkiDer)), certDer: spkiDer },
            this.ctx.clock.now(),
          ),
        );
        own = {
          curve: NETWORK_CURVE,
          privateKey: pair.privateKey,
          publicKey: pair.publicKey,
          spkiDer,
        };
      } catch (e) {
        // Another node sharing the database made it first: use that one.
        if (!isUniqueViolation(e)) throw e;
        own = await read();
        if (!own) throw e;
      }
    }
    this.#own = own;
    return own;
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

  /** The network's own DPP URI (version 2, its key): what an enrollee scans. */
  async uri(): Promise<string> {
    return formatDppUri({ version: 2, key: (await this.ownBootstrap()).spkiDer });
  }

  /** Starts the DPP Controller over TCP for the devices added. */
  async serve(o: DppServeOptions = {}): Promise<DppConfiguratorHandle> {
    const bootstrap = await this.ownBootstrap();
    const uri = await this.uri();
    const ssid = o.ssid ?? this.ssid;
    const controller = await startDppTcpController({
      crypto: this.ctx.crypto,
      bootstrap,
      onlyKnownEnrollees: true,
      peers: async (keyHash) => {
        const e = await this.store.run((r) => r.dpp.get(keyHash));
        return e && { spkiDer: e.spkiDer };
      },
      configuration: async (request, enrollee, live) => {
        if (!enrollee.mutual || enrollee.keyHash === undefined)
          throw new AirlockError('ERR_DPP_AUTH', 'the enrollee is not one the owner added', {
            details: { reason: 'unknown-enrollee' },
          });
        // Exactly what buildConfigurationResponse gives to: nothing is touched for anything else.
        if (request.netRole !== 'sta' || request.wifiTech !== 'infra') return undefined;
        const passphrase = await this.#configure(enrollee.keyHash, ssid, bootstrap.curve, live);
        return { ssid, passphrase };
      },
      onResult: (result) => {
        const work = this.#recordResult(result, ssid)
          .then((serial) => o.onExchange?.({ ...result, ...(serial ? { serial } : {}) }))
          .catch((e: unknown) =>
            this.ctx.logger.error(
              { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
              'network: a DPP exchange could not be recorded',
            ),
          )
          .finally(() => this.#pending.delete(work));
        this.#pending.add(work);
      },
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
   * In one unit of work: the device's record 'provisioned', a new per-device PSK (sealed, it
   * replaces the device's earlier ones), and the audit trail of the steps performed and not.
   * Returns the passphrase, for the Configuration Object only. Rolled back when the exchange
   * is no longer live at the end; "delivered" is recorded by #recordResult, once it was sent.
   */
  async #configure(
    keyHash: string,
    ssid: string,
    curve: string,
    live: () => boolean,
  ): Promise<string> {
    const at = this.ctx.clock.now();
    return this.store.transaction(async (r) => {
      const enrollee = await r.dpp.get(keyHash);
      if (!enrollee)
        throw new AirlockError('ERR_DPP_AUTH', 'the enrollee is not one the owner added', {
          details: { reason: 'unknown-enrollee' },
        });
      const { serial } = enrollee;
      const device = await r.devices.get(serial, { lock: true });
      if (device) transition(device.state, 'dpp-configured');
      if (!(await r.devices.dppConfigured(serial, at)))
        throw new AirlockError('ERR_DPP_DUPLICATE', 'a zero-touch device holds that serial', {
          details: { serial, reason: 'serial-taken' },
        });
      const psk = await this.credentials.newPsk(r, serial);
      await r.devices.update(serial, { pskId: psk.id }, at);
      const events: EventInput[] = [
        {
          serial,
          step: OnboardingStep.AttestationVerified,
          action: 'attestation',
          outcome: 'skipped',
          detail: { reason: 'a DPP enrollee (wpa_supplicant) sends no attestation evidence' },
        },
        {
          serial,
          step: OnboardingStep.DeviceAuthenticated,
          action: 'dpp mutual authentication: the enrollee proved the bootstrapping key added',
          outcome: 'ok',
          detail: { keyHash, curve: enrollee.curve },
        },
        {
          serial,
          step: OnboardingStep.PolicyRetrieved,
          action: 'authorization policy',
          outcome: 'skipped',
          detail: {
            reason:
              'no birth certificate to judge; the owner authorized the device by adding its URI',
          },
        },
        {
          serial,
          step: OnboardingStep.NetworkAuthenticated,
          action: "dpp: the enrollee authenticated the network's bootstrapping key",
          outcome: 'ok',
          detail: { curve },
        },
        {
          serial,
          step: OnboardingStep.SecureChannel,
          action: 'dpp: configuration protocol keyed (ke)',
          outcome: 'ok',
        },
        {
          serial,
          step: OnboardingStep.IntentEnforced,
          action: 'intent',
          outcome: 'skipped',
          detail: {
            reason:
              'pending: no MUD URL known for a DPP device (no declaration or birth certificate)',
          },
        },
      ];
      await r.events.record(events, at);
      // The exchange ended while this was made: nothing of it is kept.
      if (!live())
        throw new AirlockError('ERR_TRANSPORT', 'the DPP exchange ended before configuration', {
          details: { reason: 'closed' },
        });
      return psk.psk;
    });
  }

  /** Records how an exchange ended; returns the device's serial when the key was added. */
  async #recordResult(result: DppExchangeResult, ssid: string): Promise<string | undefined> {
    const at = this.ctx.clock.now();
    // An exchange is the device's only once the enrollee proved its key (authenticated, mutual).
    const proven = result.authenticated && result.mutual;
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
        action: 'dpp configuration delivered (sta-psk)',
        outcome: 'ok',
        detail: { ...(device?.pskId ? { psk: device.pskId } : {}), ssid: ssid },
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

/** The public point octets of a SubjectPublicKeyInfo: its BIT STRING, after the unused-bits octet. */
function spkiPointOctets(spkiDer: Uint8Array): Uint8Array {
  const spki = new DerReader(spkiDer, 'ERR_SECURE_STORE').enter(Tag.SEQUENCE);
  spki.enter(Tag.SEQUENCE);
  return spki.read(Tag.BIT_STRING).value.subarray(1);
}
