/**
 * The commands of a Configurator-initiated onboarding (docs/DPP.md), as a user runs them: the
 * device listens (`airlock dpp listen`, printing its URI with the address it listens on), the
 * onboarder gives that URI to the network (`airlock dpp onboard URI --akm dpp`), whose
 * Configurator connects and configures it; the device prints what it received (no secret) and
 * exits. An unknown --akm is refused, and nothing is added.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import { airlock, airlockBin as bin } from '../support/cli.js';
import { tempDir } from '../support/wire.js';

describe('airlock dpp listen, then airlock dpp onboard', () => {
  const root = tempDir('airlock-cli-dpp-onboard-');
  const mfg = path.join(root, 'mfg');
  const net = path.join(root, 'net');
  const dev = path.join(root, 'dev1');
  const children: ReturnType<typeof spawn>[] = [];

  beforeAll(async () => {
    expect((await airlock('manufacturer', 'init', '--data-dir', mfg)).code).toBe(0);
    const minted = await airlock(
      'manufacturer',
      'mint',
      '--data-dir',
      mfg,
      '--store',
      dev,
      '--serial',
      'cam-7',
    );
    expect(minted.code, minted.stderr).toBe(0);
    expect((await airlock('network', 'init', '--data-dir', net)).code).toBe(0);
  }, 120_000);
  afterAll(() => {
    for (const c of children) c.kill('SIGTERM');
  });

  it('the listening device is configured with a Connector, and says so without a secret', async () => {
    const listen = spawn(
      process.execPath,
      [bin, 'dpp', 'listen', '--store', dev, '--port', '0', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(listen);
    let out = '';
    listen.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number>((r) => listen.on('exit', (code) => r(code ?? -1)));
    const end = Date.now() + 30_000;
    while (!out.includes('\n') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    const { listening } = JSON.parse(out.split('\n')[0]!) as { listening: string };
    const shown = parseDppUri(listening);
    expect(shown.host?.address).toBe('127.0.0.1');
    expect(shown.info).toBe('SN=cam-7');

    const onboarded = await airlock(
      'dpp',
      'onboard',
      listening,
      '--akm',
      'dpp',
      '--data-dir',
      net,
      '--json',
    );
    expect(onboarded.code, onboarded.stderr).toBe(0);
    expect(JSON.parse(onboarded.stdout)).toMatchObject({
      serial: 'cam-7',
      akm: 'dpp',
      curve: 'P-256',
      configured: true,
    });
    expect(await exited).toBe(0);
    const got = JSON.parse(out.slice(out.indexOf('\n') + 1)) as Record<string, unknown>;
    expect(got).toEqual({
      kind: 'sta-dpp',
      ssid: expect.any(String),
      mutual: false,
      role: 'responder',
    });
    expect(out).not.toMatch(/netAccessKey|signedConnector|passphrase/);

    const list = await airlock('network', 'dpp', 'list', '--data-dir', net, '--json');
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ serial: 'cam-7', akm: 'dpp' }),
    ]);
  }, 60_000);

  it('an unknown --akm is ERR_CONFIG, and nothing is added', async () => {
    const r = await airlock(
      'dpp',
      'onboard',
      'DPP:I:SN=cam-8;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;',
      '--akm',
      'wep',
      '--data-dir',
      net,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ERR_CONFIG');
    const list = await airlock('network', 'dpp', 'list', '--data-dir', net, '--json');
    expect((JSON.parse(list.stdout) as { serial: string }[]).map((e) => e.serial)).not.toContain(
      'cam-8',
    );
  }, 60_000);
});
