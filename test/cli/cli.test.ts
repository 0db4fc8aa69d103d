/**
 * The command a newcomer runs: `airlock` through its package bin, as `npx airlock` would.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

describe('airlock CLI', () => {
  it('prints help naming every role', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help']);
    for (const word of ['up', 'demo', 'manufacturer', 'network', 'device'])
      expect(stdout).toContain(word);
  });

  it('demo --json onboards every device with unique credentials and exits 0', async () => {
    const { stdout } = await run(process.execPath, [bin, 'demo', '--devices', '2', '--json'], {
      timeout: 60_000,
    });
    const result = JSON.parse(stdout) as {
      devices: number;
      onboarded: number;
      failed: number;
      uniqueCredentials: boolean;
      steps: number[];
      dpp: { serialNumber: string; ok: boolean; kind: string };
    };
    expect(result).toMatchObject({ devices: 2, onboarded: 2, failed: 0, uniqueCredentials: true });
    // And one more, over Wi-Fi Easy Connect: the network's Configurator gave it a Connector.
    expect(result.dpp).toMatchObject({ ok: true, kind: 'sta-dpp' });
    // The demonstration's devices attest (steps 1 and 3; 4 and 8 are the registrar's).
    expect(result.steps).toEqual([1, 2, 3, 5, 6, 7, 9, 10, 14, 15]);
  });

  it('demo prints its own lines as they are: only text a peer chose is escaped', async () => {
    const { stdout } = await run(process.execPath, [bin, 'demo', '--devices', '1'], {
      timeout: 60_000,
    });
    expect(stdout).toMatch(/\n1\/1 onboarded, unique credentials: true/);
    expect(stdout).not.toContain('\\u{');
  });

  it('refuses a bad device count with exit 1 and a message', async () => {
    const err = await run(process.execPath, [bin, 'demo', '--devices', 'lots']).then(
      () => undefined,
      (e: { code: number; stderr: string; stdout: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/--devices/);
  });

  it('refuses a trust file that is not JSON with a typed error', async () => {
    const err = await run(process.execPath, [
      bin,
      'network',
      'serve',
      '--trust',
      bin,
      '--data-dir',
      '/nonexistent-airlock-test',
      '--port',
      '0',
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/ERR_CONFIG/);
    expect(fs.existsSync('/nonexistent-airlock-test')).toBe(false);
  });
});
