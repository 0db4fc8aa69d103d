/**
 * `airlock network ...`: the network owner's tools over the network role's database.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger, silentLogger } from '../../adapters/log/logger.js';
import { decodeAnyTrustFile } from '../../roles/shared/trust.js';
import { systemClock } from '../../core/ports.js';
import { AirlockError } from '../../core/errors.js';
import type { Manufacturer } from '../../roles/manufacturer/index.js';
import type { Network } from '../../roles/network/index.js';
import { openManufacturer, openNetwork } from '../../roles/system.js';
import { fail, printJson, serveUntilInterrupted } from '../output.js';

export async function openLocal(dataDir: string): Promise<{ network: Network; manufacturer: Manufacturer }> {
  const dir = path.resolve(dataDir);
  if (!fs.existsSync(path.join(dir, 'network.db'))) throw new AirlockError('ERR_CONFIG', `no network database in ${dir}; run \`airlock up\` first`);
  const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
  const manufacturer = await openManufacturer(ctx, dir);
  const network = await openNetwork(ctx, dir, [manufacturer.trustBundle()]);
  return { network, manufacturer };
}

/** A JSON file given on the command line; ERR_CONFIG when it cannot be read or parsed. */
function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', `${file} is not a readable JSON file`, { cause });
  }
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
    .command('serve')
    .description("run the network role alone: the registrar (BRSKI + EST), trusting the manufacturers named by --trust")
    .requiredOption('--trust <files...>', 'manufacturer trust files (`airlock manufacturer trust-bundle`, or airlock-foreign-manufacturer/1: docs/DESIGN.md)')
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--port <port>', 'HTTPS port', '8444')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--owner <name>', "the network owner's display name (only when the data directory is new)")
    .option('--ssid <ssid>', 'the Wi-Fi network devices get a per-device PSK for')
    .action(async (o: { trust: string[]; dataDir: string; port: string; host: string; owner?: string; ssid?: string }) => {
      try {
        const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: createLogger() };
        const trusts = o.trust.map((f) => decodeAnyTrustFile(ctx.crypto, readJsonFile(f), ctx.clock.now()));
        const dir = path.resolve(o.dataDir);
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const n = await openNetwork(ctx, dir, trusts, { ...(o.owner ? { ownerName: o.owner } : {}), ...(o.ssid ? { ssid: o.ssid } : {}) });
        const url = await n.serve(Number(o.port), o.host);
        console.log(`registrar for "${n.owner.name}" (party ${n.owner.id}) serving at ${url}, trusting ${trusts.length} manufacturer(s)`);
        serveUntilInterrupted(() => n.close());
      } catch (e) {
        fail(e);
      }
    });
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
        const { installed } = await network.declarations.importExport(readJsonFile(file));
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
