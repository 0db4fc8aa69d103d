/**
 * While FreeRADIUS serves the network (docs/RADIUS.md), what a device may reach follows its
 * record without anybody's help:
 * - A device whose access changed gets re-authenticated. It may have moved to another VLAN
 *   (moved, quarantined), or no longer be admitted (decommissioned, revoked). Its authenticators
 *   are asked to make it authenticate again, and that authentication sees the change.
 *   - An RFC 5176 Dynamic Authorization Server (a switch, an access point, hostapd's
 *     `radius_das_port`) gets a Disconnect-Request for the device's name. The session ends; a
 *     switch re-authenticates the port and a Wi-Fi station reconnects.
 *   - hostapd's control interface gets `EAPOL_REAUTH` for the station that authenticated under
 *     the device's name. It is re-authenticated in place.
 * - The Wi-Fi key file is written again whenever the keys or their VLANs change.
 * - A certificate gone from the view (revoked, superseded) brings the CRL FreeRADIUS checks
 *   with up to date at once, whichever process revoked it.
 *
 * Every `intervalMs` it reads the changes recorded since its last look (`net_access_changes`,
 * written by the database's triggers) and asks the view `radius_devices` about the devices they
 * name only. So a change made by any process sharing the database is seen (the CLI, another
 * node), and a look where nothing changed costs two indexed reads, whatever the fleet's size.
 */
import { isAirlockError } from '../../core/errors.js';
import type { NetworkStore, RadiusDevice } from '../../core/store.js';
import type { RoleContext } from '../shared/context.js';
import {
  sendDisconnect,
  type DynamicAuthorizationServer,
} from '../../adapters/radius/disconnect.js';
import {
  reauthenticateStation,
  type HostapdControl,
} from '../../adapters/radius/hostapd-control.js';
import { ERROR_CAUSE } from '../../protocols/radius/dynamic-authorization.js';

/** Who can make a device authenticate again. */
export type Authenticator = { das: DynamicAuthorizationServer } | { hostapd: HostapdControl };

export interface AccessWatchOptions {
  store: NetworkStore;
  ctx: RoleContext;
  authenticators: readonly Authenticator[];
  /** The RADIUS shared secret, which the Dynamic Authorization Servers share too. */
  secret: string;
  /** Rewrites the Wi-Fi key file (Network.writeWifiKeyFile), when there is one. */
  writeWifiKeys?: () => Promise<unknown>;
  /**
   * Called after a look that found a certificate gone from the view (its device no longer
   * admitted, or holding a new one): the CRL FreeRADIUS checks with is brought up to date.
   */
  onCertificateGone?: () => Promise<void>;
  /** How often it looks (default 2 s). */
  intervalMs?: number;
}

/** What one authenticator said. */
type Answer = 'ended' | 'reauthenticating' | 'not connected' | `failed: ${string}`;

/** Devices asked at once, at most. */
const PARALLEL = 16;
/**
 * Changes read again behind the last one seen: on PostgreSQL a change may commit after one
 * numbered later. Reading one again costs a comparison; it is acted on only if it differs.
 */
const LOOKBACK = 1_000;
/** Changes kept; a watch further behind than this reads the whole view. */
const KEEP = 100_000;

export class AccessWatch {
  #admitted = new Map<string, RadiusDevice>();
  /** The last change seen (net_access_changes). */
  #seen = 0;
  #looks = 0;
  #keys: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #round: Promise<void> = Promise.resolve();

  private constructor(private readonly o: AccessWatchOptions) {}

  /** Reads what is admitted now, writes the key file, and starts looking. */
  static async start(o: AccessWatchOptions): Promise<AccessWatch> {
    const w = new AccessWatch(o);
    w.#seen = await o.store.run((r) => r.radius.lastAccessChange());
    w.#admitted = bySerial(await o.store.run((r) => r.radius.devices()));
    await w.#writeKeysIfChanged();
    w.#schedule();
    return w;
  }

  /** Stops looking; a round under way finishes first. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#round;
  }

  /** One look now (what the timer does): the devices asked to re-authenticate, and why. */
  check(): Promise<Array<{ serial: string; reason: string }>> {
    const round = this.#round.then(() => this.#look());
    this.#round = round.then(
      () => undefined,
      () => undefined,
    );
    return round;
  }

  /**
   * The changes since the last look: only the devices they name are read from the view (all of
   * it when a segment's VLAN changed, or when this watch fell too far behind), and compared with
   * what it admitted.
   */
  async #look(): Promise<Array<{ serial: string; reason: string }>> {
    const since = await this.o.store.run((r) => r.radius.accessChanges(this.#seen, LOOKBACK));
    const changed: Array<{ serial: string; reason: string }> = [];
    let certificateGone = false;
    const compare = (serial: string, next: RadiusDevice | undefined) => {
      const was = this.#admitted.get(serial);
      if (next === undefined) this.#admitted.delete(serial);
      else this.#admitted.set(serial, next);
      if (was === undefined) return;
      if (next === undefined) changed.push({ serial, reason: 'no longer admitted' });
      else if (next.vlan !== was.vlan)
        changed.push({ serial, reason: `moved to VLAN ${next.vlan}` });
      if (next?.certificateSerial !== was.certificateSerial) certificateGone = true;
    };
    if (since.everything) {
      const now = bySerial(await this.o.store.run((r) => r.radius.devices()));
      for (const serial of [...this.#admitted.keys()]) compare(serial, now.get(serial));
      for (const [serial, d] of now) if (!this.#admitted.has(serial)) compare(serial, d);
    } else if (since.serials.length > 0) {
      const now = bySerial(await this.o.store.run((r) => r.radius.devicesNamed(since.serials)));
      for (const serial of since.serials) compare(serial, now.get(serial));
    }
    this.#seen = since.last;
    if (++this.#looks % 100 === 0)
      await this.o.store.transaction((r) => r.radius.pruneAccessChanges(KEEP));
    // No authenticator to ask: nothing to do, and nothing to record for each device.
    if (this.o.authenticators.length === 0) changed.length = 0;
    for (let i = 0; i < changed.length; i += PARALLEL)
      await Promise.all(changed.slice(i, i + PARALLEL).map((c) => this.#reauthenticate(c)));
    if (since.everything || since.serials.length > 0) await this.#writeKeysIfChanged();
    if (certificateGone) await this.o.onCertificateGone?.();
    return changed;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.check()
        .catch((e: unknown) =>
          this.o.ctx.logger.error(
            { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
            'network: the look at who may connect failed',
          ),
        )
        .finally(() => this.#schedule());
    }, this.o.intervalMs ?? 2_000);
    this.#timer.unref();
  }

  async #reauthenticate(c: { serial: string; reason: string }): Promise<void> {
    const answers = await Promise.all(this.o.authenticators.map((a) => this.#ask(a, c.serial)));
    const failed = answers.some((a) => a.startsWith('failed'));
    const detail: Record<string, string> = { reason: c.reason };
    this.o.authenticators.forEach((a, i) => (detail[describe(a)] = answers[i]!));
    await this.o.store.transaction((r) =>
      r.events.record(
        [
          {
            serial: c.serial,
            action: 're-authentication requested',
            outcome: failed ? 'warning' : 'ok',
            detail,
          },
        ],
        this.o.ctx.clock.now(),
      ),
    );
    if (failed)
      this.o.ctx.logger.warn(
        { serial: c.serial },
        'network: an authenticator could not be asked to re-authenticate a device',
      );
  }

  async #ask(a: Authenticator, serial: string): Promise<Answer> {
    try {
      if ('das' in a) {
        const answer = await sendDisconnect(a.das, this.o.secret, { userName: serial });
        if (answer.acknowledged) return 'ended';
        if (answer.errorCause === 503) return 'not connected';
        return `failed: ${ERROR_CAUSE[answer.errorCause ?? 0] ?? 'Disconnect-NAK'}`;
      }
      return (await reauthenticateStation(a.hostapd, serial)) > 0
        ? 'reauthenticating'
        : 'not connected';
    } catch (e) {
      return `failed: ${isAirlockError(e) ? e.code : 'ERR_INTERNAL'}`;
    }
  }

  async #writeKeysIfChanged(): Promise<void> {
    if (!this.o.writeWifiKeys) return;
    const keys = (await this.o.store.run((r) => r.radius.wifiKeys()))
      .map((k) => `${k.serial} ${k.pskId} ${k.vlan ?? '-'}`)
      .join('\n');
    if (keys === this.#keys) return;
    await this.o.writeWifiKeys();
    this.#keys = keys;
  }
}

function bySerial(devices: readonly RadiusDevice[]): Map<string, RadiusDevice> {
  return new Map(devices.map((d) => [d.serial, d]));
}

function describe(a: Authenticator): string {
  return 'das' in a ? `das ${a.das.address}:${a.das.port}` : `hostapd ${a.hostapd.interface}`;
}
