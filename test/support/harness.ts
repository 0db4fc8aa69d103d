/**
 * A whole Airlock system on loopback for tests: manufacturer and network roles over real
 * TLS and SQLite files in a fresh temporary directory, logs written to a file there. close()
 * removes the directory (its keys with it); test/setup.ts removes any a test file left open.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../../src/adapters/log/logger.js';
import { FileSecureStore } from '../../src/adapters/secure-store/file-store.js';
import { DeviceAgent, type DeviceAgentOptions } from '../../src/roles/device/agent.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import type { MeasuredBoot } from '../../src/core/ports.js';
import { startSystem, type System, type SystemOptions } from '../../src/app/system.js';
import { remove, track } from './temp-dirs.js';
import { loadKek } from '../../src/adapters/crypto/kek.js';
import { HttpMasaClient } from '../../src/adapters/http/masa-client.js';
import { HttpVerifierClient } from '../../src/adapters/http/verifier-client.js';
import { toPem } from '../../src/core/bytes.js';
import { Manufacturer } from '../../src/roles/manufacturer/index.js';
import { Network } from '../../src/roles/network/index.js';
import type { ManufacturerConfig } from '../../src/roles/manufacturer/defaults.js';
import type { NetworkConfig } from '../../src/roles/network/defaults.js';
import type { AnyManufacturerTrust } from '../../src/roles/shared/trust.js';

export interface TestSystem extends System {
  /** The temporary directory: databases, keys, log, device stores. close() removes it. */
  dir: string;
  /** Stops the roles but keeps the directory, to look at what they left on disk; close() still removes it. */
  closeRoles(): Promise<void>;
  logFile: string;
  /**
   * Mints a device into a file secure store, sells it to the network's owner, returns its agent.
   * The agent measures the firmware its model's release was made from (`firmwareOf`), unless
   * `measuredBoot` says otherwise (null: it measures nothing, and so does not attest).
   */
  newDevice(opts?: {
    sell?: boolean;
    model?: string;
    measuredBoot?: MeasuredBoot | null;
    agent?: DeviceAgentOptions;
  }): Promise<{ agent: DeviceAgent; serial: string; storeDir: string; firmware: TestFirmware }>;
  /**
   * The firmware image of `model`: a file of random bytes in the system's directory, released
   * by the manufacturer (version 1.0.0) the first time it is asked for.
   */
  firmwareOf(model: string, opts?: { secureBoot?: boolean }): Promise<TestFirmware>;
  /** The verifier's reference values, as the manufacturer holds them now (after a release or withdrawal). */
  verifierUpToDate(): Promise<void>;
  /**
   * Another network (another owner) in this system's directory, with a database and key of its
   * own, trusting `manufacturers` (default: this system's manufacturer); served on loopback, and
   * closed with the system.
   */
  otherNetwork(
    name: string,
    opts?: { manufacturers?: AnyManufacturerTrust[]; config?: Partial<NetworkConfig> },
  ): Promise<{ network: Network; url: string }>;
  /** Another manufacturer in this system's directory, served on loopback and closed with the system. */
  otherManufacturer(
    name: string,
    config?: Partial<ManufacturerConfig>,
  ): Promise<{ manufacturer: Manufacturer; url: string }>;
  /** An HTTPS MASA client trusting this system's manufacturer root; closed with the system. */
  masaClient(): HttpMasaClient;
}

export interface TestFirmware {
  image: string;
  name: string;
  version: string;
}

export async function startTestSystem(
  opts: Partial<SystemOptions> & {
    /** An authorization policy (YAML) applied once the system is up; default: Airlock's own. */
    policy?: string;
  } = {},
): Promise<TestSystem> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-test-'));
  const logFile = path.join(dir, 'airlock.log');
  track(dir);
  let sys: System;
  try {
    sys = await startSystem({
      dataDir: path.join(dir, 'data'),
      logger: createLogger({ level: 'debug', destination: logFile }),
      ...opts,
    });
  } catch (e) {
    removeDir(dir);
    throw e;
  }
  if (opts.policy !== undefined) await sys.network.authorization.apply(opts.policy);
  let n = 0;
  const firmware = new Map<string, Promise<TestFirmware>>();
  const firmwareOf = (model: string, o: { secureBoot?: boolean } = {}) => {
    let f = firmware.get(model);
    if (!f) {
      f = (async () => {
        const image = path.join(dir, 'firmware', `${model}-1.0.0.img`);
        fs.mkdirSync(path.dirname(image), { recursive: true });
        const bytes = new Uint8Array(8192);
        globalThis.crypto.getRandomValues(bytes);
        fs.writeFileSync(image, bytes);
        const name = `${model}-firmware`;
        await sys.manufacturer.firmware.release({
          model,
          version: '1.0.0',
          name,
          imageBytes: bytes,
          ...(o.secureBoot === undefined ? {} : { secureBoot: o.secureBoot }),
        });
        return { image, name, version: '1.0.0' };
      })();
      firmware.set(model, f);
    }
    return f;
  };
  let rolesClosed: Promise<void> | undefined;
  /** What the fixture opened besides the system: closed first, newest first. */
  const extras: Array<() => Promise<void>> = [];
  const closeRoles = () =>
    (rolesClosed ??= (async () => {
      for (const close of extras.reverse()) await close();
      await sys.close();
    })());
  const kek = (name: string) =>
    loadKek({ envVar: 'AIRLOCK_TEST_UNSET_KEK', file: path.join(dir, `${name}.kek`) }).kek;
  return {
    ...sys,
    dir,
    logFile,
    firmwareOf,
    async verifierUpToDate() {
      if (sys.verifier)
        await sys.verifier.provision(await sys.manufacturer.firmware.referenceValues());
    },
    async newDevice(o = {}) {
      const model = o.model ?? 'sensor-s1';
      const fw = await firmwareOf(model);
      const storeDir = path.join(dir, 'devices', String(n++));
      const store = await FileSecureStore.open(storeDir);
      const birth = await sys.manufacturer.factory.mint(store, { model });
      if (o.sell !== false) await sys.manufacturer.sell(birth.serialNumber, sys.network.owner);
      const measuredBoot = o.measuredBoot === undefined ? fileMeasuredBoot(fw) : o.measuredBoot;
      const agent = new DeviceAgent(store, sys.ctx, {
        ...(measuredBoot ? { measuredBoot } : {}),
        ...o.agent,
      });
      return { agent, serial: birth.serialNumber, storeDir, firmware: fw };
    },
    async otherNetwork(name, o = {}) {
      // Another network asks the same verification service (as several networks may).
      const info = sys.verifier?.trustInfo();
      const verifier =
        info && sys.verifierUrl
          ? new HttpVerifierClient(sys.verifierUrl, {
              tlsCaPem: info.tlsCaPem,
              earKey: info.earKeyJwk,
            })
          : undefined;
      const network = await Network.open({
        ctx: sys.ctx,
        ...(verifier ? { verifier } : {}),
        databaseFile: path.join(dir, `${name}.db`),
        kek: kek(name),
        manufacturers: o.manufacturers ?? [sys.manufacturer.trustBundle()],
        ...(o.config ? { config: o.config } : {}),
      });
      extras.push(() => network.close());
      return { network, url: await network.serve(0) };
    },
    async otherManufacturer(name, config) {
      const manufacturer = await Manufacturer.open({
        ctx: sys.ctx,
        databaseFile: path.join(dir, `${name}.db`),
        kek: kek(name),
        ...(config ? { config } : {}),
      });
      extras.push(() => manufacturer.close());
      return { manufacturer, url: await manufacturer.serve(0) };
    },
    masaClient() {
      const client = new HttpMasaClient(toPem('CERTIFICATE', sys.manufacturer.pki.root.cert.der));
      extras.push(() => client.close());
      return client;
    },
    closeRoles,
    async close() {
      try {
        await closeRoles();
      } finally {
        removeDir(dir);
      }
    },
  };
}

/** A system's directory is removed when it closes, or after the test file (test/setup.ts). */
const removeDir = remove;

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
