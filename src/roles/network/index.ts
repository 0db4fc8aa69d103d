/**
 * The network role: the owner's network onboarding component (registrar with EST), its
 * PKI, the declarations it holds, and its inventory, over one database.
 */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Party } from '../../core/party.js';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { partyIdFromSpki } from '../../core/party.js';
import { toPem } from '../../core/bytes.js';
import * as fsp from 'node:fs/promises';
import { FreeRadius } from '../../adapters/radius/freeradius.js';
import { AccessWatch, type Authenticator } from './access-watch.js';
import { PortControl } from '../../adapters/radius/port-control.js';
import { Nftables } from '../../adapters/enforcement/nftables.js';
import { CA_RELOAD_SECONDS, postgresFromUrl } from '../../adapters/radius/freeradius-config.js';
import { pskFile } from '../../protocols/wifi/psk-file.js';
import { KeyRing } from '../../adapters/store/key-ring.js';
import type { NetworkDb } from '../../adapters/store/schema.js';
import type { OpenedDb } from '../../adapters/store/sqlite.js';
import { isDatabaseUrl, openRoleDatabase, roleSchema } from '../../adapters/store/open.js';
import { networkStore } from '../../adapters/store/network-repositories.js';
import type { NetworkStore } from '../../core/store.js';
import { networkMigrations } from '../../adapters/store/migrations/network.js';
import { Sealer } from '../../adapters/crypto/seal.js';
import { closeGracefully, createHttpsServer, listen } from '../../adapters/http/server.js';
import { serverLimitsOf } from '../../adapters/http/limits.js';
import { HttpMasaClient, type MasaClient } from '../../adapters/http/masa-client.js';
import { masaTlsAnchors, type AnyManufacturerTrust } from '../shared/trust.js';
import { TrustedManufacturers } from './manufacturers.js';
import { encodeCertsOnly } from '../../protocols/est/certs-only.js';
import {
  signOwnershipRequest,
  type OwnershipOp,
} from '../../protocols/declaration/ownership-request.js';
import { keyStoreOf, type RoleContext } from '../shared/context.js';
import { networkDefaults, type NetworkConfig } from './defaults.js';
import { openNetworkPki, type NetworkPki } from './pki.js';
import { Inventory } from './inventory.js';
import { NetworkDeclarations } from './declarations.js';
import { CRL_REFRESH_MS, CredentialIssuer } from './credentials.js';
import { Registrar } from './registrar.js';
import { registrarRoutes } from './routes.js';
import { AuthorizationService } from './authorization.js';
import type { VerifierPort } from '../../onboarding/registrar/ports.js';
import type { ReattestationOutcome } from '../../onboarding/registrar/reattestation.js';
import { tlsPledgeConnector } from '../../adapters/http/tls-pledge-channel.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { MudFetcher, type MudFetchPolicy } from '../../adapters/http/mud-fetcher.js';
import { DnsResolver, type AddressResolver } from '../../adapters/dns/resolver.js';
import { IntentManager, type Enforcement, type IntentSettings } from './intent-manager.js';

export interface NetworkOptions {
  ctx: RoleContext;
  /** The SQLite file, unless `databaseUrl` is given. */
  databaseFile: string;
  /** A postgres:// URL: the role's records in PostgreSQL (shared by several nodes), not in `databaseFile`. */
  databaseUrl?: string;
  /** False: a database that holds no keys of the role is ERR_CONFIG (no command creates keys as a side effect). Default true. */
  create?: boolean;
  kek: Uint8Array;
  /** The manufacturers this network trusts (their trust bundles). */
  manufacturers: AnyManufacturerTrust[];
  config?: Partial<NetworkConfig>;
  /** Replaces the HTTPS MASA client (a test can wire an attacker's MASA here). */
  masaClient?: MasaClient;
  /**
   * The verification service (steps 3 and 4): Airlock's or any verifier that speaks Veraison's
   * challenge-response API (src/adapters/http/verifier-client.ts). None: devices cannot attest,
   * and the policy judges every device as one without attestation.
   */
  verifier?: VerifierPort & { close?(): Promise<void> };
  /**
   * Device intent (steps 11 to 13, docs/INTENT.md): each device's MUD file fetched, verified
   * and enforced in nftables before its credentials are delivered. None: no rules.
   */
  intent?: NetworkIntentOptions;
}

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

export interface NetworkIntentOptions {
  settings: IntentSettings;
  /** nftables (src/adapters/enforcement/nftables.ts), in the gateway's namespace. */
  enforcement: Enforcement;
  /** How MUD files are fetched (HTTPS only unless it says otherwise; no inside addresses). */
  fetch?: MudFetchPolicy;
  /** Resolves the MUD files' DNS names; default: the system's resolvers. */
  resolver?: AddressResolver;
  /** MUD signing anchors besides the trusted manufacturers' `mudCa`. */
  anchors?: readonly Certificate[];
}

/**
 * The PostgreSQL URL each open database was opened with, password and all: FreeRADIUS is given
 * it (startRadius). Kept here, out of the Network's own fields, so that nothing that prints or
 * serializes a Network can show it.
 */
const databaseUrls = new WeakMap<OpenedDb<NetworkDb>, string>();

export class Network {
  private server: FastifyInstance | undefined;
  readonly cacertsBody: string;

  private constructor(
    readonly ctx: RoleContext,
    readonly config: NetworkConfig,
    private readonly opened: OpenedDb<NetworkDb>,
    /** The network's records, through a unit of work (core/store.ts). */
    readonly store: NetworkStore,
    readonly pki: NetworkPki,
    readonly owner: Party,
    readonly manufacturers: TrustedManufacturers,
    readonly masa: MasaClient,
    readonly declarations: NetworkDeclarations,
    readonly credentials: CredentialIssuer,
    readonly inventory: Inventory,
    readonly registrar: Registrar,
    readonly authorization: AuthorizationService,
    readonly verifier: (VerifierPort & { close?(): Promise<void> }) | undefined,
    /** The device intent manager, when the network enforces intent. */
    readonly intent: IntentManager | undefined,
  ) {
    this.cacertsBody = encodeCertsOnly([pki.domainCa.cert.der]);
  }

  static async open(opts: NetworkOptions): Promise<Network> {
    const config = { ...networkDefaults, ...opts.config };
    if (opts.databaseUrl !== undefined && !isDatabaseUrl(opts.databaseUrl))
      throw new AirlockError('ERR_CONFIG', 'the database URL must be a postgres:// URL');
    const location = opts.databaseUrl ?? opts.databaseFile;
    const store = await openRoleDatabase<NetworkDb>(location, networkMigrations, 'network');
    if (isDatabaseUrl(location)) databaseUrls.set(store, location);
    const sealer = new Sealer(opts.kek);
    const repos = networkStore(store.db);
    if (opts.create === false && !(await repos.run((r) => r.keys.get('domain-ca')))) {
      await store.close();
      throw new AirlockError('ERR_CONFIG', 'the database holds no network', {
        details: { hint: 'create it first: `airlock network init`' },
      });
    }
    const pki = await openNetworkPki(
      opts.ctx.crypto,
      new KeyRing(repos, 'net_keys', sealer, keyStoreOf(opts.ctx)),
      config.ownerName,
      config.hostnames,
      opts.ctx.clock.now(),
    );
    const owner: Party = {
      id: partyIdFromSpki(opts.ctx.crypto, pki.domainCa.cert.spki),
      name: config.ownerName,
    };
    const manufacturers = new TrustedManufacturers(opts.ctx.crypto, [...opts.manufacturers]);
    // The registrar's certificate authenticates this network to manufacturers (declarations, audit log).
    const masa =
      opts.masaClient ??
      new HttpMasaClient(
        masaTlsAnchors(opts.manufacturers)
          .map((c) => toPem('CERTIFICATE', c.der))
          .join(''),
        { key: pki.registrar.key, certChain: [pki.registrar.cert, pki.domainCa.cert] },
      );
    const declarations = new NetworkDeclarations(
      opts.ctx,
      repos,
      manufacturers,
      masa,
      config.realtimeDeclarations,
    );
    const credentials = new CredentialIssuer(opts.ctx, repos, pki, sealer, {
      ownerName: config.ownerName,
      ldevidValidityDays: config.ldevidValidityDays,
    });
    if (config.publicUrl) credentials.setPublicUrl(config.publicUrl);
    const inventory = new Inventory(repos);
    const intent = opts.intent
      ? new IntentManager(opts.ctx, repos, {
          settings: opts.intent.settings,
          enforcement: opts.intent.enforcement,
          fetcher: new MudFetcher(opts.intent.fetch),
          anchors: () => [
            ...opts.manufacturers.flatMap((m) => ('mudCa' in m && m.mudCa ? [m.mudCa] : [])),
            ...(opts.intent?.anchors ?? []),
          ],
          ...(opts.intent.resolver
            ? { resolver: opts.intent.resolver }
            : { resolver: new DnsResolver() }),
        })
      : undefined;
    try {
      await intent?.start();
    } catch (e) {
      await store.close();
      throw e;
    }
    const registrar = new Registrar(
      opts.ctx,
      repos,
      pki,
      config,
      manufacturers,
      masa,
      declarations,
      credentials,
      inventory,
      opts.verifier,
      intent,
    );
    return new Network(
      opts.ctx,
      config,
      store,
      repos,
      pki,
      owner,
      manufacturers,
      masa,
      declarations,
      credentials,
      inventory,
      registrar,
      new AuthorizationService(opts.ctx, repos, manufacturers),
      opts.verifier,
      intent,
    );
  }

  /**
   * The database itself, for inspection from outside (tests, the benchmark's final check).
   * Nothing in Airlock reads or writes through it: the role's work goes through `store`.
   */
  get db(): Kysely<NetworkDb> {
    return this.opened.db;
  }

  get databaseFile(): string {
    return this.opened.file;
  }

  /**
   * Decommissioning (report section 7): in one unit of work the device's LDevIDs are revoked
   * (cessationOfOperation: the next CRL lists them), its PSKs retired, its state made
   * `decommissioned` and the event recorded; then its intent rules leave the table. Its next
   * 802.1X authentication fails (the view `radius_devices` no longer admits it), the CRL in the
   * CA file of each FreeRADIUS it runs is rewritten to list its LDevIDs, and the Wi-Fi key file
   * no longer holds its key. It may be onboarded again, from scratch.
   * ERR_DEVICE_NOT_FOUND, nothing changed, for a device the network does not know.
   */
  async decommission(serial: string, reason = 'decommissioned by its owner'): Promise<void> {
    const at = this.ctx.clock.now();
    await this.store.transaction(async (r) => {
      const device = await r.devices.get(serial, { lock: true });
      if (!device)
        throw new AirlockError(
          'ERR_DEVICE_NOT_FOUND',
          'the network knows no device of that serial',
        );
      await r.credentials.supersede(serial, at, 'cessationOfOperation');
      await r.credentials.retirePsks(serial, at);
      await r.devices.update(serial, { state: 'decommissioned' }, at);
      await r.events.record(
        [{ serial, action: 'decommissioned', outcome: 'ok', detail: { reason } }],
        at,
      );
    });
    await forgetIntent(this.intent, serial);
    // The view shut the device out already; the CRL in FreeRADIUS's files follows now.
    for (const { refresh } of [...this.#radiusCrls.values()]) await this.#refreshCrl(refresh);
  }

  /**
   * hostapd's `wpa_psk_file` (docs/RADIUS.md): one line per device that may connect, its own
   * key and its segment's VLAN; none for a device decommissioned or not yet provisioned.
   * Written whole, atomically (a new file renamed over the old), mode 0600: hostapd needs the
   * keys in plain text, and this file is the one place they are. Returns how many keys it holds.
   */
  async writeWifiKeyFile(file: string): Promise<number> {
    const entries = await this.credentials.wifiKeys();
    await writeSecretFile(file, pskFile(entries));
    return entries.length;
  }

  /**
   * 802.1X (docs/RADIUS.md): FreeRADIUS for this network, EAP-TLS against its domain CA, reading
   * which devices it admits, and in which VLAN, from this database's view `radius_devices`. The
   * segments' VLANs are recorded once it is up (until then it admits nobody it did not already);
   * a refusal leaves them as they were. On SQLite FreeRADIUS opens the same file; on PostgreSQL
   * it connects as the network's own user, its password given in its environment only.
   */
  async startRadius(o: NetworkRadiusOptions): Promise<FreeRadius> {
    const url = databaseUrls.get(this.opened);
    if (url === undefined && (isDatabaseUrl(this.databaseFile) || this.databaseFile === ':memory:'))
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
      certificateChainPem: toPem('CERTIFICATE', this.pki.radius.cert.der) + this.domainCaPem(),
      keyPkcs8: await keyStoreOf(this.ctx).exportPkcs8(this.pki.radius.key),
      caPem: this.domainCaPem(),
      // EAP-TLS checks the domain CA's CRL (check_crl); #keepCrlFresh keeps it up to date.
      crlPem: toPem('X509 CRL', await this.credentials.crl()),
      ...(postgres
        ? { database: { postgresql: postgres.connection }, databasePassword: postgres.password }
        : { database: { sqlite: this.databaseFile } }),
      ...(o.binary ? { binary: o.binary } : {}),
      ...(o.onLog ? { onLog: o.onLog } : {}),
    });
    try {
      await this.store.transaction((r) => r.radius.setVlans(o.vlans));
    } catch (e) {
      await radius.stop();
      throw e;
    }
    this.#keepCrlFresh(radius, crlPeriod);
    let watch: AccessWatch;
    try {
      watch = await AccessWatch.start({
        store: this.store,
        ctx: this.ctx,
        authenticators: o.authenticators ?? [],
        secret: o.secret,
        ...(o.wifiKeyFile !== undefined
          ? { writeWifiKeys: () => this.writeWifiKeyFile(o.wifiKeyFile!) }
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
  async controlPort(o: {
    ctrl: string;
    interface: string;
    netns?: string;
    dir: string;
  }): Promise<PortControl> {
    const port = await PortControl.start({
      hostapd: { ctrl: o.ctrl, interface: o.interface },
      nft: new Nftables(o.netns !== undefined ? { netns: o.netns } : {}),
      dir: o.dir,
      onEvent: (e) => {
        if ('error' in e)
          this.ctx.logger.error(
            { code: e.error, port: o.interface },
            'network: a station could not be let in or shut out',
          );
        else
          this.ctx.logger.info(
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
        .then(async () => radius.updateCrl(toPem('X509 CRL', await this.credentials.crl()))));
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
      this.ctx.logger.error(
        { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
        'network: the CRL could not be given to FreeRADIUS',
      );
    }
  }

  /** The domain CA in PEM: what a device, or curl, trusts once onboarded. */
  domainCaPem(): string {
    return toPem('CERTIFICATE', this.pki.domainCa.cert.der);
  }

  /**
   * As the device's owner, asks its manufacturer to transfer it or to add or remove an
   * authorized onboarder. Signed with the registrar key, which the domain CA (the owner's
   * identity) certifies. Returns the new declaration chain.
   */
  async changeDeclaration(
    manufacturerUrl: string,
    op: DistributiveOmit<OwnershipOp, 'created-on' | 'previous'>,
  ): Promise<string[]> {
    const current = await this.masa.fetchDeclarationChain(manufacturerUrl, op['serial-number']);
    const { latestHash } = this.manufacturers.verifyDeclarations(
      current,
      op['serial-number'],
      this.ctx.clock.now(),
    );
    const request = signOwnershipRequest(
      this.ctx.crypto,
      this.pki.registrar.key,
      { signer: this.pki.registrar.cert, ownerCa: this.pki.domainCa.cert },
      {
        ...op,
        previous: latestHash,
        'created-on': this.ctx.clock.now().toISOString(),
      } as OwnershipOp,
    );
    return this.masa.sendOwnershipRequest(manufacturerUrl, op['serial-number'], request);
  }

  readonly #quarantineListeners = new Set<(o: ReattestationOutcome) => void>();
  #reattestTimer: ReturnType<typeof setInterval> | undefined;

  /** Called for each device a re-attestation marks for quarantine (report section 7). */
  onQuarantine(listener: (o: ReattestationOutcome) => void): () => void {
    this.#quarantineListeners.add(listener);
    return () => this.#quarantineListeners.delete(listener);
  }

  /**
   * Re-attestation (report section 7): every onboarded device that said where it answers (or
   * the one named) is asked for a fresh token over a connection on which it presents its
   * current LDevID; what the verifier and the policy find is recorded with it, and a device
   * no longer admitted is marked for quarantine.
   */
  async reattest(serial?: string): Promise<ReattestationOutcome[]> {
    const devices = (await this.store.run((r) => r.devices.reattestable())).filter(
      (d) => serial === undefined || d.serial === serial,
    );
    if (serial !== undefined && devices.length === 0)
      throw new AirlockError(
        'ERR_DEVICE_NOT_FOUND',
        'no onboarded device of that serial number answers re-attestation',
      );
    const connect = tlsPledgeConnector(keyStoreOf(this.ctx));
    const credentials = {
      chain: [this.pki.registrar.cert.der, this.pki.domainCa.cert.der],
      key: this.pki.registrar.key,
    };
    const ports = {
      connect: (url: string) =>
        connect(url, {
          credentials,
          limits: { handshakeTimeoutMs: 10_000, requestTimeoutMs: 30_000 },
        }),
      identify: (der: Uint8Array) =>
        this.manufacturers.identifyVerified(parseCertificate(der), this.ctx.clock.now()),
    };
    const outcomes: ReattestationOutcome[] = [];
    for (const d of devices) {
      const o = await this.registrar.reattest(ports, d);
      outcomes.push(o);
      if (o.quarantined) {
        this.ctx.logger.warn(
          { serial: o.serial, status: o.status },
          'network: re-attestation marked a device for quarantine',
        );
        await this.#confine(o);
        for (const l of this.#quarantineListeners) l(o);
      }
    }
    return outcomes;
  }

  /** A device re-attestation marked for quarantine: confined in the table too, when the network enforces intent. */
  async #confine(o: ReattestationOutcome): Promise<void> {
    if (!this.intent) return;
    try {
      await this.intent.quarantine(
        o.serial,
        `re-attestation: ${o.status ?? o.code ?? 'not admitted'}`,
      );
    } catch (e) {
      // A device onboarded before intent was enforced has no rules to confine.
      if (isAirlockError(e) && e.code === 'ERR_DEVICE_NOT_FOUND') return;
      this.ctx.logger.error(
        { serial: o.serial, code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
        'network: the device marked for quarantine could not be confined',
      );
    }
  }

  async serve(port: number, host = '127.0.0.1'): Promise<string> {
    const app = createHttpsServer({
      key: this.pki.registrar.key,
      certChain: [this.pki.registrar.cert, this.pki.domainCa.cert],
      requestClientCert: true,
      logger: this.ctx.logger,
      bodyLimit: this.config.bodyLimitBytes,
      limits: serverLimitsOf(this.config),
    });
    registrarRoutes(app, this);
    const { url } = await listen(app, port, host);
    if (!this.config.publicUrl) this.credentials.setPublicUrl(url);
    this.server = app;
    if (this.config.reattestationIntervalSeconds > 0) {
      this.#reattestTimer = setInterval(() => {
        this.reattest().catch((e: unknown) =>
          this.ctx.logger.error(
            { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
            'network: re-attestation round failed',
          ),
        );
      }, this.config.reattestationIntervalSeconds * 1000);
      this.#reattestTimer.unref();
    }
    this.ctx.logger.info({ url, owner: this.owner.id }, 'network: registrar listening');
    return url;
  }

  /**
   * Drains the registrar (requests in flight get up to `drainMs`, new ones a 503 problem),
   * then closes the MASA client and the database.
   */
  async close(drainMs = this.config.drainTimeoutMs): Promise<void> {
    clearInterval(this.#reattestTimer);
    for (const { timer } of this.#radiusCrls.values()) clearInterval(timer);
    this.#radiusCrls.clear();
    await Promise.all([...this.#accessWatches].map((w) => w.stop()));
    this.#accessWatches.clear();
    for (const port of this.#ports) await port.stop().catch(() => undefined);
    this.#ports.clear();
    this.intent?.stop();
    if (this.server) await closeGracefully(this.server, drainMs);
    await this.registrar.idle();
    await this.masa.close();
    await this.verifier?.close?.();
    await this.opened.close();
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** The device's intent rules out of the table, if the network enforces intent and it has any. */
export async function forgetIntent(
  intent: Pick<IntentManager, 'forget'> | undefined,
  serial: string,
): Promise<void> {
  try {
    await intent?.forget(serial);
  } catch (e) {
    if (!(isAirlockError(e) && e.code === 'ERR_DEVICE_NOT_FOUND')) throw e;
  }
}

/** `text` at `file`, mode 0600, replacing what was there in one rename. */
async function writeSecretFile(file: string, text: string): Promise<void> {
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    await fsp.writeFile(temporary, text, { mode: 0o600, flag: 'wx' });
    await fsp.rename(temporary, file);
  } catch (e) {
    await fsp.rm(temporary, { force: true });
    throw new AirlockError('ERR_CONFIG', `${file} cannot be written`, { cause: e });
  }
}
