/**
 * `airlock device ...`: the device agent, over a secure store directory; `export` writes its
 * credentials as PEM files for other software.
 */
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger } from '../../adapters/log/logger.js';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import { systemClock } from '../../core/ports.js';
import { DeviceAgent } from '../../roles/device/agent.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBase64, toPem } from '../../core/bytes.js';
import { fail, note, printJson, say, serveUntilInterrupted } from '../output.js';
import { fileMeasuredBoot } from '../../adapters/device/measured-boot.js';
import { AirlockError } from '../../core/errors.js';
import { directoryPath, emptyDirectoryPath, parseHttpsUrl, parsePort, run } from '../options.js';

interface FirmwareOptions {
  firmwareImage?: string;
  firmwareVersion?: string;
  firmwareName?: string;
  attestationUrl?: string;
}

/** The agent of the secure store `store` (`--store`), as every device command opens it. */
export async function agentAt(store: string, o: FirmwareOptions = {}): Promise<DeviceAgent> {
  const dir = directoryPath(store, '--store');
  const secure = await FileSecureStore.open(dir, { create: false });
  const ctx = {
    crypto: new NodeCrypto(),
    clock: systemClock,
    logger: createLogger({ level: 'warn' }),
  };
  if (o.firmwareImage === undefined)
    return new DeviceAgent(
      secure,
      ctx,
      o.attestationUrl ? { attestationUrl: o.attestationUrl } : {},
    );
  // Step 1: the device measures the image it runs; its name and version are those the factory
  // flashed unless given.
  const birth = await new DeviceAgent(secure, ctx).birth();
  const version = o.firmwareVersion ?? birth.firmware?.version;
  const name = o.firmwareName ?? birth.firmware?.name ?? `${birth.model}-firmware`;
  if (version === undefined)
    throw new AirlockError('ERR_CONFIG', 'the firmware version is not known', {
      details: { hint: 'give --firmware-version' },
    });
  return new DeviceAgent(secure, ctx, {
    measuredBoot: fileMeasuredBoot({ image: o.firmwareImage, name, version }),
    ...(o.attestationUrl ? { attestationUrl: o.attestationUrl } : {}),
  });
}

/** The options of the device's measured boot (step 1), on the commands that attest. */
function firmwareOptions(c: Command): Command {
  return c
    .option(
      '--firmware-image <file>',
      'the firmware image the device runs: measured (SHA-256) for its attestation token; without it the device does not attest',
    )
    .option('--firmware-version <version>', 'its version (default: the one flashed at minting)')
    .option('--firmware-name <name>', 'its name (default: the one flashed at minting)');
}

function certificatesPem(base64s: string[]): string {
  return base64s.map((b) => toPem('CERTIFICATE', fromBase64(b)!)).join('');
}

/**
 * Writes what the device holds as PEM files for other software (curl, openssl, wpa_supplicant):
 * `idevid.pem` (the chain, leaf first) and `idevid.key`, and once onboarded `ldevid.pem`,
 * `ldevid.key` and `domain-ca.pem`. Keys are PKCS#8; the files are 0600 in a 0700 directory.
 */
export async function exportDevice(agent: DeviceAgent, out: string): Promise<string[]> {
  const birth = await agent.birth();
  const creds = await agent.onboardingCredentials();
  const files: Array<[string, string]> = [
    ['idevid.pem', certificatesPem(birth.idevidChain)],
    ['idevid.key', toPem('PRIVATE KEY', fromBase64(birth.idevidKey)!)],
  ];
  if (creds) {
    files.push(
      ['ldevid.pem', certificatesPem([creds.ldevid, ...creds.ldevidChain])],
      ['ldevid.key', toPem('PRIVATE KEY', fromBase64(creds.ldevidKey)!)],
      ['domain-ca.pem', certificatesPem([creds.domainCa])],
    );
  }
  fs.mkdirSync(out, { recursive: true, mode: 0o700 });
  fs.chmodSync(out, 0o700);
  for (const [name, text] of files)
    fs.writeFileSync(path.join(out, name), text, { mode: 0o600, flag: 'wx' });
  return files.map(([name]) => name);
}

export function deviceCommand(program: Command): void {
  const dev = program
    .command('device')
    .description('the device agent: onboard, renew, show status, export to PEM, factory-reset');
  firmwareOptions(
    dev
      .command('onboard')
      .description(
        'onboard with no human input: attestation, voucher, declaration, LDevID and Wi-Fi PSK (prints no secrets)',
      )
      .requiredOption(
        '--store <dir>',
        "the device's secure store (written by `airlock manufacturer mint`)",
      )
      .requiredOption('--registrar <url>', 'the registrar, e.g. https://127.0.0.1:8444'),
  )
    .option(
      '--attestation-url <url>',
      'where the device will answer re-attestation (`airlock device serve-attestation`), told to the network',
    )
    .option('--json', 'print JSON')
    .action(async (o: { store: string; registrar: string; json?: boolean } & FirmwareOptions) => {
      try {
        const registrar = parseHttpsUrl(o.registrar, '--registrar');
        if (o.attestationUrl !== undefined) parseHttpsUrl(o.attestationUrl, '--attestation-url');
        const report = await (await agentAt(o.store, o)).onboard(registrar);
        if (o.json) printJson(report);
        else for (const s of report.steps) say(`step ${String(s.step).padStart(2)}  ${s.name}`);
      } catch (e) {
        fail(e);
      }
    });
  firmwareOptions(
    dev
      .command('serve-attestation')
      .description(
        "answer the network's re-attestation requests (NIST IR 8350 section 7) at the LDevID, measuring the firmware image afresh each time, until interrupted",
      )
      .requiredOption('--store <dir>', "the device's secure store")
      .option('--port <port>', 'HTTPS port', '8447')
      .option('--host <host>', 'address to listen on', '127.0.0.1'),
  ).action(async (o: { store: string; port: string; host: string } & FirmwareOptions) => {
    await run(async () => {
      const port = parsePort(o.port, '--port');
      if (o.firmwareImage === undefined)
        throw new AirlockError('ERR_CONFIG', 'a device attests what it measures', {
          details: { hint: 'give --firmware-image' },
        });
      const responder = await (await agentAt(o.store, o)).serveAttestation({ port, host: o.host });
      say(`answering re-attestation at ${responder.url}`);
      serveUntilInterrupted(() => responder.close());
    });
  });
  dev
    .command('renew')
    .description('renew the LDevID (EST simplereenroll), authenticated by the current one')
    .requiredOption('--store <dir>', "the device's secure store")
    .requiredOption('--registrar <url>', 'the registrar, e.g. https://127.0.0.1:8444')
    .action(async (o: { store: string; registrar: string }) => {
      try {
        const registrar = parseHttpsUrl(o.registrar, '--registrar');
        printJson(await (await agentAt(o.store)).renew(registrar));
      } catch (e) {
        fail(e);
      }
    });
  dev
    .command('connect')
    .description(
      'join the network with what onboarding delivered: 802.1X (EAP-TLS with the LDevID) on a wired port through wpa_supplicant, until the port is authorized; then report to the registrar (NIST IR 8350 section 5.3) and keep the port until interrupted. Needs wpa_supplicant (and root for its interface)',
    )
    .requiredOption('--store <dir>', "the device's secure store")
    .requiredOption('--interface <name>', 'the wired interface the authenticator is on')
    .option('--netns <name>', 'a network namespace to run wpa_supplicant in')
    .option('--registrar <url>', 'report the result to this registrar, e.g. https://127.0.0.1:8444')
    .action(async (o: { store: string; interface: string; netns?: string; registrar?: string }) => {
      await run(async () => {
        const registrar =
          o.registrar === undefined ? undefined : parseHttpsUrl(o.registrar, '--registrar');
        const agent = await agentAt(o.store);
        // Its credentials as files for wpa_supplicant, 0600 beside the secure store.
        const dir = path.join(directoryPath(o.store, '--store'), '8021x');
        let connection;
        try {
          connection = await agent.connectWired({
            interface: o.interface,
            dir,
            ...(o.netns !== undefined ? { netns: o.netns } : {}),
          });
        } catch (e) {
          if (registrar !== undefined && e instanceof AirlockError)
            await agent
              .reportConnection(registrar, {
                result: 'refused',
                medium: 'wired',
                method: 'eap-tls',
                reason: e.code,
              })
              .catch(() => undefined); // the network refused it: the registrar may be out of reach
          throw e;
        }
        if (registrar !== undefined)
          await agent.reportConnection(registrar, {
            result: 'authorized',
            medium: 'wired',
            method: 'eap-tls',
            authenticator: connection.peer,
          });
        printJson({
          authorized: true,
          authenticator: connection.peer,
          reported: registrar !== undefined,
        });
        const held = connection;
        serveUntilInterrupted(() => held.stop());
      });
    });
  dev
    .command('status')
    .description(
      'what the device holds: serial number, and whether and to whom it is onboarded (no secrets)',
    )
    .requiredOption('--store <dir>', "the device's secure store")
    .action(async (o: { store: string }) => {
      try {
        const agent = await agentAt(o.store);
        const birth = await agent.birth();
        const creds = await agent.onboardingCredentials();
        printJson({
          serialNumber: birth.serialNumber,
          model: birth.model,
          masaUrl: birth.masaUrl,
          onboarded: creds
            ? {
                networkOwner: creds.networkOwner,
                ssid: creds.wifi.ssid,
                onboardedAt: creds.onboardedAt,
                declarationSequence: creds.declaration.sequence,
              }
            : null,
        });
      } catch (e) {
        fail(e);
      }
    });
  dev
    .command('export')
    .description(
      "write the device's certificates and PRIVATE KEYS as PEM files (idevid.pem/.key; once onboarded ldevid.pem/.key, domain-ca.pem) for curl or openssl; the keys leave the secure store",
    )
    .requiredOption('--store <dir>', "the device's secure store")
    .requiredOption('--out <dir>', 'a new or empty directory; made 0700, files 0600')
    .action(async (o: { store: string; out: string }) => {
      await run(async (created) => {
        const agent = await agentAt(o.store);
        const out = created.track(emptyDirectoryPath(o.out, '--out'));
        const names = await exportDevice(agent, out);
        note(
          `private keys left the secure store: ${names.filter((n) => n.endsWith('.key')).join(', ')} in ${out} (0600); delete them when done`,
        );
        say(`wrote ${names.join(', ')} to ${out}`);
      });
    });
  dev
    .command('reset')
    .description('factory reset: erase everything but the birth credentials')
    .requiredOption('--store <dir>', "the device's secure store")
    .action(async (o: { store: string }) => {
      try {
        await (await agentAt(o.store)).factoryReset();
        say('factory reset: onboarding credentials erased; birth credentials kept');
      } catch (e) {
        fail(e);
      }
    });
}
