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
import { fail, note, printJson, say } from '../output.js';
import { directoryPath, emptyDirectoryPath, parseHttpsUrl, run } from '../options.js';

async function agentAt(store: string): Promise<DeviceAgent> {
  const dir = directoryPath(store, '--store');
  return new DeviceAgent(await FileSecureStore.open(dir, { create: false }), {
    crypto: new NodeCrypto(),
    clock: systemClock,
    logger: createLogger({ level: 'warn' }),
  });
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
  dev
    .command('onboard')
    .description(
      'onboard with no human input: voucher, declaration, LDevID and Wi-Fi PSK (prints no secrets)',
    )
    .requiredOption(
      '--store <dir>',
      "the device's secure store (written by `airlock manufacturer mint`)",
    )
    .requiredOption('--registrar <url>', 'the registrar, e.g. https://127.0.0.1:8444')
    .option('--json', 'print JSON')
    .action(async (o: { store: string; registrar: string; json?: boolean }) => {
      try {
        const registrar = parseHttpsUrl(o.registrar, '--registrar');
        const report = await (await agentAt(o.store)).onboard(registrar);
        if (o.json) printJson(report);
        else for (const s of report.steps) say(`step ${String(s.step).padStart(2)}  ${s.name}`);
      } catch (e) {
        fail(e);
      }
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
