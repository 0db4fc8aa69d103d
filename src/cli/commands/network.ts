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
  const network = await Network.open({ ctx, databaseFile: path.join(dir, 'network.db'), kek: loadKek({ envVar: 'AIRLOCK_NETWORK_KEK', file: path.join(dir, 'keys', 'network.kek') }).kek, manufacturerAnchors: [b.root, b.idevidCa] });
  return { network, manufacturer };
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
      try {
        const { network, manufacturer } = await openLocal(o.dataDir);
        try {
          const rows = o.events ? await network.inventory.events(o.events) : await network.inventory.devices();
          if (o.json) printJson(rows);
          else console.table(rows);
        } finally {
          await network.close();
          await manufacturer.close();
        }
      } catch (e) {
        fail(e);
      }
    });
  net
    .command('import-declarations <file>')
    .description("install a manufacturer's declaration export file (NIST IR 8350 section 5.1.2)")
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (file: string, o: { dataDir: string }) => {
      try {
        const { network, manufacturer } = await openLocal(o.dataDir);
        try {
          const { installed } = await network.declarations.importExport(JSON.parse(fs.readFileSync(file, 'utf8')));
          console.log(`installed ${installed} declaration chain(s)`);
        } finally {
          await network.close();
          await manufacturer.close();
        }
      } catch (e) {
        fail(e);
      }
    });
  net
    .command('export-declarations')
    .description("write the manufacturer's declaration export for this network's owner (what a purchaser receives)")
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (o: { dataDir: string }) => {
      try {
        const { network, manufacturer } = await openLocal(o.dataDir);
        try {
          printJson(await manufacturer.declarations.exportFor(network.owner.id));
        } finally {
          await network.close();
          await manufacturer.close();
        }
      } catch (e) {
        fail(e);
      }
    });
}
