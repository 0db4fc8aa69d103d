/**
 * FreeRADIUS and eapol_test for the 802.1X tests: why they cannot run here (root, the
 * programs), a free UDP port, and one EAP-TLS authentication by eapol_test (hostap's RADIUS
 * client, not Airlock's code) with what the server answered.
 */
import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { onPath } from './tools.js';
import type { TestSystem } from './harness.js';

const run = promisify(execFile);

/** Why FreeRADIUS cannot be run here, or undefined when it can. */
export function radiusSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'FreeRADIUS is run as root here';
  for (const tool of ['freeradius', 'eapol_test'])
    if (!onPath(tool)) return `${tool} is not installed`;
  if (!fs.existsSync('/etc/freeradius/3.0/radiusd.conf'))
    return "FreeRADIUS's configuration /etc/freeradius/3.0 is not there";
  return undefined;
}

/** A UDP port nothing listens on now on loopback. */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface EapResult {
  ok: boolean;
  /** Tunnel-Private-Group-Id of the Access-Accept: the VLAN. */
  vlan?: string;
  output: string;
}

/** One EAP-TLS authentication: `identity` with the certificate and key given, trusting `ca`. */
export async function eapolTest(o: {
  dir: string;
  port: number;
  secret: string;
  identity: string;
  certificate: string;
  key: string;
  ca: string;
}): Promise<EapResult> {
  const conf = path.join(o.dir, `eapol-${o.identity.replace(/[^A-Za-z0-9_-]/g, '_')}.conf`);
  fs.writeFileSync(
    conf,
    `network={
  key_mgmt=WPA-EAP
  eap=TLS
  identity="${o.identity}"
  ca_cert="${o.ca}"
  client_cert="${o.certificate}"
  private_key="${o.key}"
  eapol_flags=0
}
`,
    { mode: 0o600 },
  );
  return eapolTestConfig(conf, o.port, o.secret);
}

/** One EAP authentication by eapol_test with the wpa_supplicant configuration file `conf`. */
export async function eapolTestConfig(
  conf: string,
  port: number,
  secret: string,
): Promise<EapResult> {
  let output: string;
  let ok: boolean;
  try {
    output = (
      await run(
        'eapol_test',
        ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-s', secret, '-t', '10'],
        { maxBuffer: 8 * 1024 * 1024 },
      )
    ).stdout;
    ok = /\nSUCCESS\s*$/.test(output);
  } catch (e) {
    output = String((e as { stdout?: string }).stdout ?? e);
    ok = false;
  }
  // "Attribute 81 (Tunnel-Private-Group-Id) length=N" then "Value: <hex>".
  const hex = /Attribute 81 \(Tunnel-Private-Group-Id\)[^\n]*\n\s*Value: ([0-9a-f]+)/.exec(
    output,
  )?.[1];
  return { ok, output, ...(hex ? { vlan: Buffer.from(hex, 'hex').toString('latin1') } : {}) };
}

/** A device minted, sold and onboarded by `sys`, with its supplicant files written under `dir`. */
export async function onboardedDevice(sys: TestSystem, dir: string) {
  const d = await sys.newDevice();
  await d.agent.onboard(sys.registrarUrl);
  const files = await d.agent.eapTlsFiles(path.join(dir, d.serial));
  return { ...d, files };
}

/** What eapolTest needs of a device: its EAP identity and its PEM files. */
export type EapFiles = Awaited<ReturnType<typeof onboardedDevice>>['files'];
