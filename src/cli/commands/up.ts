/**
 * `airlock up`: every role in one process on loopback, SQLite under the data directory, and
 * (with --demo) a demonstration; then serves until interrupted. Creates the roles' keys
 * when the data directory holds none, and says so on stderr.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { createLogger } from '../../adapters/log/logger.js';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import { AirlockError } from '../../core/errors.js';
import { hasRole, runDemo, startSystem, type System } from '../../app/system.js';
import { note, say, serveUntilInterrupted } from '../output.js';
import { directoryPath, parsePort, portError, run } from '../options.js';
import { radiusByDefault, radiusFromFile } from '../radius-options.js';
import type { FreeRadius } from '../../adapters/radius/freeradius.js';

export function upCommand(program: Command): void {
  program
    .command('up')
    .description(
      'run the manufacturer, verifier and network roles on loopback (SQLite under --data-dir) and serve until interrupted; creates them, saying so, if --data-dir holds none',
    )
    .option('--data-dir <dir>', 'where databases, keys and device stores live', './data')
    .option('--manufacturer-port <port>', 'MASA and declarations (HTTPS)', '8443')
    .option('--network-port <port>', 'registrar: BRSKI and EST (HTTPS)', '8444')
    .option(
      '--verifier-port <port>',
      "verification service: Veraison's challenge-response API (HTTPS)",
      '8446',
    )
    .option(
      '--radius <file|off>',
      'FreeRADIUS for 802.1X (docs/RADIUS.md): a settings file as for `network serve --radius`, or `off`; by default, where FreeRADIUS is installed, it runs on 127.0.0.1 (--radius-port) for authenticators on loopback, its shared secret from AIRLOCK_RADIUS_SECRET',
    )
    .option('--radius-port <port>', "the default FreeRADIUS's UDP port", '1812')
    .option(
      '--dpp-port <port>',
      "also run the Wi-Fi Easy Connect (DPP) Configurator over TCP on 127.0.0.1 at this port (8908 is DPP's), for the devices added (`airlock dpp onboard`, `network dpp add`) or pre-registered by their declarations (docs/DPP.md)",
    )
    .option('--demo', 'mint, sell and onboard a few devices, step by step')
    .option('--devices <n>', 'devices in the demonstration', '3')
    .action(
      async (o: {
        dataDir: string;
        manufacturerPort: string;
        networkPort: string;
        verifierPort: string;
        radius?: string;
        radiusPort: string;
        dppPort?: string;
        demo?: boolean;
        devices: string;
      }) => {
        await run(async (created) => {
          const manufacturerPort = parsePort(o.manufacturerPort, '--manufacturer-port');
          const networkPort = parsePort(o.networkPort, '--network-port');
          const verifierPort = parsePort(o.verifierPort, '--verifier-port');
          const radiusPort = parsePort(o.radiusPort, '--radius-port');
          const dppPort = o.dppPort === undefined ? undefined : parsePort(o.dppPort, '--dpp-port');
          if (radiusPort === 0)
            throw new AirlockError('ERR_CONFIG', '--radius-port must name a port, 1 to 65535');
          const devices = Number(o.devices);
          if (!Number.isInteger(devices) || devices < 1 || devices > 1000)
            throw new AirlockError(
              'ERR_CONFIG',
              '--devices must be a whole number from 1 to 1000',
              { details: { hint: 'give --devices a smaller number' } },
            );
          const dataDir = created.track(directoryPath(o.dataDir, '--data-dir'));
          fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
          for (const role of ['manufacturer', 'network', 'verifier'] as const)
            if (!hasRole(dataDir, role))
              note(`creating the ${role} in ${dataDir}: its CAs and keys, sealed in ${role}.db`);
          const logger = createLogger({ destination: path.join(dataDir, 'airlock.log') });
          let sys: System;
          try {
            sys = await startSystem({
              dataDir,
              logger,
              manufacturerPort,
              networkPort,
              verifierPort,
              network: { reattestationIntervalSeconds: 3600 },
            });
          } catch (e) {
            throw portError(e, (port) =>
              port === networkPort
                ? '--network-port'
                : port === verifierPort
                  ? '--verifier-port'
                  : '--manufacturer-port',
            );
          }
          say(`Airlock is up (data in ${dataDir}, log in ${path.join(dataDir, 'airlock.log')})`);
          say(
            `  manufacturer  ${sys.manufacturerUrl}  MASA (RFC 8995), device information declarations`,
          );
          say(
            `  network       ${sys.registrarUrl}  registrar: BRSKI + EST, owner "${sys.network.owner.name}" (${sys.network.owner.id})`,
          );
          say(
            `  verifier      ${sys.verifierUrl}  attestation (RATS): EAT evidence in, signed EAR results out`,
          );
          let radius: FreeRadius | undefined;
          try {
            if (o.radius === undefined)
              radius = await radiusByDefault(sys.network, dataDir, radiusPort);
            else if (o.radius !== 'off')
              radius = await radiusFromFile(sys.network, o.radius, dataDir);
            if (dppPort !== undefined) {
              const dpp = await sys.network
                .serveDpp({ port: dppPort, host: '127.0.0.1' })
                .catch((e: unknown) => {
                  throw portError(e, () => '--dpp-port');
                });
              say(
                `  dpp           127.0.0.1:${dpp.port}  Wi-Fi Easy Connect Configurator; the network's URI: ${dpp.uri}`,
              );
            }
          } catch (e) {
            await radius?.stop();
            await sys.close();
            throw e;
          }
          const policy = await sys.network.authorization.current();
          say(
            `  policy        ${policy.id === 'default' ? "Airlock's default: every trusted manufacturer's device whose attestation is affirming, segment default" : `policy ${policy.id}`} (\`airlock network policy apply FILE\`)`,
          );
          if (
            !process.env['AIRLOCK_MANUFACTURER_KEK'] ||
            !process.env['AIRLOCK_NETWORK_KEK'] ||
            !process.env['AIRLOCK_VERIFIER_KEK']
          ) {
            note(
              'development defaults: key-encryption keys are files under the data directory; set AIRLOCK_MANUFACTURER_KEK, AIRLOCK_NETWORK_KEK and AIRLOCK_VERIFIER_KEK in production',
            );
          }
          if (o.demo) {
            say('');
            say('Demonstration (NIST IR 8350 Figure 9 steps):');
            const stamp = Date.now().toString(36);
            const result = await runDemo(sys, {
              count: devices,
              store: (i) => FileSecureStore.open(path.join(dataDir, 'devices', `${stamp}-${i}`)),
              firmwareDir: path.join(dataDir, 'firmware'),
              onStep: (m) => say(m),
            });
            say('');
            say(
              `${result.onboarded}/${result.devices} onboarded, unique credentials: ${result.uniqueCredentials}, steps performed: ${result.steps.join(', ')}${result.dpp ? `; over Wi-Fi Easy Connect: ${result.dpp.ok ? result.dpp.kind : 'FAILED'}` : ''}`,
            );
            say('Inventory: `airlock network devices --data-dir ' + o.dataDir + '`');
          }
          say('');
          say('Serving. Press Ctrl-C to stop.');
          serveUntilInterrupted(async () => {
            await radius?.stop();
            await sys.close();
          });
        });
      },
    );
}
