/**
 * `airlock network ...`: the network owner's tools over the network role's database.
 */
import { intentOptions, localIntentManager } from '../intent-options.js';
import * as fs from 'node:fs';
import type { FreeRadius } from '../../adapters/radius/freeradius.js';
import { radiusFromFile } from '../radius-options.js';
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger, silentLogger } from '../../adapters/log/logger.js';
import { decodeAnyTrustFile } from '../../roles/shared/trust.js';
import { parsePolicy } from '../../protocols/policy/parse.js';
import { systemClock } from '../../core/ports.js';
import { AirlockError } from '../../core/errors.js';
import type { Manufacturer } from '../../roles/manufacturer/index.js';
import { forgetIntent, type Network } from '../../roles/network/index.js';
import { DPP_NETWORK_CURVES } from '../../roles/network/dpp.js';
import type { DppAkm } from '../../core/store.js';
import {
  databaseUrlOf,
  hasRole,
  openManufacturer,
  openNetwork,
  verifierClientOf,
} from '../../app/system.js';
import { HttpVerifierClient } from '../../adapters/http/verifier-client.js';
import { note, printJson, printTable, say, serveUntilInterrupted } from '../output.js';
import {
  DATABASE_URL_HELP,
  databaseUrlOption,
  directoryPath,
  namedVerifier,
  parseName,
  readJsonFile,
  readTextFile,
  parsePort,
  portError,
  run,
} from '../options.js';

/**
 * The roles of a data directory made by `airlock up` (or `manufacturer init` and `network init`);
 * refuses one that lacks either. With AIRLOCK_DATABASE_URL, the roles are those of that database
 * (opening refuses a database that holds no keys of a role).
 */
export async function openLocal(
  dataDir: string,
): Promise<{ network: Network; manufacturer: Manufacturer }> {
  const dir = directoryPath(dataDir, '--data-dir');
  for (const role of ['network', 'manufacturer'] as const) {
    if (databaseUrlOf({}) === undefined && !hasRole(dir, role))
      throw new AirlockError('ERR_CONFIG', `no ${role} in ${dir}`, {
        details: {
          hint: `run \`airlock up --data-dir ${dataDir}\` (or \`airlock ${role} init --data-dir ${dataDir}\`) first`,
        },
      });
  }
  const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
  const manufacturer = await openManufacturer(ctx, dir);
  try {
    return { network: await openNetwork(ctx, dir, [manufacturer.trustBundle()]), manufacturer };
  } catch (e) {
    await manufacturer.close();
    throw e;
  }
}

/** Opens the roles of a local data directory, runs `fn`, closes them, and turns errors into exit 1. */
export async function withLocal(
  dataDir: string,
  fn: (roles: { network: Network; manufacturer: Manufacturer }) => Promise<void>,
): Promise<void> {
  await run(async () => {
    const roles = await openLocal(dataDir);
    try {
      await fn(roles);
    } finally {
      await roles.network.close();
      await roles.manufacturer.close();
    }
  });
}

/** Says on stderr that `dir` gets a new network role: keys are never created silently. */
function announceNew(dir: string): void {
  note(
    `creating the network in ${dir}: domain CA, registrar certificate and keys sealed in its database`,
  );
}

export function networkCommand(program: Command): void {
  const net = program
    .command('network')
    .description("the network owner's onboarding component: registrar, inventory and declarations");
  net
    .command('init')
    .description(
      "create the network role in a data directory: the owner's domain CA, the registrar certificate and their keys",
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--owner <name>', "the network owner's display name (1 to 128 characters)")
    .option('--ssid <ssid>', 'the Wi-Fi network devices get a per-device PSK for')
    .action(async (o: { dataDir: string; databaseUrl?: string; owner?: string; ssid?: string }) => {
      await run(async (created) => {
        const config = {
          ...(o.owner !== undefined ? { ownerName: parseName(o.owner, '--owner') } : {}),
          ...(o.ssid !== undefined ? { ssid: parseName(o.ssid, '--ssid') } : {}),
        };
        const dir = created.track(directoryPath(o.dataDir, '--data-dir'));
        if (hasRole(dir, 'network'))
          throw new AirlockError('ERR_CONFIG', `${dir} already holds a network`, {
            details: { hint: 'its keys are kept; nothing to do' },
          });
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        announceNew(dir);
        const n = await openNetwork(
          { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
          dir,
          [],
          config,
          { create: true, ...databaseUrlOption(o.databaseUrl) },
        );
        say(
          `network of "${n.owner.name}" created (party ${n.owner.id}); serve it with: airlock network serve --data-dir ${o.dataDir} --trust <manufacturer trust file>`,
        );
        await n.close();
      });
    });
  net
    .command('serve')
    .description(
      'run the network role alone: the registrar (BRSKI + EST), trusting the manufacturers named by --trust (creates it, saying so, if the data directory holds none)',
    )
    .requiredOption(
      '--trust <files...>',
      'manufacturer trust files (`airlock manufacturer trust-bundle`, or airlock-foreign-manufacturer/1: docs/DESIGN.md)',
    )
    .option('--data-dir <dir>', 'where its database and keys live', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--port <port>', 'HTTPS port', '8444')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--owner <name>',
      "the network owner's display name, 1 to 128 characters (only when the data directory is new)",
    )
    .option('--ssid <ssid>', 'the Wi-Fi network devices get a per-device PSK for')
    .option(
      '--verifier-url <url>',
      "the verification service devices attest to (steps 3, 4): Airlock's (`airlock verifier serve`) or any that speaks Veraison's challenge-response API",
    )
    .option(
      '--verifier-trust <file>',
      'its trust file (`airlock verifier trust-bundle`): TLS anchor and result-signing key',
    )
    .option(
      '--intent <file>',
      "enforce each device's MUD file in nftables before its credentials are delivered: the segments' address pools and controllers, the remediation server, where nft runs (docs/INTENT.md); needs root",
    )
    .option(
      '--radius <file>',
      "run FreeRADIUS for 802.1X (EAP-TLS with the devices' LDevIDs), reading who may connect, and in which VLAN, from this network's database: listen address, authenticators, segments' VLANs; its shared secret from AIRLOCK_RADIUS_SECRET (docs/RADIUS.md); needs root and FreeRADIUS",
    )
    .option(
      '--reattest-every <seconds>',
      'ask every onboarded device for a fresh attestation this often (0: only `airlock network reattest`)',
      '3600',
    )
    .option(
      '--dpp-port <port>',
      "also run the Wi-Fi Easy Connect (DPP) Configurator over TCP on this port (8908 is DPP's), on --host, for the devices added with `airlock network dpp add`: each gets the SSID and the credential it was added with (docs/DPP.md); prints the network's DPP URI",
    )
    .action(
      async (o: {
        trust: string[];
        dataDir: string;
        databaseUrl?: string;
        port: string;
        host: string;
        owner?: string;
        ssid?: string;
        verifierUrl?: string;
        verifierTrust?: string;
        intent?: string;
        radius?: string;
        reattestEvery: string;
        dppPort?: string;
      }) => {
        await run(async (created) => {
          const port = parsePort(o.port, '--port');
          const dppPort = o.dppPort === undefined ? undefined : parsePort(o.dppPort, '--dpp-port');
          const reattest = Number(o.reattestEvery);
          if (!Number.isInteger(reattest) || reattest < 0 || reattest > 31_536_000)
            throw new AirlockError(
              'ERR_CONFIG',
              '--reattest-every must be whole seconds, 0 to a year',
            );
          const named = namedVerifier(o);
          const verifier =
            named.url !== undefined && named.trust !== undefined
              ? new HttpVerifierClient(named.url, {
                  tlsCaPem: named.trust.tlsCaPem,
                  earKey: named.trust.earKey,
                })
              : undefined;
          const config = {
            ...(o.owner !== undefined ? { ownerName: parseName(o.owner, '--owner') } : {}),
            ...(o.ssid !== undefined ? { ssid: parseName(o.ssid, '--ssid') } : {}),
            reattestationIntervalSeconds: reattest,
          };
          const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: createLogger() };
          if (!verifier)
            note(
              'no verification service (--verifier-url): devices cannot attest, and the policy judges them as devices without attestation',
            );
          const trusts = o.trust.map((f) =>
            decodeAnyTrustFile(ctx.crypto, readJsonFile(f), ctx.clock.now()),
          );
          const dir = created.track(directoryPath(o.dataDir, '--data-dir'));
          fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
          if (!hasRole(dir, 'network')) announceNew(dir);
          const n = await openNetwork(ctx, dir, trusts, config, {
            create: true,
            ...databaseUrlOption(o.databaseUrl),
            ...(verifier ? { verifier } : {}),
            ...(o.intent !== undefined ? { intent: intentOptions(o.intent) } : {}),
          });
          let url: string;
          try {
            url = await n.serve(port, o.host);
          } catch (e) {
            await n.close();
            throw portError(e, () => '--port');
          }
          let radius: FreeRadius | undefined;
          if (o.radius !== undefined) {
            try {
              radius = await radiusFromFile(n, o.radius, dir);
            } catch (e) {
              await n.close();
              throw e;
            }
          }
          if (dppPort !== undefined) {
            try {
              const dpp = await n.serveDpp({ port: dppPort, host: o.host });
              say(
                `DPP Configurator on ${o.host}:${dpp.port} for the devices added (airlock network dpp add); the network's DPP URI: ${dpp.uri}`,
              );
            } catch (e) {
              await radius?.stop();
              await n.close();
              throw portError(e, () => '--dpp-port');
            }
          }
          say(
            `registrar for "${n.owner.name}" (party ${n.owner.id}) serving at ${url}, trusting ${trusts.length} manufacturer(s)`,
          );
          serveUntilInterrupted(async () => {
            await radius?.stop();
            await n.close();
          });
        });
      },
    );
  net
    .command('devices')
    .description(
      'the inventory: every device, its state and its credential identifiers (never secrets)',
    )
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .option('--json', 'print JSON')
    .option('--events <serial>', "print one device's audit trail instead")
    .action(async (o: { dataDir: string; json?: boolean; events?: string }) => {
      await withLocal(o.dataDir, async ({ network }) => {
        if (o.events) {
          const events = await network.inventory.events(o.events);
          const device = await network.inventory.device(o.events);
          const latest = await network.inventory.attestation(o.events);
          if (o.json) {
            printJson({ device, attestation: latest, events });
            return;
          }
          say(
            `attestation: ${device.attestation_status ?? 'none'}${device.attested_at ? ` (${device.attested_at})` : ''}`,
          );
          say(
            `policy: ${device.decision ?? 'none'}${device.segment ? `, segment ${device.segment}` : ''}${device.policy_rule ? `, rule ${device.policy_rule}` : ''}${device.policy_id ? ` (policy ${device.policy_id})` : ''}`,
          );
          if (device.quarantine) say(`quarantine: ${device.quarantine} (${device.quarantined_at})`);
          if (latest) say(`attestation result (EAR): ${latest}`);
          say('');
          printTable(
            events.map((e) => ({
              at: e.at,
              step: e.step,
              action: e.action,
              outcome: e.outcome,
              code: e.code,
            })),
          );
          return;
        }
        const devices = await network.inventory.devices();
        if (o.json) printJson(devices);
        else
          printTable(
            devices.map((d) => ({
              serial: d.serial,
              state: d.state,
              attestation: d.attestation_status,
              segment: d.segment,
              quarantine: d.quarantine ? 'yes' : null,
              onboardings: d.onboardings,
              ldevid: d.ldevid_serial,
              psk: d.psk_id,
              onboarded: d.onboarded_at,
            })),
          );
      });
    });
  net
    .command('reattest [serial]')
    .description(
      'ask onboarded devices (all, or one) for a fresh attestation now (NIST IR 8350 section 7); a device no longer admitted is marked for quarantine',
    )
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .option('--verifier-url <url>', 'the verification service (default: the one `airlock up` runs)')
    .option('--verifier-trust <file>', 'its trust file (`airlock verifier trust-bundle`)')
    .option('--json', 'print JSON')
    .action(
      async (
        serial: string | undefined,
        o: { dataDir: string; verifierUrl?: string; verifierTrust?: string; json?: boolean },
      ) => {
        await run(async () => {
          const dir = directoryPath(o.dataDir, '--data-dir');
          const ctx = { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger };
          const verifier = await verifierClientOf(ctx, dir, namedVerifier(o));
          if (!verifier)
            throw new AirlockError('ERR_CONFIG', 'no verification service to ask', {
              details: {
                hint: 'run `airlock up` (which runs one), or give --verifier-url and --verifier-trust',
              },
            });
          const manufacturer = await openManufacturer(ctx, dir);
          try {
            const network = await openNetwork(ctx, dir, [manufacturer.trustBundle()], undefined, {
              verifier,
            });
            try {
              const outcomes = await network.reattest(serial);
              if (o.json) printJson(outcomes);
              else
                printTable(
                  outcomes.map((x) => ({
                    serial: x.serial,
                    status: x.status ?? null,
                    quarantine: x.quarantined ? 'yes' : null,
                    error: x.code ?? null,
                    reasons: x.reasons.join('; ') || null,
                  })),
                );
            } finally {
              await network.close();
            }
          } finally {
            await manufacturer.close();
          }
        });
      },
    );
  net
    .command('decommission <serial>')
    .description(
      'take a device out of service (NIST IR 8350 section 7): its certificates revoked, its Wi-Fi keys retired, its 802.1X access gone at its next authentication, its intent rules removed (with --intent); it may be onboarded again later',
    )
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .option('--reason <text>', 'why, for the record (1 to 128 characters)')
    .option('--intent <file>', "the network's intent settings: its rules leave nftables too")
    .action(async (serial: string, o: { dataDir: string; reason?: string; intent?: string }) => {
      await withLocal(o.dataDir, async ({ network, manufacturer }) => {
        await network.decommission(
          serial,
          o.reason === undefined ? undefined : parseName(o.reason, '--reason'),
        );
        if (o.intent !== undefined)
          await forgetIntent(localIntentManager(network, manufacturer, o.intent), serial);
        say(`device ${serial} decommissioned: its certificates are revoked, its keys retired`);
      });
    });
  net
    .command('wifi-keys')
    .description(
      "write hostapd's wpa_psk_file: one line per device that may connect, its own Wi-Fi key and its segment's VLAN (mode 0600; the keys are in plain text, as hostapd needs them)",
    )
    .requiredOption('--out <file>', 'the file hostapd reads (wpa_psk_file=)')
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (o: { out: string; dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network }) => {
        const n = await network.writeWifiKeyFile(o.out);
        say(`${o.out}: ${n} device key(s)`);
      });
    });
  dppCommands(net);
  const policy = net
    .command('policy')
    .description(
      'the authorization policy (docs/POLICY.md): which devices may join, what attestation they need, their segment',
    );
  policy
    .command('check <file>')
    .description('validate a policy file (YAML or JSON); errors name the line and the field')
    .action(async (file: string) => {
      await run(async () => {
        const p = parsePolicy(readTextFile(file), { source: file });
        say(
          `${file}: valid, ${p.rules.length} rule(s): ${p.rules.map((r) => r.name).join(', ')}; when none matches: ${p.default}`,
        );
      });
    });
  policy
    .command('apply <file>')
    .description(
      'apply a policy file: it decides from now on, and every known device is judged again (changes are recorded)',
    )
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .option('--json', 'print JSON')
    .action(async (file: string, o: { dataDir: string; json?: boolean }) => {
      const text = readTextFile(file);
      await withLocal(o.dataDir, async ({ network }) => {
        const applied = await network.authorization.apply(text, file);
        if (o.json) {
          printJson(applied);
          return;
        }
        say(
          `policy ${applied.policyId} applied; ${applied.devices} device(s) judged again, ${applied.changes.length} changed`,
        );
        if (applied.changes.length > 0)
          printTable(
            applied.changes.map((c) => ({
              serial: c.serial,
              from: `${c.from.decision ?? 'none'} ${c.from.segment ?? ''}`.trim(),
              to: `${c.to.decision} ${c.to.segment ?? ''}`.trim(),
              rule: c.to.rule,
              quarantine: c.quarantined ? 'yes' : null,
            })),
          );
      });
    });
  policy
    .command('show')
    .description('print the policy in force (its id, and its rules as validated)')
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (o: { dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network }) => {
        printJson(await network.authorization.current());
      });
    });
  net
    .command('import-declarations <file>')
    .description(
      "install a manufacturer's declaration export file (NIST IR 8350 section 5.1.2); the devices whose declarations carry their DPP URI are pre-registered for Wi-Fi Easy Connect (sta-psk), as if scanned",
    )
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (file: string, o: { dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network }) => {
        const { installed, dppAdded } = await network.importDeclarations(readJsonFile(file));
        say(
          `installed ${installed} declaration chain(s)${
            dppAdded.length > 0
              ? `; pre-registered for DPP (their declarations carry their URIs): ${dppAdded.join(', ')}`
              : ''
          }`,
        );
      });
    });
  net
    .command('export-declarations')
    .description(
      "write the manufacturer's declaration export for this network's owner (what a purchaser receives)",
    )
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .action(async (o: { dataDir: string }) => {
      await withLocal(o.dataDir, async ({ network, manufacturer }) => {
        printJson(await manufacturer.declarations.exportFor(network.owner.id));
      });
    });
}

/** Opens the network role alone (never creating it), runs `fn`, closes it; errors exit 1. */
/** Opens the network in `--data-dir` (or `--database-url`), runs `fn`, closes it. */
export async function withNetwork(
  o: { dataDir: string; databaseUrl?: string },
  fn: (network: Network) => Promise<void>,
): Promise<void> {
  await run(async () => {
    const dir = directoryPath(o.dataDir, '--data-dir');
    const network = await openNetwork(
      { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
      dir,
      [],
      undefined,
      { create: false, ...databaseUrlOption(o.databaseUrl) },
    );
    try {
      await fn(network);
    } finally {
      await network.close();
    }
  });
}

/** `airlock network dpp ...`: the onboarder's part of Wi-Fi Easy Connect (docs/DPP.md). */
function dppCommands(net: Command): void {
  const dpp = net
    .command('dpp')
    .description(
      'Wi-Fi Easy Connect (DPP, NIST IR 8350 section 6): add devices by their bootstrapping URI; `network serve --dpp-port` configures them',
    );
  dpp
    .command('add <uri>')
    .description(
      "add a device by its DPP URI (scanned from its QR code, or pasted): its bootstrapping key is recorded, and the Configurator answers it with the credential --akm names. Its serial: the URI's I: value when it is SN=<serial> or a plain serial, else dpp-<first 16 hex digits of the key hash>. A bad URI is ERR_DPP_URI, a key or serial added already ERR_DPP_DUPLICATE; nothing is stored",
    )
    .option(
      '--akm <akm>',
      "the credential it is given: psk (sta-psk, its own PSK), sae (sta-sae, its own SAE password), dpp (sta-dpp, a Connector signed by the network's C-sign key), dot1x (sta-dot1x, an LDevID for its certificate request, for EAP-TLS; P-256 or P-384 keys)",
      'psk',
    )
    .option('--data-dir <dir>', 'where the network lives', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--json', 'print JSON')
    .action(
      async (
        uri: string,
        o: { akm: string; dataDir: string; databaseUrl?: string; json?: boolean },
      ) => {
        await withNetwork(o, async (network) => {
          const e = await network.dpp.add(uri, { akm: o.akm as DppAkm });
          if (o.json)
            printJson({
              serial: e.serial,
              keyHash: e.keyHash,
              curve: e.curve,
              akm: e.akm,
              info: e.info,
            });
          else say(`device ${e.serial} added (${e.curve}, sta-${e.akm}, key hash ${e.keyHash})`);
        });
      },
    );
  dpp
    .command('list')
    .description('the devices added by their DPP URI: serial, curve, key hash, I: information')
    .option('--data-dir <dir>', 'where the network lives', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--json', 'print JSON')
    .action(async (o: { dataDir: string; databaseUrl?: string; json?: boolean }) => {
      await withNetwork(o, async (network) => {
        const rows = (await network.dpp.list()).map((e) => ({
          serial: e.serial,
          curve: e.curve,
          akm: e.akm,
          keyHash: e.keyHash,
          info: e.info,
          added: e.addedAt,
        }));
        if (o.json) printJson(rows);
        else printTable(rows);
      });
    });
  dpp
    .command('uri')
    .description(
      "print the network's own DPP URI, what an enrollee scans (its key is made, and sealed, the first time); an enrollee authenticates mutually with the network's key on its own key's curve",
    )
    .option(
      '--curve <curve>',
      'the curve of the key: P-256, P-384, P-521, BP-256, BP-384 or BP-512',
      'P-256',
    )
    .option('--data-dir <dir>', 'where the network lives', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (o: { curve: string; dataDir: string; databaseUrl?: string }) => {
      const curve = DPP_NETWORK_CURVES.find((c) => c === o.curve);
      if (!curve)
        throw new AirlockError(
          'ERR_CONFIG',
          `--curve: ${o.curve} is not one of ${DPP_NETWORK_CURVES.join(', ')}`,
        );
      await withNetwork(o, async (network) => {
        say(await network.dpp.uri(curve));
      });
    });
}
