/**
 * Benchmark child process: the network (registrar) and manufacturer (MASA) roles, started
 * with startSystem over a temporary data directory. It prints one JSON line on stdout
 * with its URLs and the manufacturer trust material, then answers IPC requests:
 *   { type: 'mint', count }  ->  { type: 'births', births: string[] }  (base64 'birth' entries)
 *   { type: 'cpu' }          ->  { type: 'cpu', usage: process.cpuUsage() }
 *   { type: 'stop' }         ->  closes the roles and exits.
 * Minting happens here, before the parent starts its clock.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSystem, type System } from '../src/roles/system.js';
import { silentLogger } from '../src/adapters/log/logger.js';
import { MemorySecureStore } from '../src/adapters/secure-store/memory-store.js';
import { toPem } from '../src/core/bytes.js';

if (typeof process.send !== 'function') {
  process.stderr.write('bench/server.ts must be spawned with an IPC channel\n');
  process.exit(2);
}
const send = (m: unknown) => new Promise<void>((resolve, reject) => process.send!(m, undefined, {}, (e) => (e ? reject(e) : resolve())));

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-'));
let sys: System | undefined;

async function shutdown(code: number): Promise<never> {
  try {
    await sys?.close();
  } catch {
    // closing is best effort
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('disconnect', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  sys = await startSystem({ dataDir, logger: silentLogger });
  const bundle = sys.manufacturer.trustBundle();
  process.stdout.write(JSON.stringify({
    type: 'ready',
    pid: process.pid,
    registrarUrl: sys.registrarUrl,
    manufacturerUrl: sys.manufacturerUrl,
    idevidCaPem: toPem('CERTIFICATE', bundle.idevidCa.der),
    rootPem: toPem('CERTIFICATE', bundle.root.der),
    networkOwner: sys.network.owner,
  }) + '\n');
} catch (e) {
  process.stderr.write(`bench server failed to start: ${(e as Error).stack ?? String(e)}\n`);
  await shutdown(1);
}

process.on('message', (m: { type?: string; count?: number; declarations?: string }) => {
  void (async () => {
    if (m.type === 'mint') {
      const count = Math.max(0, Math.min(Number(m.count) | 0, 100_000));
      const started = performance.now();
      const births: string[] = [];
      for (let i = 0; i < count; i++) {
        const store = new MemorySecureStore();
        const birth = await sys!.manufacturer.factory.mint(store, { model: 'bench-sensor' });
        await sys!.manufacturer.sell(birth.serialNumber, sys!.network.owner);
        births.push(Buffer.from((await store.read('birth'))!).toString('base64'));
      }
      if (m.declarations !== 'realtime') {
        // The network administrator installs the manufacturer's export file ahead of time.
        await sys!.network.declarations.importExport(await sys!.manufacturer.declarations.exportFor(sys!.network.owner.id));
      }
      await send({ type: 'births', births, mintMs: performance.now() - started });
    } else if (m.type === 'cpu') {
      await send({ type: 'cpu', usage: process.cpuUsage() });
    } else if (m.type === 'stop') {
      await shutdown(0);
    }
  })().catch(async (e: unknown) => {
    process.stderr.write(`bench server: ${(e as Error).stack ?? String(e)}\n`);
    await send({ type: 'error', message: String((e as Error).message ?? e) }).catch(() => undefined);
    await shutdown(1);
  });
});
