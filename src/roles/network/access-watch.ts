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
 *
 * It looks at the view `radius_devices` and the keys every `intervalMs`. So a change made by
 * any process sharing the database is seen: the CLI, another node.
 */
import { isAirlockError } from '../../core/errors.js';
import type { RadiusDevice } from '../../core/store.js';
import type { RoleContext } from '../shared/context.js';
import type { NetworkStore } from '../../core/store.js';
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
  /** How often it looks (default 2 s). */
  intervalMs?: number;
}

/** What one authenticator said. */
type Answer = 'ended' | 'reauthenticating' | 'not connected' | `failed: ${string}`;

/** Devices asked at once, at most. */
const PARALLEL = 16;

export class AccessWatch {
  #admitted = new Map<string, number>();
  #keys: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #round: Promise<void> = Promise.resolve();

  private constructor(private readonly o: AccessWatchOptions) {}

  /** Reads what is admitted now, writes the key file, and starts looking. */
  static async start(o: AccessWatchOptions): Promise<AccessWatch> {
    const w = new AccessWatch(o);
    w.#admitted = byVlan(await o.store.run((r) => r.radius.devices()));
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

  async #look(): Promise<Array<{ serial: string; reason: string }>> {
    const now = byVlan(await this.o.store.run((r) => r.radius.devices()));
    const changed: Array<{ serial: string; reason: string }> = [];
    for (const [serial, vlan] of this.#admitted) {
      const next = now.get(serial);
      if (next === undefined) changed.push({ serial, reason: 'no longer admitted' });
      else if (next !== vlan) changed.push({ serial, reason: `moved to VLAN ${next}` });
    }
    this.#admitted = now;
    for (let i = 0; i < changed.length; i += PARALLEL)
      await Promise.all(changed.slice(i, i + PARALLEL).map((c) => this.#reauthenticate(c)));
    await this.#writeKeysIfChanged();
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

function byVlan(devices: readonly RadiusDevice[]): Map<string, number> {
  return new Map(devices.map((d) => [d.serial, d.vlan]));
}

function describe(a: Authenticator): string {
  return 'das' in a ? `das ${a.das.address}:${a.das.port}` : `hostapd ${a.hostapd.interface}`;
}
