/**
 * `airlock demo`: the whole system on a fresh temporary database; exits 0 only if every
 * device was onboarded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../adapters/log/logger.js';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import { runDemo, startSystem } from '../../app/system.js';
import { AirlockError } from '../../core/errors.js';
import { fail, printJson, say } from '../output.js';

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'mint, sell and onboard devices on a fresh temporary system, then exit (0 only if all were onboarded)',
    )
    .option('--devices <n>', 'how many devices', '3')
    .option(
      '--json',
      'print the result as JSON: devices, onboarded, failed, uniqueCredentials, steps, dpp (one more device onboarded over Wi-Fi Easy Connect)',
    )
    .option('--keep', 'keep the temporary directory')
    .action(async (o: { devices: string; json?: boolean; keep?: boolean }) => {
      const count = Number(o.devices);
      if (!Number.isInteger(count) || count < 1 || count > 10_000)
        fail(
          new AirlockError('ERR_CONFIG', '--devices must be a whole number from 1 to 10000', {
            details: { hint: 'give --devices a whole number from 1 to 10000' },
          }),
        );
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-demo-'));
      try {
        const sys = await startSystem({
          dataDir: path.join(dir, 'data'),
          logger: createLogger({ destination: path.join(dir, 'airlock.log') }),
        });
        try {
          const result = await runDemo(sys, {
            count,
            store: (i) => FileSecureStore.open(path.join(dir, 'devices', String(i))),
            firmwareDir: path.join(dir, 'firmware'),
            onStep: o.json ? undefined : (m) => say(m),
          });
          if (o.json) printJson(result);
          else {
            say('');
            say(
              `${result.onboarded}/${result.devices} onboarded, unique credentials: ${result.uniqueCredentials}, steps: ${result.steps.join(', ')}${result.dpp ? `; over Wi-Fi Easy Connect: ${result.dpp.ok ? result.dpp.kind : 'FAILED'}` : ''}`,
            );
          }
          process.exitCode =
            result.failed === 0 && result.uniqueCredentials && result.dpp?.ok !== false ? 0 : 1;
        } finally {
          await sys.close();
        }
      } catch (e) {
        // fail() exits at once: remove the keys and stores first.
        if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
        fail(e);
      }
      if (!o.keep) fs.rmSync(dir, { recursive: true, force: true });
    });
}
