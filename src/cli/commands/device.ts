/**
 * `airlock device ...`: the device agent, over a secure store directory.
 */
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { createLogger } from '../../adapters/log/logger.js';
import { FileSecureStore } from '../../adapters/secure-store/file-store.js';
import { systemClock } from '../../core/ports.js';
import { DeviceAgent } from '../../roles/device/agent.js';
import { fail, printJson } from '../output.js';

async function agentAt(store: string): Promise<DeviceAgent> {
  return new DeviceAgent(await FileSecureStore.open(store, { create: false }), { crypto: new NodeCrypto(), clock: systemClock, logger: createLogger({ level: 'warn' }) });
}

export function deviceCommand(program: Command): void {
  const dev = program.command('device').description('the device agent: onboard, renew, show status, factory-reset');
  dev
    .command('onboard')
    .description('onboard with no human input: voucher, declaration, LDevID and Wi-Fi PSK (prints no secrets)')
    .requiredOption('--store <dir>', "the device's secure store (written by `airlock manufacturer mint`)")
    .requiredOption('--registrar <url>', 'the registrar, e.g. https://127.0.0.1:8444')
    .option('--json', 'print JSON')
    .action(async (o: { store: string; registrar: string; json?: boolean }) => {
      try {
        const report = await (await agentAt(o.store)).onboard(o.registrar);
        if (o.json) printJson(report);
        else for (const s of report.steps) console.log(`step ${String(s.step).padStart(2)}  ${s.name}`);
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
        printJson(await (await agentAt(o.store)).renew(o.registrar));
      } catch (e) {
        fail(e);
      }
    });
  dev
    .command('status')
    .description('what the device holds: serial number, and whether and to whom it is onboarded (no secrets)')
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
          onboarded: creds ? { networkOwner: creds.networkOwner, ssid: creds.wifi.ssid, onboardedAt: creds.onboardedAt, declarationSequence: creds.declaration.sequence } : null,
        });
      } catch (e) {
        fail(e);
      }
    });
  dev
    .command('reset')
    .description('factory reset: erase everything but the birth credentials')
    .requiredOption('--store <dir>', "the device's secure store")
    .action(async (o: { store: string }) => {
      try {
        await (await agentAt(o.store)).factoryReset();
        console.log('factory reset: onboarding credentials erased; birth credentials kept');
      } catch (e) {
        fail(e);
      }
    });
}
