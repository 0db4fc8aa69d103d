/**
 * The composition root: each role opened from a data directory, every role in one process on
 * loopback (`airlock up`), and the demonstration that mints, sells and onboards a handful of
 * devices. Above the roles, below the CLI: no role depends on it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeCrypto } from '../adapters/crypto/node-crypto.js';
import { MemorySecureStore } from '../adapters/secure-store/memory-store.js';
import { softwareKeyStore } from '../adapters/crypto/software-key-store.js';
import { loadKek } from '../adapters/crypto/kek.js';
import type { Logger } from '../adapters/log/logger.js';
import { isDatabaseUrl } from '../adapters/store/open.js';
import type { Clock, SecureStore } from '../core/ports.js';
import { systemClock } from '../core/ports.js';
import { toHex, toPem, utf8 } from '../core/bytes.js';
import { AirlockError, isAirlockError } from '../core/errors.js';
import type { OnboardingStepNumber } from '../core/onboarding-steps.js';
import { Manufacturer } from '../roles/manufacturer/index.js';
import { Network, type NetworkIntentOptions } from '../roles/network/index.js';
import { DeviceAgent, type OnboardingReport } from '../roles/device/agent.js';
import type { RoleContext } from '../roles/shared/context.js';
import type { ManufacturerConfig } from '../roles/manufacturer/defaults.js';
import type { NetworkConfig } from '../roles/network/defaults.js';
import type { AnyManufacturerTrust } from '../roles/shared/trust.js';
import { Verifier, type ManufacturerTrustInput } from '../roles/verifier/index.js';
import { LocalVerifierClient } from '../roles/verifier/local-client.js';
import type { VerifierConfig } from '../roles/verifier/defaults.js';
import { HttpVerifierClient, type EcPublicJwk } from '../adapters/http/verifier-client.js';
import { agentImage, fileMeasuredBoot, sha256File } from '../adapters/device/measured-boot.js';
import type { VerifierPort } from '../onboarding/registrar/ports.js';

export interface SystemOptions {
  dataDir: string;
  /** A postgres:// URL for both roles' records (each in a schema of its own); default: SQLite files in `dataDir`, or AIRLOCK_DATABASE_URL. */
  databaseUrl?: string;
  logger: Logger;
  clock?: Clock;
  manufacturerPort?: number;
  networkPort?: number;
  manufacturer?: Partial<ManufacturerConfig>;
  network?: Partial<NetworkConfig>;
  /**
   * The verification service (steps 3 and 4), on loopback beside the others; default on.
   * Off: no verifier, and devices onboard only if the network's policy admits them without
   * attestation (the benchmark's `--attestation off`).
   */
  attestation?: boolean;
  verifierPort?: number;
  verifier?: Partial<VerifierConfig>;
  /**
   * How the registrar reaches the verifier beside it: 'in-process' (default), calling it
   * directly, or 'https', over Veraison's API on loopback as a verifier elsewhere is reached.
   */
  verifierTransport?: 'in-process' | 'https';
  /**
   * Device intent (docs/INTENT.md): the network enforces each device's MUD file in nftables.
   * The manufacturer beside it serves the files on loopback, which the network may then reach
   * (a lab's exception to its fetching policy), over TLS that chains to the manufacturer's root.
   */
  intent?: Omit<NetworkIntentOptions, 'fetch'>;
}

export interface System {
  ctx: RoleContext;
  manufacturer: Manufacturer;
  network: Network;
  /** The verification service; undefined when the system runs without attestation. */
  verifier: Verifier | undefined;
  manufacturerUrl: string;
  registrarUrl: string;
  verifierUrl: string | undefined;
  close(): Promise<void>;
}

export type RoleName = 'manufacturer' | 'network' | 'verifier';

/** Whether `dataDir` holds the role (its database, and so its keys). */
export function hasRole(dataDir: string, role: RoleName): boolean {
  return fs.existsSync(path.join(dataDir, `${role}.db`));
}

export interface OpenRoleOptions {
  /**
   * Create the role (its database, key-encryption key and keys) when `dataDir` holds none.
   * Without it, a missing role is ERR_CONFIG naming the command that creates it: no command
   * creates keys as a side effect.
   */
  create?: boolean;
  /** The network's verification service (openNetwork only). */
  verifier?: VerifierPort & { close?(): Promise<void> };
  /** The network's device intent manager (openNetwork only; docs/INTENT.md). */
  intent?: NetworkIntentOptions;
  /**
   * A postgres:// URL: the role's records live there (several nodes may share them), not in
   * `<dataDir>/<role>.db`. Default: AIRLOCK_DATABASE_URL, when set. The data directory still
   * holds what is the node's own (the key-encryption key file of development setups).
   */
  databaseUrl?: string;
}

/** The database URL the options or the environment name, if any. */
export function databaseUrlOf(opts: { databaseUrl?: string }): string | undefined {
  const url = opts.databaseUrl ?? process.env.AIRLOCK_DATABASE_URL;
  if (url === undefined || url === '') return undefined;
  // A mistyped URL must not become a SQLite file of that name: another network, silently.
  if (!isDatabaseUrl(url))
    throw new AirlockError('ERR_CONFIG', 'AIRLOCK_DATABASE_URL must be a postgres:// URL', {
      details: {
        hint: 'postgres://user@host:5432/database (the password in PGPASSWORD or ~/.pgpass)',
      },
    });
  return url;
}

function requireRole(dataDir: string, role: RoleName, opts: OpenRoleOptions): void {
  // In a shared database, the role opens only if the database holds its keys (Network.open).
  if (opts.create || databaseUrlOf(opts) !== undefined || hasRole(dataDir, role)) return;
  throw new AirlockError('ERR_CONFIG', `no ${role} in ${dataDir}`, {
    details: {
      hint: `run \`airlock ${role} init --data-dir ${dataDir}\` (or \`airlock up\`) first`,
    },
  });
}

/** Where the manufacturer records the URL it last served at: IDevIDs minted later name it. */
function publicUrlFile(dataDir: string): string {
  return path.join(dataDir, 'manufacturer.url');
}

/**
 * The manufacturer role over `<dataDir>/manufacturer.db`. Its key-encryption key comes from
 * AIRLOCK_MANUFACTURER_KEK, else from `<dataDir>/keys/manufacturer.kek` (a development default).
 * Unless `config` names one, its public URL is the one it last served at (`serveManufacturer`).
 */
export async function openManufacturer(
  ctx: RoleContext,
  dataDir: string,
  config?: Partial<ManufacturerConfig>,
  opts: OpenRoleOptions = {},
): Promise<Manufacturer> {
  requireRole(dataDir, 'manufacturer', opts);
  const kek = loadKek({
    envVar: 'AIRLOCK_MANUFACTURER_KEK',
    file: path.join(dataDir, 'keys', 'manufacturer.kek'),
  });
  if (kek.origin === 'file')
    ctx.logger.warn(
      'manufacturer: the key-encryption key is a file beside the data (development default); set AIRLOCK_MANUFACTURER_KEK in production',
    );
  const served =
    config?.publicUrl === undefined && fs.existsSync(publicUrlFile(dataDir))
      ? fs.readFileSync(publicUrlFile(dataDir), 'utf8').trim()
      : undefined;
  const urls =
    served && /^https:\/\/[^\s]+$/.test(served)
      ? { publicUrl: served, mudBaseUrl: `${served}/mud` }
      : {};
  const databaseUrl = databaseUrlOf(opts);
  return Manufacturer.open({
    ctx,
    databaseFile: path.join(dataDir, 'manufacturer.db'),
    ...(databaseUrl ? { databaseUrl } : {}),
    create: opts.create === true,
    kek: kek.kek,
    config: { ...urls, ...config },
  });
}

/** Serves the manufacturer and records its URL in `dataDir`, so that later mints (`airlock manufacturer mint`) name it. */
export async function serveManufacturer(
  m: Manufacturer,
  dataDir: string,
  port: number,
  host?: string,
): Promise<string> {
  const url = await m.serve(port, host);
  fs.writeFileSync(publicUrlFile(dataDir), `${url}\n`, { mode: 0o600 });
  return url;
}

/** The network role over `<dataDir>/network.db`; its key from AIRLOCK_NETWORK_KEK or `<dataDir>/keys/network.kek`. */
export async function openNetwork(
  ctx: RoleContext,
  dataDir: string,
  manufacturers: AnyManufacturerTrust[],
  config?: Partial<NetworkConfig>,
  opts: OpenRoleOptions = {},
): Promise<Network> {
  requireRole(dataDir, 'network', opts);
  const kek = loadKek({
    envVar: 'AIRLOCK_NETWORK_KEK',
    file: path.join(dataDir, 'keys', 'network.kek'),
  });
  if (kek.origin === 'file')
    ctx.logger.warn(
      'network: the key-encryption key is a file beside the data (development default); set AIRLOCK_NETWORK_KEK in production',
    );
  const databaseUrl = databaseUrlOf(opts);
  return Network.open({
    ctx,
    databaseFile: path.join(dataDir, 'network.db'),
    ...(databaseUrl ? { databaseUrl } : {}),
    create: opts.create === true,
    kek: kek.kek,
    manufacturers,
    config,
    ...(opts.verifier ? { verifier: opts.verifier } : {}),
    ...(opts.intent ? { intent: opts.intent } : {}),
  });
}

/**
 * The verification service over `<dataDir>/verifier.db` (or the PostgreSQL database the options
 * or AIRLOCK_DATABASE_URL name), trusting `manufacturers`; its key-encryption key from
 * AIRLOCK_VERIFIER_KEK, else `<dataDir>/keys/verifier.kek` (a development default).
 */
export async function openVerifier(
  ctx: RoleContext,
  dataDir: string,
  manufacturers: ManufacturerTrustInput[],
  config?: Partial<VerifierConfig>,
  opts: OpenRoleOptions = {},
): Promise<Verifier> {
  requireRole(dataDir, 'verifier', opts);
  const kek = loadKek({
    envVar: 'AIRLOCK_VERIFIER_KEK',
    file: path.join(dataDir, 'keys', 'verifier.kek'),
  });
  if (kek.origin === 'file')
    ctx.logger.warn(
      'verifier: the key-encryption key is a file beside the data (development default); set AIRLOCK_VERIFIER_KEK in production',
    );
  const databaseUrl = databaseUrlOf(opts);
  return Verifier.open({
    ctx,
    databaseFile: path.join(dataDir, 'verifier.db'),
    ...(databaseUrl ? { databaseUrl } : {}),
    create: opts.create === true,
    kek: kek.kek,
    manufacturers,
    ...(config ? { config } : {}),
  });
}

/**
 * Serves the verifier (and starts pulling reference values from manufacturers that have a
 * URL); its URL. With `dataDir`, the URL is recorded there for the commands that ask it
 * (`airlock network reattest`).
 */
export async function serveVerifier(
  v: Verifier,
  port: number,
  host?: string,
  dataDir?: string,
): Promise<string> {
  const url = await v.serve(port, host);
  if (dataDir !== undefined)
    fs.writeFileSync(path.join(dataDir, 'verifier.url'), `${url}\n`, { mode: 0o600 });
  return url;
}

/**
 * A client of the verifier a command should tell or ask: the one named (URL and trust file,
 * both), else the one `airlock up` runs in `dataDir` (its trust from its database, its URL from
 * its last start); undefined when there is none.
 */
export async function verifierClientOf(
  ctx: RoleContext,
  dataDir: string,
  named: { url?: string; trust?: { tlsCaPem: string; earKey: EcPublicJwk } } = {},
): Promise<HttpVerifierClient | undefined> {
  if ((named.url === undefined) !== (named.trust === undefined))
    throw new AirlockError('ERR_CONFIG', '--verifier-url and --verifier-trust go together');
  if (named.url !== undefined && named.trust !== undefined)
    return new HttpVerifierClient(named.url, {
      tlsCaPem: named.trust.tlsCaPem,
      earKey: named.trust.earKey,
    });
  const url = servedVerifierUrl(dataDir);
  if (!url || !hasRole(dataDir, 'verifier')) return undefined;
  const v = await openVerifier(ctx, dataDir, []);
  try {
    const info = v.trustInfo();
    return new HttpVerifierClient(url, { tlsCaPem: info.tlsCaPem, earKey: info.earKeyJwk });
  } finally {
    await v.close();
  }
}

/** The URL the verifier of `dataDir` last served at, if any. */
export function servedVerifierUrl(dataDir: string): string | undefined {
  const file = path.join(dataDir, 'verifier.url');
  if (!fs.existsSync(file)) return undefined;
  const url = fs.readFileSync(file, 'utf8').trim();
  return /^https:\/\/[^\s]+$/.test(url) ? url : undefined;
}

export async function startSystem(opts: SystemOptions): Promise<System> {
  const ctx: RoleContext = {
    crypto: new NodeCrypto(),
    clock: opts.clock ?? systemClock,
    logger: opts.logger,
    keys: softwareKeyStore,
  };
  // Each role its own crypto (and so its own key and verification caches), as on its own machine.
  const db = opts.databaseUrl !== undefined ? { databaseUrl: opts.databaseUrl } : {};
  const manufacturer = await openManufacturer(
    { ...ctx, crypto: new NodeCrypto() },
    opts.dataDir,
    opts.manufacturer,
    { create: true, ...db },
  );
  let network: Network | undefined;
  let verifier: Verifier | undefined;
  let verifierClient: (VerifierPort & { close?(): Promise<void> }) | undefined;
  try {
    const manufacturerUrl = await serveManufacturer(
      manufacturer,
      opts.dataDir,
      opts.manufacturerPort ?? 0,
    );
    let verifierUrl: string | undefined;
    if (opts.attestation !== false) {
      const v = (verifier = await openVerifier(
        { ...ctx, crypto: new NodeCrypto() },
        opts.dataDir,
        [
          {
            party: manufacturer.party,
            root: manufacturer.pki.root.cert,
            endorsementsCa: manufacturer.pki.endorsementsCa.cert,
            url: manufacturerUrl,
          },
        ],
        opts.verifier,
        { create: true, ...db },
      ));
      verifierUrl = await serveVerifier(v, opts.verifierPort ?? 0, undefined, opts.dataDir);
      // In one process the manufacturer hands every change of its reference values to the
      // verifier at once (on their own machines the verifier pulls them on a timer).
      manufacturer.firmware.onChange(async (document) => {
        await v.provision(document);
      });
      await provisionCurrent(manufacturer, v);
      const info = v.trustInfo();
      verifierClient =
        opts.verifierTransport === 'https'
          ? new HttpVerifierClient(verifierUrl, { tlsCaPem: info.tlsCaPem, earKey: info.earKeyJwk })
          : new LocalVerifierClient(v);
    }
    network = await openNetwork(
      { ...ctx, crypto: new NodeCrypto() },
      opts.dataDir,
      [manufacturer.trustBundle()],
      opts.network,
      {
        create: true,
        ...db,
        ...(verifierClient ? { verifier: verifierClient } : {}),
        ...(opts.intent
          ? {
              intent: {
                ...opts.intent,
                fetch: {
                  ca: toPem('CERTIFICATE', manufacturer.pki.root.cert.der),
                  allowedPrefixes: ['127.0.0.1/32'],
                },
              },
            }
          : {}),
      },
    );
    const registrarUrl = await network.serve(opts.networkPort ?? 0);
    const net = network;
    const ver = verifier;
    return {
      ctx,
      manufacturer,
      network: net,
      verifier: ver,
      manufacturerUrl,
      registrarUrl,
      verifierUrl,
      async close() {
        await net.close();
        await ver?.close();
        await manufacturer.close();
      },
    };
  } catch (e) {
    // A port in use, say: close what was opened, so that the caller can exit cleanly.
    await network?.close().catch(() => undefined);
    if (!network) await verifierClient?.close?.().catch(() => undefined);
    await verifier?.close().catch(() => undefined);
    await manufacturer.close().catch(() => undefined);
    throw e;
  }
}

/** Hands the manufacturer's current reference values to the verifier, if it has released any. */
async function provisionCurrent(manufacturer: Manufacturer, verifier: Verifier): Promise<void> {
  let document: string;
  try {
    document = await manufacturer.firmware.referenceValues();
  } catch (e) {
    if (isAirlockError(e, 'ERR_NOT_FOUND')) return;
    throw e;
  }
  await verifier.provision(document);
}

/**
 * The release of `image` for `model`: the one already released with its digest, else a new
 * version after the model's latest (an image that changed is a new release, never the old one).
 */
export async function releaseImage(
  manufacturer: Manufacturer,
  model: string,
  name: string,
  image: string,
): Promise<{ name: string; version: string; digest: string }> {
  const digest = await sha256File(image);
  const releases = (await manufacturer.firmware.list()).filter((f) => f.model === model);
  const same = releases.find((f) => f.digest === digest && f.status === 'released');
  if (same) return { name: same.name, version: same.version, digest };
  const latest = releases
    .map((f) => f.version.split('.').map(Number))
    .sort((a, b) => {
      for (let i = 0; i < Math.max(a.length, b.length); i++)
        if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
      return 0;
    })
    .at(-1);
  const version = latest ? `${latest[0] ?? 1}.${latest[1] ?? 0}.${(latest[2] ?? 0) + 1}` : '1.0.0';
  await manufacturer.firmware.release({ model, version, name, digest });
  return { name, version, digest };
}

/** A copy of the agent's own code file in `dir`: the demonstration's firmware image. */
function copyAgentImage(dir: string): string {
  const source = agentImage();
  const image = path.join(dir, path.basename(source));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written whole under another name, then renamed: a reader never sees half an image.
  const tmp = `${image}.${process.pid}.tmp`;
  try {
    fs.copyFileSync(source, tmp);
    fs.renameSync(tmp, image);
  } catch (cause) {
    fs.rmSync(tmp, { force: true });
    throw new AirlockError('ERR_CONFIG', `the agent's code file ${source} cannot be copied`, {
      cause,
    });
  }
  return image;
}

export interface DemoResult {
  devices: number;
  onboarded: number;
  failed: number;
  uniqueCredentials: boolean;
  /** NIST IR 8350 Figure 9 step numbers performed, in the order first performed. */
  steps: OnboardingStepNumber[];
  results: Array<{
    serialNumber: string;
    ok: boolean;
    ldevidSerial?: string;
    error?: string;
    steps?: number[];
  }>;
  /** The device onboarded over Wi-Fi Easy Connect, when the demonstration ran one. */
  dpp?: { serialNumber: string; ok: boolean; kind?: string };
}

export interface DemoEvents {
  onStep?(message: string): void;
}

/**
 * Mints `count` devices, sells them to the network's owner, installs half of their
 * declarations from an export file (the rest are fetched in real time), and onboards each.
 */
export async function runDemo(
  sys: System,
  opts: {
    count: number;
    store: (i: number) => Promise<SecureStore>;
    /** Where the devices' firmware image is kept (a copy of the agent's own code file). */
    firmwareDir: string;
    model?: string;
    /** One more device onboarded over Wi-Fi Easy Connect (default: yes). */
    dpp?: boolean;
  } & DemoEvents,
): Promise<DemoResult> {
  const say = opts.onStep ?? (() => undefined);
  const { manufacturer, network } = sys;
  const agents: DeviceAgent[] = [];
  const model = opts.model ?? 'thermostat-t1';
  // The devices' firmware is the Airlock agent itself: a copy of the file this process runs,
  // which the devices measure at each onboarding. A copy, because that file may go while the
  // process runs: the CLI runs from a bundle in a cache that other CLI processes prune
  // (bin/airlock.js), and a device that could not read its image would not onboard.
  const image = copyAgentImage(opts.firmwareDir);
  const firmware = await releaseImage(manufacturer, model, 'airlock-agent', image);
  const measuredBoot = fileMeasuredBoot({ image, name: firmware.name, version: firmware.version });
  say(
    `manufacturer releases firmware ${firmware.name} ${firmware.version} for ${model} (SHA-256 ${firmware.digest.slice(0, 12)}... of ${path.basename(image)}); the verifier holds its reference values`,
  );
  say(
    `manufacturer "${manufacturer.config.name}" (party ${manufacturer.party.id.slice(0, 12)}...) mints ${opts.count} device(s)`,
  );
  for (let i = 0; i < opts.count; i++) {
    const store = await opts.store(i);
    const birth = await manufacturer.factory.mint(store, { model });
    await manufacturer.sell(birth.serialNumber, network.owner);
    agents.push(new DeviceAgent(store, sys.ctx, { measuredBoot }));
    say(
      `  minted ${birth.serialNumber}: IDevID, declaration #0 (owner: manufacturer); sold to "${network.owner.name}": declaration #1`,
    );
  }
  const half = agents.slice(0, Math.ceil(agents.length / 2));
  const exported = await manufacturer.declarations.exportFor(network.owner.id);
  const wanted = new Set(await Promise.all(half.map(async (a) => (await a.birth()).serialNumber)));
  const { installed } = await network.importDeclarations({
    ...exported,
    devices: exported.devices.filter((d) => wanted.has(d['serial-number'])),
  });
  say(
    `network "${network.owner.name}" installs ${installed} declaration(s) from the manufacturer's export file; the rest are fetched in real time`,
  );

  const results: DemoResult['results'] = [];
  const steps: OnboardingStepNumber[] = [];
  for (const agent of agents) {
    const serial = (await agent.birth()).serialNumber;
    try {
      const r: OnboardingReport = await agent.onboard(sys.registrarUrl);
      for (const s of r.steps) if (!steps.includes(s.step)) steps.push(s.step);
      results.push({
        serialNumber: serial,
        ok: true,
        ldevidSerial: r.ldevidSerial,
        steps: r.steps.map((s) => s.step),
      });
      say(
        `  ${serial} onboarded to "${r.networkOwner.name}" (LDevID ${r.ldevidSerial.slice(0, 12)}..., SSID ${r.ssid}):`,
      );
      for (const s of r.steps) say(`    step ${String(s.step).padStart(2)}  ${s.name}`);
      const rec = await network.inventory.device(serial);
      say(
        `    network: step 4 attestation ${rec.attestation_status ?? 'none'}; step 8 policy ${rec.decision ?? 'none'}, segment ${rec.segment ?? '-'} (rule ${rec.policy_rule ?? '-'})`,
      );
    } catch (e) {
      results.push({
        serialNumber: serial,
        ok: false,
        error: isAirlockError(e) ? e.code : 'ERR_INTERNAL',
      });
      say(`  ${serial} FAILED: ${isAirlockError(e) ? e.code : (e as Error).message}`);
    }
  }
  const dpp = opts.dpp === false ? undefined : await demoDpp(sys, model, say);
  const creds = await Promise.all(agents.map((a) => a.onboardingCredentials()));
  const fingerprints = creds
    .flatMap((c) => (c ? [c.ldevid, c.ldevidKey, c.wifi.psk] : []))
    .map((s) => toHex(sys.ctx.crypto.sha256(utf8(s))));
  const onboarded = results.filter((r) => r.ok).length;
  return {
    devices: opts.count,
    onboarded,
    failed: opts.count - onboarded,
    uniqueCredentials: onboarded > 0 && new Set(fingerprints).size === fingerprints.length,
    steps,
    results,
    ...(dpp ? { dpp } : {}),
  };
}

/**
 * Wi-Fi Easy Connect in the demonstration (docs/DPP.md): one more device, minted with its DPP
 * key, listens; the onboarder gives the network its URI (what its QR code shows, with where it
 * listens), and the network's Configurator connects and gives it a Connector signed by the
 * network's C-sign key. On loopback, a free port.
 */
async function demoDpp(
  sys: System,
  model: string,
  say: (message: string) => void,
): Promise<DemoResult['dpp']> {
  const { manufacturer, network } = sys;
  const store = new MemorySecureStore();
  const birth = await manufacturer.factory.mint(store, { model });
  await manufacturer.sell(birth.serialNumber, network.owner);
  const agent = new DeviceAgent(store, sys.ctx);
  say(`Wi-Fi Easy Connect: ${birth.serialNumber} minted with its DPP key; it listens`);
  let shown!: (uri: string) => void;
  const uri = new Promise<string>((resolve) => (shown = resolve));
  const listening = agent.listenForDpp({ port: 0, onListening: (u) => shown(u) });
  try {
    // The URI once it listens; a listener that could not start fails here instead.
    const shownUri = await Promise.race([uri, listening.then(() => uri)]);
    say(`  the onboarder scans its QR code: ${shownUri}`);
    const { exchange } = await network.dpp.onboard(shownUri, { akm: 'dpp' });
    const got = await listening;
    const rec = await network.inventory.device(birth.serialNumber);
    say(
      `  ${birth.serialNumber} configured by the network's Configurator: ${got.kind} for "${got.ssid}" (a Connector signed by the network's C-sign key); network: ${rec.state}, segment ${rec.segment ?? '-'}`,
    );
    return { serialNumber: birth.serialNumber, ok: exchange?.status === 'ok', kind: got.kind };
  } catch (e) {
    say(`  ${birth.serialNumber} FAILED: ${isAirlockError(e) ? e.code : (e as Error).message}`);
    void listening.catch(() => undefined);
    return { serialNumber: birth.serialNumber, ok: false };
  }
}
