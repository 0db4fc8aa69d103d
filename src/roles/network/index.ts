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
import type { FreeRadius } from '../../adapters/radius/freeradius.js';
import type { PortControl } from '../../adapters/radius/port-control.js';
import {
  AccessControl,
  type NetworkRadiusOptions,
  type PortControlSettings,
} from './access-control.js';
import { pskFile } from '../../protocols/wifi/psk-file.js';
import { KeyRing } from '../../adapters/store/key-ring.js';
import type { NetworkDb } from '../../adapters/store/schema.js';
import type { OpenedDb } from '../../adapters/store/sqlite.js';
import { isDatabaseUrl, openRoleDatabase } from '../../adapters/store/open.js';
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
import { CredentialIssuer } from './credentials.js';
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
import type { DppAkm } from '../../core/store.js';
import { DppConfigurator, type DppConfiguratorHandle, type DppServeOptions } from './dpp.js';

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

export type { NetworkRadiusOptions, PortControlSettings } from './access-control.js';

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
    /** Wi-Fi Easy Connect: the devices the owner added by their URI, and the Configurator (dpp.ts). */
    readonly dpp: DppConfigurator,
  ) {
    this.cacertsBody = encodeCertsOnly([pki.domainCa.cert.der]);
    this.access = new AccessControl({
      ctx,
      store,
      pki,
      credentials,
      databaseFile: opened.file,
      databaseUrl: databaseUrls.get(opened),
      writeWifiKeyFile: (file) => this.writeWifiKeyFile(file),
    });
  }

  /** 802.1X: FreeRADIUS, its CRL, the access watch, port control (access-control.ts). */
  readonly access: AccessControl;

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
      new DppConfigurator(opts.ctx, repos, sealer, credentials, pki, config.ssid, owner, intent),
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
    await this.access.revoked();
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

  /** 802.1X (docs/RADIUS.md): FreeRADIUS for this network; see access-control.ts. */
  startRadius(o: NetworkRadiusOptions): Promise<FreeRadius> {
    return this.access.startRadius(o);
  }

  /** 802.1X port control on a hostapd port; see access-control.ts. */
  controlPort(o: PortControlSettings): Promise<PortControl> {
    return this.access.controlPort(o);
  }

  /** Looks now for devices whose access changed; see access-control.ts. */
  checkAccess(): Promise<Array<{ serial: string; reason: string }>> {
    return this.access.checkAccess();
  }

  /**
   * Installs a manufacturer's declaration export file (report section 5.1.2), all or nothing;
   * then each device whose declaration names this network's owner and carries its DPP URI is
   * pre-registered for Wi-Fi Easy Connect (`dpp.addDeclared`, with `dppAkm`): no scan needed.
   */
  async importDeclarations(
    json: unknown,
    o: { dppAkm?: DppAkm } = {},
  ): Promise<{ installed: number; dppAdded: string[] }> {
    const { installed } = await this.declarations.importExport(json);
    const serials = (json as { devices: { 'serial-number': string }[] }).devices.map(
      (d) => d['serial-number'],
    );
    const added = await this.dpp.addDeclared(serials, o.dppAkm ? { akm: o.dppAkm } : {});
    return { installed, dppAdded: added.map((e) => e.serial) };
  }

  /**
   * Wi-Fi Easy Connect (docs/DPP.md): the DPP Configurator over TCP, with the network's own
   * bootstrapping keys, for the devices the owner added (`dpp.add`) or pre-registered; each gets
   * the credential it was added with. Returns the port and the network's DPP URI (P-256).
   */
  serveDpp(o: DppServeOptions = {}): Promise<DppConfiguratorHandle> {
    return this.dpp.serve(o);
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
    await this.dpp.stop();
    await this.access.stop();
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
