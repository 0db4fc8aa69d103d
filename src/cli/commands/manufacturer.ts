/**
 * `airlock manufacturer ...`: minting and selling, over the data directory of `airlock up`.
 */
import type { Command } from 'commander';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import { printJson } from '../output.js';
import { withLocal } from './network.js';

export function manufacturerCommand(program: Command): void {
  const mfg = program.command('manufacturer').description('the manufacturer: mint devices and sell them (device information declarations)');
  mfg
    .command('mint')
    .description("mint a device: key pair, IDevID, birth credentials in the device's secure store, declaration #0")
    .requiredOption('--store <dir>', "the new device's secure store directory")
    .option('--model <model>', 'device model', 'thermostat-t1')
    .option('--serial <serial>', 'serial number (default: random)')
    .option('--sell', "sell it at once to the local network's owner")
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (o: { store: string; model: string; serial?: string; sell?: boolean; dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network, manufacturer }) => {
        const birth = await manufacturer.factory.mint(await FileSecureStore.open(o.store), { model: o.model, ...(o.serial ? { serialNumber: o.serial } : {}) });
        if (o.sell) await manufacturer.sell(birth.serialNumber, network.owner);
        printJson({ serialNumber: birth.serialNumber, masaUrl: birth.masaUrl, mudUrl: birth.mudUrl, soldTo: o.sell ? network.owner : null });
      });
    });
}
