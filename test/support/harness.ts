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
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { startSystem, type System, type SystemOptions } from '../../src/app/system.js';
import { remove, track } from './temp-dirs.js';

export interface TestSystem extends System {
  /** The temporary directory: databases, keys, log, device stores. close() removes it. */
  dir: string;
  /** Stops the roles but keeps the directory, to look at what they left on disk; close() still removes it. */
  closeRoles(): Promise<void>;
  logFile: string;
  /** Mints a device into a file secure store, sells it to the network's owner, returns its agent. */
  newDevice(opts?: { sell?: boolean; model?: string }): Promise<{ agent: DeviceAgent; serial: string; storeDir: string }>;
}

export async function startTestSystem(opts: Partial<SystemOptions> = {}): Promise<TestSystem> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-test-'));
  const logFile = path.join(dir, 'airlock.log');
  track(dir);
  let sys: System;
  try {
    sys = await startSystem({ dataDir: path.join(dir, 'data'), logger: createLogger({ level: 'debug', destination: logFile }), ...opts });
  } catch (e) {
    removeDir(dir);
    throw e;
  }
  let n = 0;
  let rolesClosed: Promise<void> | undefined;
  const closeRoles = () => (rolesClosed ??= sys.close());
  return {
    ...sys,
    dir,
    logFile,
    async newDevice(o = {}) {
      const storeDir = path.join(dir, 'devices', String(n++));
      const store = await FileSecureStore.open(storeDir);
      const birth = await sys.manufacturer.factory.mint(store, { model: o.model ?? 'sensor-s1' });
      if (o.sell !== false) await sys.manufacturer.sell(birth.serialNumber, sys.network.owner);
      return { agent: new DeviceAgent(store, sys.ctx), serial: birth.serialNumber, storeDir };
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
