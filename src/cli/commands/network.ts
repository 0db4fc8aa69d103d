/**
 * `airlock network ...`: the network owner's tools over the network role's database.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { loadKek } from '../../adapters/crypto/kek.js';
import { silentLogger } from '../../adapters/log/logger.js';
import { systemClock } from '../../core/ports.js';
import { AirlockError } from '../../core/errors.js';
import { Manufacturer } from '../../roles/manufacturer/index.js';
import { Network } from '../../roles/network/index.js';
import { fail, printJson } from '../output.js';

export async function openLocal(dataDir: string): Promise<{ network: Network; manufacturer: Manufacturer }> {
  const dir = path.resolve(dataDir);
  if (!fs.existsSync(path.join(dir, 'network.db'))) throw new AirlockError('ERR_CONFIG', `no network database in ${dir}; run \`airlock up\` first`);
  const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
  const manufacturer = await Manufacturer.open({ ctx, databaseFile: path.join(dir, 'manufacturer.db'), kek: loadKek({ envVar: 'AIRLOCK_MANUFACTURER_KEK', file: path.join(dir, 'keys', 'manufacturer.kek') }).kek });
  const b = manufacturer.trustBundle();
  const network = await Network.open({ ctx, databaseFile: path.join(dir, 'network.db'), kek: loadKek({ envVar: 'AIRLOCK_NETWORK_KEK', file: path.join(dir, 'keys', 'network.kek') }).kek, manufacturers: [b] });
  return { network, manufacturer };
}

/** Opens the roles of a local data directory, runs `fn`, closes them, and turns errors into exit 1. */
export async function withLocal(dataDir: string, fn: (roles: { network: Network; manufacturer: Manufacturer }) => Promise<void>): Promise<void> {
  try {
    const roles = await openLocal(dataDir);
    try {
      await fn(roles);
    } finally {
      await roles.network.close();
      await roles.manufacturer.close();
    }
  } catch (e) {
    fail(e);
  }
}

export function networkCommand(program: Command): void {
  const net = program.command('network').description("the network owner's onboarding component: inventory and declarations");
  net
    .command('devices')
    .description('the inventory: every device, its state and its credential identifiers (never secrets)')
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .option('--json', 'print JSON')
    .option('--events <serial>', "print one device's audit trail instead")
    .action(async (o: { dataDir: string; json?: boolean; events?: string }) => {
      await withLocal(o.dataDir, async ({ network }) => {
        if (o.events) {
          const events = await network.inventory.events(o.events);
          if (o.json) printJson(events);
          else console.table(events.map((e) => ({ at: e.at, step: e.step, action: e.action, outcome: e.outcome, code: e.code })));
          return;
        }
        const devices = await network.inventory.devices();
        if (o.json) printJson(devices);
        else console.table(devices.map((d) => ({ serial: d.serial, state: d.state, onboardings: d.onboardings, ldevid: d.ldevid_serial, psk: d.psk_id, onboarded: d.onboarded_at })));
      });
    });
  net
    .command('import-declarations <file>')
    .description("install a manufacturer's declaration export file (NIST IR 8350 section 5.1.2)")
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (file: string, o: { dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network }) => {
        const { installed } = await network.declarations.importExport(JSON.parse(fs.readFileSync(file, 'utf8')));
        console.log(`installed ${installed} declaration chain(s)`);
      });
    });
  net
    .command('export-declarations')
    .description("write the manufacturer's declaration export for this network's owner (what a purchaser receives)")
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (o: { dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network, manufacturer }) => {
        printJson(await manufacturer.declarations.exportFor(network.owner.id));
      });
    });
}
