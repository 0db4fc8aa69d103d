/**
 * A whole Airlock system on loopback for tests: manufacturer and network roles over real
 * TLS and SQLite files in a fresh temporary directory, logs written to a file there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../../src/adapters/log/logger.js';
import { FileSecureStore } from '../../src/adapters/secure-store/file-store.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import { startSystem, type System, type SystemOptions } from '../../src/roles/system.js';

export interface TestSystem extends System {
  dir: string;
  logFile: string;
  /** Mints a device into a file secure store, sells it to the network's owner, returns its agent. */
  newDevice(opts?: { sell?: boolean; model?: string }): Promise<{ agent: DeviceAgent; serial: string; storeDir: string }>;
}

export async function startTestSystem(opts: Partial<SystemOptions> = {}): Promise<TestSystem> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-test-'));
  const logFile = path.join(dir, 'airlock.log');
  const sys = await startSystem({ dataDir: path.join(dir, 'data'), logger: createLogger({ level: 'debug', destination: logFile }), ...opts });
  let n = 0;
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
    async close() {
      await sys.close();
    },
  };
}

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
