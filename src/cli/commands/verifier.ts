/**
 * `airlock verifier ...`: the verification service (docs/ATTESTATION.md): creating it
 * (`init`), serving it, and the trust file a relying party (a registrar) installs. Only `init`
 * and `serve` create its keys; `trust-bundle` refuses a data directory that holds no verifier.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger, silentLogger } from '../../adapters/log/logger.js';
import { AirlockError } from '../../core/errors.js';
import { systemClock } from '../../core/ports.js';
import { hasRole, openVerifier, serveVerifier } from '../../app/system.js';
import { readManufacturerTrustFile } from '../../roles/verifier/trust.js';
import { VERIFIER_DEFAULT_PORT } from '../../roles/verifier/defaults.js';
import { note, printJson, say, serveUntilInterrupted } from '../output.js';
import {
  DATABASE_URL_HELP,
  databaseUrlOption,
  directoryPath,
  parseHttpsUrl,
  parsePort,
  portError,
  run,
  readJsonFile,
} from '../options.js';

/** Says on stderr that `dir` gets a new verifier: keys are never created silently. */
function announceNew(dir: string): void {
  note(
    `creating the verifier in ${dir}: its CA, TLS and result-signing (EAR) keys, sealed in its database`,
  );
}

export function verifierCommand(program: Command): void {
  const ver = program
    .command('verifier')
    .description(
      "the verification service: appraises devices' attestation evidence against their manufacturers' reference values (Veraison's challenge-response API)",
    );
  ver
    .command('init')
    .description(
      'create the verifier in a data directory: its CA and keys (the only step besides serve that creates them)',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { dataDir: string; databaseUrl?: string }) => {
      await run(async (created) => {
        const dir = created.track(directoryPath(o.dataDir, '--data-dir'));
        if (hasRole(dir, 'verifier'))
          throw new AirlockError('ERR_CONFIG', `${dir} already holds a verifier`, {
            details: { hint: 'its keys are kept; nothing to do' },
          });
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        announceNew(dir);
        const v = await openVerifier(
          { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
          dir,
          [],
          undefined,
          { create: true, ...databaseUrlOption(o.databaseUrl) },
        );
        say(
          `verifier created (EAR key ${v.pki.earKid}); serve it with: airlock verifier serve --data-dir ${o.dataDir} --trust <manufacturer trust file>`,
        );
        await v.close();
      });
    });
  ver
    .command('serve')
    .description(
      'run the verifier: appraises evidence of the devices of the manufacturers named by --trust (creates it, saying so, if the data directory holds none)',
    )
    .requiredOption(
      '--trust <files...>',
      'manufacturer trust files (`airlock manufacturer trust-bundle`), with their endorsements CA',
    )
    .option(
      '--manufacturer-url <urls...>',
      'where each --trust manufacturer serves its reference values, in the same order (its https base URL); without one, its reference values must be pushed to /endorsement-provisioning/v1/submit',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--port <port>', 'HTTPS port', String(VERIFIER_DEFAULT_PORT))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .action(
      async (o: {
        trust: string[];
        manufacturerUrl?: string[];
        dataDir: string;
        databaseUrl?: string;
        port: string;
        host: string;
      }) => {
        await run(async (created) => {
          const port = parsePort(o.port, '--port');
          const urls = (o.manufacturerUrl ?? []).map((u) => parseHttpsUrl(u, '--manufacturer-url'));
          if (urls.length > o.trust.length)
            throw new AirlockError(
              'ERR_CONFIG',
              `${urls.length} --manufacturer-url for ${o.trust.length} --trust file(s)`,
              {
                details: {
                  hint: 'give at most one --manufacturer-url per --trust file, in the same order',
                },
              },
            );
          const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: createLogger() };
          const manufacturers = o.trust.map((f, i) =>
            readManufacturerTrustFile(
              ctx.crypto,
              readJsonFile(f, 'a manufacturer trust file'),
              ctx.clock.now(),
              urls[i],
            ),
          );
          const dir = created.track(directoryPath(o.dataDir, '--data-dir'));
          fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
          if (!hasRole(dir, 'verifier')) announceNew(dir);
          const v = await openVerifier(ctx, dir, manufacturers, undefined, {
            create: true,
            ...databaseUrlOption(o.databaseUrl),
          });
          let url: string;
          try {
            url = await serveVerifier(v, port, o.host);
          } catch (e) {
            await v.close();
            throw portError(e, () => '--port');
          }
          say(
            `verifier serving at ${url}, trusting ${manufacturers.length} manufacturer(s); its trust file: airlock verifier trust-bundle --data-dir ${o.dataDir}`,
          );
          serveUntilInterrupted(() => v.close());
        });
      },
    );
  ver
    .command('trust-bundle')
    .description(
      "print the trust file a registrar installs to use this verifier: its TLS CA and the key of its results (the verifier's URL is the operator's to give)",
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { dataDir: string; databaseUrl?: string }) => {
      await run(async () => {
        const v = await openVerifier(
          { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
          directoryPath(o.dataDir, '--data-dir'),
          [],
          undefined,
          databaseUrlOption(o.databaseUrl),
        );
        try {
          printJson(v.trustFile());
        } finally {
          await v.close();
        }
      });
    });
}
