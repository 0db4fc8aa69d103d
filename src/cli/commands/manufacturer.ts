/**
 * `airlock manufacturer ...`: creating the manufacturer (`init`), serving it, its trust file,
 * minting and selling, firmware releases and the reference values signed from them. Only
 * `init` and `serve` create its keys; the others refuse a data directory that holds no
 * manufacturer.
 */
import type { Command } from 'commander';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import * as fs from 'node:fs';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger, silentLogger } from '../../adapters/log/logger.js';
import { systemClock } from '../../core/ports.js';
import {
  hasRole,
  openManufacturer,
  serveManufacturer,
  verifierClientOf,
} from '../../app/system.js';
import type { Manufacturer } from '../../roles/manufacturer/index.js';
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { sha256File } from '../../adapters/device/measured-boot.js';
import { PARTY_ID, type Party } from '../../core/party.js';
import { encodeTrustFile } from '../../roles/shared/trust.js';
import { note, printJson, printTable, say, serveUntilInterrupted } from '../output.js';
import {
  DATABASE_URL_HELP,
  databaseUrlOption,
  directoryPath,
  namedVerifier,
  parseHttpsUrl,
  parseName,
  parsePort,
  portError,
  readTextFile,
  run,
} from '../options.js';
import { openLocal } from './network.js';

/** Says on stderr that `dir` gets a new manufacturer: keys are never created silently. */
function announceNew(dir: string): void {
  note(
    `creating the manufacturer in ${dir}: root, IDevID, MASA, declaration, attestation and endorsement CAs, keys sealed in its database`,
  );
}

/** Opens the manufacturer of a data directory (or database) that holds one, runs `fn`, closes it. */
async function withManufacturer(
  o: { dataDir: string; databaseUrl?: string },
  fn: (m: Manufacturer) => Promise<void>,
): Promise<void> {
  await run(async () => {
    const m = await openManufacturer(
      { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
      directoryPath(o.dataDir, '--data-dir'),
      undefined,
      databaseUrlOption(o.databaseUrl),
    );
    try {
      await fn(m);
    } finally {
      await m.close();
    }
  });
}

/**
 * Hands the new reference values to the verifier (the one named, else the one `airlock up`
 * runs in the data directory), so that it judges by them at once: a withdrawn release must stop
 * devices now, not at the verifier's next pull. A failure is said on stderr; the change stands.
 */
async function tellVerifier(
  m: Manufacturer,
  o: { dataDir: string; verifierUrl?: string; verifierTrust?: string },
): Promise<void> {
  const client = await verifierClientOf(
    m.ctx,
    directoryPath(o.dataDir, '--data-dir'),
    namedVerifier(o),
  );
  if (!client) {
    note(
      `no verifier was told: verifiers pull ${m.config.publicUrl}/.well-known/airlock/reference-values on their own schedule (--verifier-url and --verifier-trust push it now)`,
    );
    return;
  }
  try {
    await client.provision(await m.firmware.referenceValues());
    note('the verifier holds the new reference values');
  } catch (e) {
    note(
      `the verifier was not told (${isAirlockError(e) ? e.code : 'ERR_INTERNAL'}): it learns of this change at its next pull of the reference values`,
    );
  } finally {
    await client.close();
  }
}

function intentCommands(mfg: Command): void {
  const intent = mfg
    .command('intent')
    .description("device intent (RFC 8520 MUD): the file each model's birth certificates point to");
  intent
    .command('publish')
    .description(
      "publish a model's MUD file: its mud-url, mud-signature and last-update are set, it is read as a network would (errors name the place), signed by the MUD signer and served from then on; networks get it when their copy's cache-validity ends",
    )
    .requiredOption('--model <model>', 'the device model (1-64 letters, digits, . _ -)')
    .requiredOption('--file <file>', 'the MUD file (RFC 8520 JSON)')
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { model: string; file: string; dataDir: string; databaseUrl?: string }) => {
      await withManufacturer(o, async (m) => {
        const published = await m.intent.publish(o.model, readTextFile(o.file));
        for (const w of published.warnings) note(`warning: ${w}`);
        say(
          `published the MUD file of ${o.model} (${published.bytes.length} bytes, signed); served at ${m.config.mudBaseUrl}/${o.model}.json`,
        );
      });
    });
}

function firmwareCommands(mfg: Command): void {
  const fw = mfg
    .command('firmware')
    .description(
      'firmware releases: the images each model may run, signed into the reference values verifiers appraise devices against',
    );
  fw.command('release')
    .description(
      "release a firmware image: its SHA-256 becomes a reference value, in a new signed document (the model's latest release is what new devices are minted with)",
    )
    .requiredOption('--model <model>', 'the device model (1-64 letters, digits, . _ -)')
    .requiredOption('--version <version>', '1 to 4 dotted numbers, no leading zeros, e.g. 1.4.2')
    .requiredOption('--image <file>', 'the image file; the reference value is its SHA-256')
    .option('--name <name>', 'the firmware name devices report (default: <model>-firmware)')
    .option(
      '--verifier-url <url>',
      "a verifier to hand the new reference values to at once (default: the data directory's, from `airlock up`)",
    )
    .option('--verifier-trust <file>', 'its trust file (`airlock verifier trust-bundle`)')
    .option(
      '--no-secure-boot',
      "the model does not boot only signed firmware: its devices get supply-chain evidence instead of an attestation key. Only a model's first release sets this; later ones may not contradict it",
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(
      async (
        o: {
          model: string;
          version: string;
          image: string;
          name?: string;
          secureBoot: boolean;
          dataDir: string;
          databaseUrl?: string;
          verifierUrl?: string;
          verifierTrust?: string;
        },
        cmd: Command,
      ) => {
        // Left out: the model keeps what its first release said (secure boot for a new model).
        const secureBoot =
          cmd.getOptionValueSource('secureBoot') === 'default' ? undefined : o.secureBoot;
        await withManufacturer(o, async (m) => {
          const digest = await sha256File(o.image, '--image');
          const r = await m.firmware.release({
            model: o.model,
            version: o.version,
            digest,
            ...(o.name === undefined ? {} : { name: o.name }),
            ...(secureBoot === undefined ? {} : { secureBoot }),
          });
          printJson({
            model: r.model,
            name: r.name,
            version: r.version,
            digest: r.digest,
            sequence: r.sequence,
          });
          await tellVerifier(m, o);
        });
      },
    );
  fw.command('withdraw')
    .description(
      'withdraw a release: the reference values then mark it withdrawn, so verifiers refuse devices that run it (again: nothing changes)',
    )
    .requiredOption('--model <model>', 'the device model')
    .requiredOption('--version <version>', 'the version released')
    .option(
      '--verifier-url <url>',
      "a verifier to hand the new reference values to at once (default: the data directory's, from `airlock up`)",
    )
    .option('--verifier-trust <file>', 'its trust file (`airlock verifier trust-bundle`)')
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(
      async (o: {
        model: string;
        version: string;
        dataDir: string;
        databaseUrl?: string;
        verifierUrl?: string;
        verifierTrust?: string;
      }) => {
        await withManufacturer(o, async (m) => {
          const r = await m.firmware.withdraw({ model: o.model, version: o.version });
          printJson({
            model: r.model,
            name: r.name,
            version: r.version,
            status: r.status,
            withdrawnAt: r.withdrawnAt,
            sequence: r.sequence,
            changed: r.changed,
          });
          if (r.changed) await tellVerifier(m, o);
        });
      },
    );
  fw.command('list')
    .description('every release, by model, in the order released')
    .option('--json', 'print JSON')
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { json?: boolean; dataDir: string; databaseUrl?: string }) => {
      await withManufacturer(o, async (m) => {
        const releases = await m.firmware.list();
        if (o.json) printJson(releases);
        else if (releases.length === 0) say('no firmware released');
        else
          printTable(
            releases.map((f) => ({
              model: f.model,
              secureBoot: f.secureBoot,
              name: f.name,
              version: f.version,
              status: f.status,
              digest: f.digest,
              released: f.releasedAt,
              withdrawn: f.withdrawnAt,
            })),
          );
      });
    });
  mfg
    .command('reference-values')
    .description(
      'print the current signed reference values (the JWS a verifier takes; also served at /.well-known/airlock/reference-values)',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { dataDir: string; databaseUrl?: string }) => {
      await withManufacturer(o, async (m) => {
        process.stdout.write(`${await m.firmware.referenceValues()}\n`);
      });
    });
}

export function manufacturerCommand(program: Command): void {
  const mfg = program
    .command('manufacturer')
    .description('the manufacturer: MASA and declarations service; mints devices and sells them');
  mfg
    .command('init')
    .description(
      'create the manufacturer in a data directory: its CAs and keys (the only step besides serve and up that creates them)',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { dataDir: string; databaseUrl?: string }) => {
      await run(async (created) => {
        const dir = created.track(directoryPath(o.dataDir, '--data-dir'));
        if (hasRole(dir, 'manufacturer'))
          throw new AirlockError('ERR_CONFIG', `${dir} already holds a manufacturer`, {
            details: { hint: 'its keys are kept; nothing to do' },
          });
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        announceNew(dir);
        const m = await openManufacturer(
          { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
          dir,
          undefined,
          { create: true, ...databaseUrlOption(o.databaseUrl) },
        );
        say(
          `manufacturer "${m.config.name}" created (party ${m.party.id}); serve it with: airlock manufacturer serve --data-dir ${o.dataDir}`,
        );
        await m.close();
      });
    });
  mfg
    .command('serve')
    .description(
      'run the manufacturer alone: MASA and declarations over HTTPS (creates it, saying so, if the data directory holds none)',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--port <port>', 'HTTPS port', '8443')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(async (o: { dataDir: string; databaseUrl?: string; port: string; host: string }) => {
      await run(async (created) => {
        const port = parsePort(o.port, '--port');
        const dir = created.track(directoryPath(o.dataDir, '--data-dir'));
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!hasRole(dir, 'manufacturer')) announceNew(dir);
        const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: createLogger() };
        const m = await openManufacturer(ctx, dir, undefined, {
          create: true,
          ...databaseUrlOption(o.databaseUrl),
        });
        let url: string;
        try {
          url = await serveManufacturer(m, dir, port, o.host);
        } catch (e) {
          await m.close();
          throw portError(e, () => '--port');
        }
        say(
          `manufacturer "${m.config.name}" serving at ${url} (party ${m.party.id}); its trust file: airlock manufacturer trust-bundle --data-dir ${o.dataDir}`,
        );
        serveUntilInterrupted(() => m.close());
      });
    });
  mfg
    .command('trust-bundle')
    .description(
      'print the trust file a network installs to trust this manufacturer (one CA per purpose)',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { dataDir: string; databaseUrl?: string }) => {
      await run(async () => {
        const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
        const m = await openManufacturer(
          ctx,
          directoryPath(o.dataDir, '--data-dir'),
          undefined,
          databaseUrlOption(o.databaseUrl),
        );
        try {
          printJson(encodeTrustFile(m.trustBundle()));
        } finally {
          await m.close();
        }
      });
    });
  mfg
    .command('mint')
    .description(
      "mint a device: key pair, IDevID, DPP bootstrapping key, birth credentials in the device's secure store, declaration #0 (carrying its DPP URI, printed as dppUri)",
    )
    .requiredOption('--store <dir>', "the new device's secure store directory")
    .option('--model <model>', 'device model', 'thermostat-t1')
    .option('--serial <serial>', 'serial number (default: random)')
    .option(
      '--sell',
      'sell it at once to the owner of the network in the same data directory (`airlock up`)',
    )
    .option(
      '--sell-to <party-id>',
      'sell it at once to this party (its domain CA key hash, printed by `airlock network serve`)',
    )
    .option(
      '--buyer <name>',
      'the display name of the --sell-to party (1 to 128 characters)',
      'buyer',
    )
    .option(
      '--public-url <url>',
      'the MASA URL written into the IDevID (default: the URL the manufacturer last served at)',
    )
    .option('--data-dir <dir>', "the manufacturer's data directory", './data')
    .action(
      async (o: {
        store: string;
        model: string;
        serial?: string;
        sell?: boolean;
        sellTo?: string;
        buyer: string;
        publicUrl?: string;
        dataDir: string;
      }) => {
        await run(async (created) => {
          if (o.sellTo !== undefined && !PARTY_ID.test(o.sellTo))
            throw new AirlockError(
              'ERR_INPUT_SCHEMA',
              '--sell-to takes a party id (43 base64url characters)',
            );
          const buyerName = parseName(o.buyer, '--buyer');
          const publicUrl =
            o.publicUrl === undefined ? undefined : parseHttpsUrl(o.publicUrl, '--public-url');
          const storeDir = directoryPath(o.store, '--store');
          const dataDir = directoryPath(o.dataDir, '--data-dir');
          const mint = async (manufacturer: Manufacturer, buyer: Party | undefined) => {
            if (publicUrl) {
              manufacturer.config.publicUrl = publicUrl;
              manufacturer.config.mudBaseUrl = `${publicUrl}/mud`;
            }
            const store = await FileSecureStore.open(created.track(storeDir));
            const birth = await manufacturer.factory.mint(store, {
              model: o.model,
              ...(o.serial ? { serialNumber: o.serial } : {}),
            });
            if (buyer) await manufacturer.sell(birth.serialNumber, buyer);
            printJson({
              serialNumber: birth.serialNumber,
              masaUrl: birth.masaUrl,
              mudUrl: birth.mudUrl,
              soldTo: buyer ?? null,
              secureBoot: birth.secureBoot,
              firmware: birth.firmware ?? null,
              dppUri: birth.dpp?.uri ?? null,
            });
          };
          if (o.sell) {
            const { network, manufacturer } = await openLocal(dataDir);
            try {
              await mint(manufacturer, network.owner);
            } finally {
              await network.close();
              await manufacturer.close();
            }
            return;
          }
          const manufacturer = await openManufacturer(
            { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
            dataDir,
          );
          try {
            await mint(manufacturer, o.sellTo ? { id: o.sellTo, name: buyerName } : undefined);
          } finally {
            await manufacturer.close();
          }
        });
      },
    );
  firmwareCommands(mfg);
  intentCommands(mfg);
}
