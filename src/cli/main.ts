/**
 * `airlock`: one command, a subcommand per role.
 */
import 'reflect-metadata';
import { Command } from 'commander';
import { upCommand } from './commands/up.js';
import { demoCommand } from './commands/demo.js';
import { networkCommand } from './commands/network.js';
import { manufacturerCommand } from './commands/manufacturer.js';
import { deviceCommand } from './commands/device.js';
import { logLevel } from '../adapters/log/logger.js';
import { fail } from './output.js';

const program = new Command()
  .name('airlock')
  .description('Trusted IoT device network-layer onboarding (NIST IR 8350): BRSKI registrar with EST, MASA, device information declarations, device agent')
  .version('0.1.0')
  .option('--log-level <level>', 'log level: fatal, error, warn, info (one line per request), debug, trace or silent; default $AIRLOCK_LOG_LEVEL, else info')
  .hook('preAction', () => {
    // Every role's logger reads AIRLOCK_LOG_LEVEL (src/adapters/log/logger.ts).
    const level = program.opts<{ logLevel?: string }>().logLevel;
    try {
      process.env.AIRLOCK_LOG_LEVEL = logLevel(level);
    } catch (e) {
      fail(e);
    }
  });

upCommand(program);
demoCommand(program);
manufacturerCommand(program);
networkCommand(program);
deviceCommand(program);

await program.parseAsync(process.argv);
