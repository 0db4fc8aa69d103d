/**
 * The network's side of secure connection establishment (NIST IR 8350 section 5.3,
 * docs/RADIUS.md): FreeRADIUS run for the network, reading who may connect from its database;
 * the CRL FreeRADIUS checks with, kept fresh; the watch that re-authenticates a device whose
 * access changed and rewrites the Wi-Fi key file (access-watch.ts); and 802.1X port control on
 * hostapd ports. Network delegates to it (Network.startRadius, controlPort, checkAccess).
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { toPem } from '../../core/bytes.js';
import type { NetworkStore } from '../../core/store.js';
import { FreeRadius } from '../../adapters/radius/freeradius.js';
import { CA_RELOAD_SECONDS, postgresFromUrl } from '../../adapters/radius/freeradius-config.js';
import { PortControl } from '../../adapters/radius/port-control.js';
import { Nftables } from '../../adapters/enforcement/nftables.js';
import { isDatabaseUrl, roleSchema } from '../../adapters/store/open.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { AccessWatch, type Authenticator } from './access-watch.js';
import { CRL_REFRESH_MS, type CredentialIssuer } from './credentials.js';
import type { NetworkPki } from './pki.js';

/** FreeRADIUS for the network (Network.startRadius, docs/RADIUS.md). */
export interface NetworkRadiusOptions {
  /** Where its configuration is written (emptied first). */
  dir: string;
  /** Where it listens (default 127.0.0.1:1812). */
  listen?: { address: string; port: number };
  /** The 802.1X authenticators that may ask it (addresses or prefixes). */
  clients: string[];
  /** Their RADIUS shared secret (16 characters or more); it is never written to a file. */
  secret: string;
  /** Each segment's VLAN; `quarantine` is the VLAN of devices marked for quarantine. */
  vlans: Readonly<Record<string, number>>;
  /** The program (default `freeradius`). */
  binary?: string;
  /** Each line FreeRADIUS logs once ready (default: dropped). */
  onLog?: (line: string) => void;
  /**
   * Who can make a device authenticate again when its access changes: RFC 5176 Dynamic
   * Authorization Servers (`{ das: { address, port } }`, with the RADIUS shared secret) and
   * hostapd control interfaces (`{ hostapd: { ctrl, interface } }`). access-watch.ts.
   */
  authenticators?: readonly Authenticator[];
  /** hostapd's `wpa_psk_file`, written at start and again whenever the keys change. */
  wifiKeyFile?: string;
  /** How often the network looks for devices whose access changed (default 2 s). */
  watchIntervalMs?: number;
  /**
   * How often the CRL in its CA file is brought up to date, in ms (default 5 min, at most
   * 50 min: RADIUS_CRL_PERIOD_MS).
   */
  crlRefreshMs?: number;
}

/**
 * How often, by default, the CRL FreeRADIUS checks with is brought up to date. FreeRADIUS never
 * checks with an expired one: credentials.crl() re-signs the CRL once 1 h or less of it is left
 * (CRL_REFRESH_MS); the new one is in FreeRADIUS's CA file within one period (5 min), and in
 * FreeRADIUS within 300 s more (CA_RELOAD_SECONDS). So the CRL it checks with has 60 - 5 - 5 =
 * 50 min or more left. A period may be at most 60 - 5 - 5 = 50 min, leaving 5 min spare.
 */
export const RADIUS_CRL_PERIOD_MS = 300_000;
const RADIUS_CRL_PERIOD_MAX_MS = CRL_REFRESH_MS - 2 * CA_RELOAD_SECONDS * 1000;

/** A hostapd port whose traffic the network controls (Network.controlPort). */
export interface PortControlSettings {
  /** hostapd's control directory and the port's interface. */
  ctrl: string;
  interface: string;
  /** The namespace the port's interface is in. */
  netns?: string;
  /** A directory of its own. */
  dir: string;
}

export interface AccessControlDeps {
  ctx: RoleContext;
  store: NetworkStore;
  pki: NetworkPki;
  credentials: CredentialIssuer;
  /** The network's SQLite file, or its PostgreSQL URL without the password. */
  databaseFile: string;
  /** The PostgreSQL URL with its password, when the network is on PostgreSQL. */
  databaseUrl: string | undefined;
  writeWifiKeyFile(file: string): Promise<number>;
}

export class AccessControl {
  constructor(private readonly deps: AccessControlDeps) {}

  #domainCaPem(): string {
    return toPem('CERTIFICATE', this.deps.pki.domainCa.cert.der);
  }

  /**
   * 802.1X (docs/RADIUS.md): FreeRADIUS for this network, EAP-TLS against its domain CA, reading
   * which devices it admits, and in which VLAN, from this database's view `radius_devices`. The
   * segments' VLANs are recorded once it is up (until then it admits nobody it did not already);
   * a refusal leaves them as they were. On SQLite FreeRADIUS opens the same file; on PostgreSQL
   * it connects as the network's own user, its password given in its environment only.
   */
  async startRadius(o: NetworkRadiusOptions): Promise<FreeRadius> {
    const url = this.deps.databaseUrl;
    if (
      url === undefined &&
      (isDatabaseUrl(this.deps.databaseFile) || this.deps.databaseFile === ':memory:')
    )
      throw new AirlockError(
        'ERR_CONFIG',
        "FreeRADIUS reads the network's database file or PostgreSQL; this network has neither",
      );
    const postgres = url !== undefined ? postgresFromUrl(url, roleSchema('network')) : undefined;
    for (const [segment, vlan] of Object.entries(o.vlans))
      if (!Number.isInteger(vlan) || vlan < 1 || vlan > 4094)
        throw new AirlockError('ERR_CONFIG', `segment ${JSON.stringify(segment)}: VLAN 1 to 4094`);
    const crlPeriod = o.crlRefreshMs ?? RADIUS_CRL_PERIOD_MS;
    if (!Number.isInteger(crlPeriod) || crlPeriod < 100 || crlPeriod > RADIUS_CRL_PERIOD_MAX_MS)
      throw new AirlockError(
        'ERR_CONFIG',
        `the CRL's refresh period is 100 ms to ${RADIUS_CRL_PERIOD_MAX_MS / 60_000} min`,
      );
    // FreeRADIUS first: settings it refuses, or a FreeRADIUS that does not start, change nothing.
    const radius = await FreeRadius.start({
      dir: o.dir,
      listen: o.listen ?? { address: '127.0.0.1', port: 1812 },
      clients: o.clients,
      secret: o.secret,
      certificateChainPem:
        toPem('CERTIFICATE', this.deps.pki.radius.cert.der) + this.#domainCaPem(),
      keyPkcs8: await keyStoreOf(this.deps.ctx).exportPkcs8(this.deps.pki.radius.key),
      caPem: this.#domainCaPem(),
      // EAP-TLS checks the domain CA's CRL (check_crl); #keepCrlFresh keeps it up to date.
      crlPem: toPem('X509 CRL', await this.deps.credentials.crl()),
      ...(postgres
        ? { database: { postgresql: postgres.connection }, databasePassword: postgres.password }
        : { database: { sqlite: this.deps.databaseFile } }),
      ...(o.binary ? { binary: o.binary } : {}),
      ...(o.onLog ? { onLog: o.onLog } : {}),
    });
    try {
      await this.deps.store.transaction((r) => r.radius.setVlans(o.vlans));
    } catch (e) {
      await radius.stop();
      throw e;
    }
    this.#keepCrlFresh(radius, crlPeriod);
    let watch: AccessWatch;
    try {
      watch = await AccessWatch.start({
        store: this.deps.store,
        ctx: this.deps.ctx,
        authenticators: o.authenticators ?? [],
        secret: o.secret,
        ...(o.wifiKeyFile !== undefined
          ? { writeWifiKeys: () => this.deps.writeWifiKeyFile(o.wifiKeyFile!) }
          : {}),
        ...(o.watchIntervalMs !== undefined ? { intervalMs: o.watchIntervalMs } : {}),
        onCertificateGone: async () => {
          const crl = this.#radiusCrls.get(radius);
          if (crl) await this.#refreshCrl(crl.refresh);
        },
      });
    } catch (e) {
      await radius.stop();
      throw e;
    }
    this.#accessWatches.add(watch);
    void radius.whenStopped().then(async () => {
      this.#accessWatches.delete(watch);
      await watch.stop();
    });
    return radius;
  }

  /**
   * 802.1X port control on a hostapd port (docs/RADIUS.md): the port's nftables ingress filter
   * lets through EAPOL and the frames of the stations hostapd reports authorized, nothing else,
   * and follows hostapd's events. `netns`: where the port's interface is. Stopped with the
   * network, or by `stop()`: then the port no longer filters.
   */
  async controlPort(o: PortControlSettings): Promise<PortControl> {
    const port = await PortControl.start({
      hostapd: { ctrl: o.ctrl, interface: o.interface },
      nft: new Nftables(o.netns !== undefined ? { netns: o.netns } : {}),
      dir: o.dir,
      onEvent: (e) => {
        if ('error' in e)
          this.deps.ctx.logger.error(
            { code: e.error, port: o.interface },
            'network: a station could not be let in or shut out',
          );
        else
          this.deps.ctx.logger.info(
            { station: e.station, port: o.interface, authorized: e.authorized },
            e.authorized
              ? 'network: port opened to a station'
              : 'network: port closed to a station',
          );
      },
    });
    this.#ports.add(port);
    return port;
  }

  readonly #ports = new Set<PortControl>();

  /** Each FreeRADIUS's look at who may connect (access-watch.ts), while it runs. */
  readonly #accessWatches = new Set<AccessWatch>();

  /**
   * Looks now for devices whose access changed (what each FreeRADIUS's watch does every
   * `watchIntervalMs`): asks their authenticators to re-authenticate them, and rewrites the
   * Wi-Fi key file if the keys changed. Returns the devices asked about.
   */
  async checkAccess(): Promise<Array<{ serial: string; reason: string }>> {
    const all = await Promise.all([...this.#accessWatches].map((w) => w.check()));
    return all.flat();
  }

  /** Each FreeRADIUS this network runs: how its CRL is brought up to date, and the timer. */
  readonly #radiusCrls = new Map<
    FreeRadius,
    { refresh: () => Promise<boolean>; timer: ReturnType<typeof setInterval> }
  >();

  /**
   * Keeps the CRL `radius` checks with up to date: every `periodMs` (unref'd, stopped when it
   * stops) and after each decommissioning, the CRL credentials.crl() gives (re-signed when a
   * revocation was added or within 1 h of its next update) replaces the one in its CA file when
   * it differs. One at a time, so an older CRL never replaces a newer one.
   */
  #keepCrlFresh(radius: FreeRadius, periodMs: number): void {
    let last: Promise<boolean> = Promise.resolve(false);
    const refresh = () =>
      (last = last
        .catch(() => false)
        .then(async () => radius.updateCrl(toPem('X509 CRL', await this.deps.credentials.crl()))));
    const timer = setInterval(() => void this.#refreshCrl(refresh), periodMs);
    timer.unref();
    this.#radiusCrls.set(radius, { refresh, timer });
    void radius.whenStopped().then(() => {
      clearInterval(timer);
      this.#radiusCrls.delete(radius);
    });
  }

  /** One refresh of a FreeRADIUS's CRL; a failure is logged (its code only), never thrown. */
  async #refreshCrl(refresh: () => Promise<boolean>): Promise<void> {
    try {
      await refresh();
    } catch (e) {
      this.deps.ctx.logger.error(
        { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
        'network: the CRL could not be given to FreeRADIUS',
      );
    }
  }

  /** After a revocation in this process: the CRL of each FreeRADIUS follows at once. */
  async revoked(): Promise<void> {
    for (const { refresh } of [...this.#radiusCrls.values()]) await this.#refreshCrl(refresh);
  }

  /** Stops the timers, the watches and the port controls (FreeRADIUS itself is its owner's). */
  async stop(): Promise<void> {
    for (const { timer } of this.#radiusCrls.values()) clearInterval(timer);
    this.#radiusCrls.clear();
    await Promise.all([...this.#accessWatches].map((w) => w.stop()));
    this.#accessWatches.clear();
    for (const port of this.#ports) await port.stop().catch(() => undefined);
    this.#ports.clear();
  }
}
