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

const program = new Command()
  .name('airlock')
  .description('Trusted IoT device network-layer onboarding (NIST IR 8350): BRSKI registrar with EST, MASA, device information declarations, device agent')
  .version('0.1.0');

upCommand(program);
demoCommand(program);
manufacturerCommand(program);
networkCommand(program);
deviceCommand(program);

await program.parseAsync(process.argv);
