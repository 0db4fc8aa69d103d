/**
 * `airlock up`: every role in one process on loopback, SQLite under the data directory, and
 * (with --demo) a demonstration; then serves until interrupted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../adapters/log/logger.js';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import { runDemo, startSystem } from '../../roles/system.js';
import { fail, serveUntilInterrupted } from '../output.js';

export function upCommand(program: Command): void {
  program
    .command('up')
    .description('run the manufacturer and network roles on loopback (SQLite under --data-dir) and serve until interrupted')
    .option('--data-dir <dir>', 'where databases, keys and device stores live', './data')
    .option('--manufacturer-port <port>', 'MASA and declarations (HTTPS)', '8443')
    .option('--network-port <port>', 'registrar: BRSKI and EST (HTTPS)', '8444')
    .option('--demo', 'mint, sell and onboard a few devices, step by step')
    .option('--devices <n>', 'devices in the demonstration', '3')
    .action(async (o: { dataDir: string; manufacturerPort: string; networkPort: string; demo?: boolean; devices: string }) => {
      try {
        const dataDir = path.resolve(o.dataDir);
        fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        const logger = createLogger({ destination: path.join(dataDir, 'airlock.log') });
        const sys = await startSystem({ dataDir, logger, manufacturerPort: Number(o.manufacturerPort), networkPort: Number(o.networkPort) });
        console.log(`Airlock is up (data in ${dataDir}, log in ${path.join(dataDir, 'airlock.log')})`);
        console.log(`  manufacturer  ${sys.manufacturerUrl}  MASA (RFC 8995), device information declarations`);
        console.log(`  network       ${sys.registrarUrl}  registrar: BRSKI + EST, owner "${sys.network.owner.name}" (${sys.network.owner.id})`);
        console.warn('  note: development defaults - key-encryption keys are files under the data directory; set AIRLOCK_MANUFACTURER_KEK and AIRLOCK_NETWORK_KEK in production');
        if (o.demo) {
          console.log('\nDemonstration (NIST IR 8350 Figure 9 steps):');
          const stamp = Date.now().toString(36);
          const result = await runDemo(sys, {
            count: Number(o.devices),
            store: (i) => FileSecureStore.open(path.join(dataDir, 'devices', `${stamp}-${i}`)),
            onStep: (m) => console.log(m),
          });
          console.log(`\n${result.onboarded}/${result.devices} onboarded, unique credentials: ${result.uniqueCredentials}, steps performed: ${result.steps.join(', ')}`);
          console.log('Inventory: `airlock network devices --data-dir ' + o.dataDir + '`');
        }
        console.log('\nServing. Press Ctrl-C to stop.');
        serveUntilInterrupted(() => sys.close());
      } catch (e) {
        fail(e);
      }
    });
}
