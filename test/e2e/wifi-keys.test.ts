/**
 * Per-device Wi-Fi keys for hostapd (docs/RADIUS.md): the `wpa_psk_file` Airlock writes holds
 * one distinct key per device that may connect, with its segment's VLAN and its PSK id as
 * hostapd's keyid, and no key of a decommissioned device; hostapd's own parser reads it
 * (`driver=none`: no radio), and refuses a file with a bad line, so the check can fail.
 * Needs root and hostapd: elsewhere it says `skipped: <reason>`; CI installs it.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { onPath } from '../support/tools.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const skip =
  process.getuid?.() !== 0
    ? 'hostapd is run as root here'
    : onPath('hostapd')
      ? undefined
      : 'hostapd is not installed';
if (skip) console.log(`skipped: ${skip}`);

/** hostapd with `file` as its wpa_psk_file and no radio: 'enabled', or its exit code and output. */
async function hostapdReads(
  dir: string,
  file: string,
): Promise<{ enabled: boolean; output: string }> {
  const conf = path.join(dir, 'hostapd.conf');
  fs.writeFileSync(
    conf,
    [
      'interface=lo',
      'driver=none',
      'ssid=airlock-iot',
      'wpa=2',
      'wpa_key_mgmt=WPA-PSK',
      'rsn_pairwise=CCMP',
      `wpa_psk_file=${file}`,
      '',
    ].join('\n'),
  );
  const child = spawn('hostapd', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const onData = (b: Buffer) => {
      output += b.toString('utf8');
      if (output.includes('AP-ENABLED')) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('close', () => {
      clearTimeout(timer);
      resolve({ enabled: output.includes('AP-ENABLED'), output });
    });
  });
}

describe.skipIf(skip !== undefined)("hostapd's per-device key file", () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem();
    await sys.network.store.transaction((r) => r.radius.setVlans({ default: 101 }));
  }, 60_000);
  afterAll(async () => sys?.close());

  it('holds one distinct key per device that may connect, with its VLAN and keyid, none of a decommissioned device; hostapd reads it', async () => {
    const devices = [];
    for (let i = 0; i < 3; i++) {
      const d = await sys.newDevice();
      await d.agent.onboard(sys.registrarUrl);
      devices.push({ ...d, psk: (await d.agent.onboardingCredentials())!.wifi.psk });
    }
    const [gone, ...kept] = devices;
    await sys.network.decommission(gone!.serial);

    const file = path.join(sys.dir, 'wpa_psk');
    const { stdout } = await run(process.execPath, [
      bin,
      'network',
      'wifi-keys',
      '--out',
      file,
      '--data-dir',
      path.join(sys.dir, 'data'),
    ]);
    expect(stdout).toContain(`${file}: 2 device key(s)`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(lines).toHaveLength(2);
    const keys = lines.map((l) => l.split(' ').at(-1));
    expect(new Set(keys).size).toBe(2);
    for (const d of kept) {
      const pskId = (await sys.network.inventory.device(d.serial)).psk_id;
      expect(lines).toContain(`keyid=${pskId} vlanid=101 00:00:00:00:00:00 ${d.psk}`);
    }
    expect(fs.readFileSync(file, 'utf8')).not.toContain(gone!.psk);

    const read = await hostapdReads(sys.dir, file);
    expect(read.enabled, read.output).toBe(true);
    // The same parser refuses a bad line: the check above could have failed.
    const bad = path.join(sys.dir, 'wpa_psk_bad');
    fs.writeFileSync(bad, `${lines[0]}\nkeyid=x 00:00:00:00:00:00 short\n`, { mode: 0o600 });
    const refused = await hostapdReads(sys.dir, bad);
    expect(refused.enabled).toBe(false);
    expect(refused.output).toMatch(/Invalid PSK.*line 2/);
  });
});
