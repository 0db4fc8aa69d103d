/**
 * `airlock manufacturer ...`: minting and selling, over the data directory of `airlock up`.
 */
import type { Command } from 'commander';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger, silentLogger } from '../../adapters/log/logger.js';
import { systemClock } from '../../core/ports.js';
import { openManufacturer } from '../../roles/system.js';
import type { Manufacturer } from '../../roles/manufacturer/index.js';
import { AirlockError } from '../../core/errors.js';
import { PARTY_ID, type Party } from '../../core/party.js';
import { encodeTrustFile } from '../../roles/shared/trust.js';
import { fail, printJson, serveUntilInterrupted } from '../output.js';
import { withLocal } from './network.js';

export function manufacturerCommand(program: Command): void {
  const mfg = program.command('manufacturer').description('the manufacturer: MASA and declarations service; mints devices and sells them');
  mfg
    .command('serve')
    .description('run the manufacturer alone: MASA and declarations over HTTPS')
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--port <port>', 'HTTPS port', '8443')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (o: { dataDir: string; port: string; host: string }) => {
      try {
        const dir = path.resolve(o.dataDir);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: createLogger() };
        const m = await openManufacturer(ctx, dir);
        const url = await m.serve(Number(o.port), o.host);
        console.log(`manufacturer "${m.config.name}" serving at ${url} (party ${m.party.id}); its trust file: airlock manufacturer trust-bundle --data-dir ${o.dataDir}`);
        serveUntilInterrupted(() => m.close());
      } catch (e) {
        fail(e);
      }
    });
  mfg
    .command('trust-bundle')
    .description('print the trust file a network installs to trust this manufacturer (one CA per purpose)')
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .action(async (o: { dataDir: string }) => {
      try {
        const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
        const m = await openManufacturer(ctx, path.resolve(o.dataDir));
        printJson(encodeTrustFile(m.trustBundle()));
        await m.close();
      } catch (e) {
        fail(e);
      }
    });
  mfg
    .command('mint')
    .description("mint a device: key pair, IDevID, birth credentials in the device's secure store, declaration #0")
    .requiredOption('--store <dir>', "the new device's secure store directory")
    .option('--model <model>', 'device model', 'thermostat-t1')
    .option('--serial <serial>', 'serial number (default: random)')
    .option('--sell', "sell it at once to the owner of the network in the same data directory (`airlock up`)")
    .option('--sell-to <party-id>', 'sell it at once to this party (its domain CA key hash, printed by `airlock network serve`)')
    .option('--buyer <name>', 'the display name of the --sell-to party', 'buyer')
    .option('--public-url <url>', 'the MASA URL written into the IDevID (where `manufacturer serve` listens)')
    .option('--data-dir <dir>', "the manufacturer's data directory", './data')
    .action(async (o: { store: string; model: string; serial?: string; sell?: boolean; sellTo?: string; buyer: string; publicUrl?: string; dataDir: string }) => {
      const mint = async (manufacturer: Manufacturer, buyer: Party | undefined) => {
        if (o.publicUrl) {
          manufacturer.config.publicUrl = o.publicUrl;
          manufacturer.config.mudBaseUrl = `${o.publicUrl}/mud`;
        }
        const birth = await manufacturer.factory.mint(await FileSecureStore.open(o.store), { model: o.model, ...(o.serial ? { serialNumber: o.serial } : {}) });
        if (buyer) await manufacturer.sell(birth.serialNumber, buyer);
        printJson({ serialNumber: birth.serialNumber, masaUrl: birth.masaUrl, mudUrl: birth.mudUrl, soldTo: buyer ?? null });
      };
      if (o.sell) return withLocal(o.dataDir, ({ network, manufacturer }) => mint(manufacturer, network.owner));
      try {
        if (o.sellTo !== undefined && !PARTY_ID.test(o.sellTo)) throw new AirlockError('ERR_INPUT_SCHEMA', '--sell-to takes a party id (43 base64url characters)');
        const manufacturer = await openManufacturer({ crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger }, path.resolve(o.dataDir));
        try {
          await mint(manufacturer, o.sellTo ? { id: o.sellTo, name: o.buyer } : undefined);
        } finally {
          await manufacturer.close();
        }
      } catch (e) {
        fail(e);
      }
    });
}
