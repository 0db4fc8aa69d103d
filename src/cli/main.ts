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
import { verifierCommand } from './commands/verifier.js';
import { intentCommand } from './commands/intent.js';
import { dppCommand } from './commands/dpp.js';
import { logLevel } from '../adapters/log/logger.js';
import { fail } from './output.js';

const program = new Command()
  .name('airlock')
  .description(
    'Trusted IoT device network-layer onboarding (NIST IR 8350): BRSKI registrar with EST, MASA, device information declarations, attestation verifier and authorization policy, device agent',
  )
  .option(
    '--log-level <level>',
    'log level: fatal, error, warn, info (one line per request), debug, trace or silent; default $AIRLOCK_LOG_LEVEL, else info',
  )
  .hook('preAction', () => {
    // Every role's logger reads AIRLOCK_LOG_LEVEL (src/adapters/log/logger.ts).
    const level = program.opts<{ logLevel?: string }>().logLevel;
    try {
      process.env.AIRLOCK_LOG_LEVEL = logLevel(level);
    } catch (e) {
      fail(e);
    }
  });

program.addHelpText(
  'after',
  `
Keys are created only by an explicit step: \`airlock manufacturer init\`, \`airlock network init\`,
or \`serve\`/\`up\` on a data directory that holds no role (each says so on stderr). Every other
command refuses a directory with no role (ERR_CONFIG, with the command to run first).
\`airlock device export\` writes a device's certificates and private keys as PEM files.

Environment:
  AIRLOCK_MANUFACTURER_KEK  the manufacturer's key-encryption key (base64, 32 bytes); default: a 0600 file under <data-dir>/keys
  AIRLOCK_NETWORK_KEK       the network role's key-encryption key (base64, 32 bytes); default: a 0600 file under <data-dir>/keys
  AIRLOCK_VERIFIER_KEK      the verifier's key-encryption key (base64, 32 bytes); default: a 0600 file under <data-dir>/keys
  AIRLOCK_DEVICE_KEK        a device secure store's sealing key (base64, 32 bytes); default: a 0600 file in the store
  AIRLOCK_LOG_LEVEL         log level: fatal, error, warn, info (default), debug, trace, silent (--log-level on serve commands)

Errors print as \`airlock: ERR_...: message\` and, where there is one, \`airlock: hint: ...\`; the exit code is 1.`,
);

upCommand(program);
demoCommand(program);
manufacturerCommand(program);
networkCommand(program);
deviceCommand(program);
verifierCommand(program);
intentCommand(program);
dppCommand(program);
// -V, --version: the program's only when no command is named, for commander reads the
// program's options anywhere on the line (`--log-level` after a command is meant to work),
// and `airlock manufacturer firmware release --version 1.2` names a firmware version.
const args = process.argv.slice(2);
if (!program.commands.some((c) => args.includes(c.name()))) program.version('0.1.0');

await program.parseAsync(process.argv);
