/**
 * A real wpa_supplicant 2.10 for the DPP tests: run with `-Dnone -i lo` (no radio; DPP over
 * TCP on the host's loopback), its control socket, configuration and log in `dir`; wpa_cli to
 * drive it, the log to read its events. Needs root and wpa_supplicant/wpa_cli (`skipReason`).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect } from 'vitest';
import { freePort } from './dpp.js';
import { onPath } from './tools.js';

/** Why wpa_supplicant cannot be run here, or undefined when it can. */
export function wpaSupplicantSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'wpa_supplicant is run as root here';
  return ['wpa_supplicant', 'wpa_cli']
    .map((t) => (onPath(t) ? undefined : `${t} is not installed`))
    .find(Boolean);
}

export interface WpaSupplicant {
  /** A wpa_cli command's answer, trimmed. */
  cli(...args: string[]): string;
  /** The log so far (its events: DPP-AUTH-SUCCESS, DPP-CONF-RECEIVED, ...). */
  log(): string;
  /** The configuration file (written back by wpa_supplicant with `update_config=1`). */
  conf: string;
  stop(): Promise<void>;
}

/** Starts wpa_supplicant in `dir` with `globals` (lines) in its configuration file. */
export async function startWpaSupplicant(
  dir: string,
  globals: string[] = [],
): Promise<WpaSupplicant> {
  const ctrl = path.join(dir, 'ctrl');
  const conf = path.join(dir, 'wpa_supplicant.conf');
  const log = path.join(dir, 'wpa_supplicant.log');
  const pidFile = path.join(dir, 'wpa_supplicant.pid');
  fs.writeFileSync(conf, [`ctrl_interface=${ctrl}`, ...globals, ''].join('\n'), { mode: 0o600 });
  fs.writeFileSync(log, '');
  execFileSync('wpa_supplicant', ['-B', '-Dnone', '-ilo', '-c', conf, '-P', pidFile, '-f', log]);
  for (let i = 0; i < 50 && !fs.existsSync(path.join(ctrl, 'lo')); i++)
    await new Promise((r) => setTimeout(r, 100));
  return {
    cli: (...args) =>
      execFileSync('wpa_cli', ['-p', ctrl, '-i', 'lo', ...args], { encoding: 'utf8' }).trim(),
    log: () => fs.readFileSync(log, 'utf8'),
    conf,
    async stop() {
      try {
        const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
        if (pid > 0) process.kill(pid, 'SIGTERM');
      } catch {
        // not started
      }
      await new Promise((r) => setTimeout(r, 200));
    },
  };
}

/** startWpaSupplicant in a new private temporary directory (`prefix`...), removed by stop(). */
export async function startWpaSupplicantInTemp(
  prefix: string,
  globals: string[] = [],
): Promise<WpaSupplicant> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  let wpa: WpaSupplicant;
  try {
    wpa = await startWpaSupplicant(dir, globals);
  } catch (e) {
    remove();
    throw e;
  }
  return {
    ...wpa,
    async stop() {
      await wpa.stop();
      remove();
    },
  };
}

/**
 * DPP_AUTH_INIT as the Enrollee to the peer `peer` (a DPP_QR_CODE id), over TCP to
 * 127.0.0.1:`port`, with its own bootstrapping key `own` (an id) when given: the answer.
 */
export function initiateAsEnrollee(
  wpa: WpaSupplicant,
  peer: string,
  port: number,
  own?: string,
): string {
  return wpa.cli(
    'DPP_AUTH_INIT',
    `peer=${peer}`,
    ...(own ? [`own=${own}`] : []),
    'role=enrollee',
    'tcp_addr=127.0.0.1',
    `tcp_port=${port}`,
    'neg_freq=2412',
  );
}

/**
 * Makes `wpa` a DPP Configurator and Controller that gives sta-psk with `ssid` and `passphrase`,
 * listening on a free TCP port: the Configurator's id and the port.
 */
export async function startWpaController(
  wpa: WpaSupplicant,
  ssid: string,
  passphrase: string,
): Promise<{ configurator: string; port: number }> {
  const configurator = wpa.cli('DPP_CONFIGURATOR_ADD');
  expect(configurator).toMatch(/^\d+$/);
  expect(
    wpa.cli(
      'SET',
      'dpp_configurator_params',
      ` conf=sta-psk ssid=${hexOf(ssid)} pass=${hexOf(passphrase)} configurator=${configurator}`,
    ),
  ).toBe('OK');
  const port = await freePort();
  expect(wpa.cli('DPP_CONTROLLER_START', `tcp_port=${port}`)).toBe('OK');
  return { configurator, port };
}

/**
 * DPP_AUTH_INIT as the Configurator `configurator` (an id) to the peer `peer` (a DPP_QR_CODE
 * id), over TCP to 127.0.0.1:`port`, giving sta-psk with `ssid` and `passphrase`; `extra`
 * parameters (own=, ...) added: the answer.
 */
export function initiateAsConfigurator(
  wpa: WpaSupplicant,
  peer: string,
  port: number | string,
  configurator: string,
  ssid: string,
  passphrase: string,
  extra: string[] = [],
): string {
  return wpa.cli(
    'DPP_AUTH_INIT',
    `peer=${peer}`,
    ...extra,
    'tcp_addr=127.0.0.1',
    `tcp_port=${port}`,
    'role=configurator',
    `configurator=${configurator}`,
    // With -Dnone there is no channel list: the exchange needs one frequency named.
    'neg_freq=2412',
    'conf=sta-psk',
    `ssid=${hexOf(ssid)}`,
    `pass=${hexOf(passphrase)}`,
  );
}

/** Polls `f` every `every` ms until it gives a value; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  f: () => T | undefined,
  ms = 15_000,
  every = 50,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Text as wpa_supplicant's DPP parameters take it: hex. */
export const hexOf = (s: string): string => Buffer.from(s, 'utf8').toString('hex');

/** The network blocks of a wpa_supplicant configuration file, each as its key=value lines. */
export function networkBlocks(text: string): Map<string, string>[] {
  return [...text.matchAll(/network=\{\n([\s\S]*?)\n\}/g)].map(
    (m) =>
      new Map(
        m[1]!
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.includes('='))
          .map(
            (l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string],
          ),
      ),
  );
}

/**
 * An eapol_test configuration from what wpa_supplicant saved (`text`, its globals and blobs, and
 * its network `block`), with the two lines wpa_supplicant 2.10 leaves to the operator after a
 * sta-dot1x configuration: the identity (it writes "dpp-ent"; FreeRADIUS admits a certificate
 * only under its own name) and the CA to trust (it keeps none). Written 0600 to `file`.
 */
export function writeSavedEapolConfig(
  file: string,
  text: string,
  block: Map<string, string>,
  o: { identity: string; caFile: string },
): void {
  const globalsAndBlobs = text
    .replace(/network=\{[\s\S]*?\n\}\n?/g, '')
    .replace(/^ctrl_interface=.*$/m, '');
  const lines = [...block.entries()]
    .filter(([k]) => k !== 'identity')
    .map(([k, v]) => `  ${k}=${v}`);
  fs.writeFileSync(
    file,
    `${globalsAndBlobs}\nnetwork={\n${lines.join('\n')}\n  identity="${o.identity}"\n  ca_cert="${o.caFile}"\n  eapol_flags=0\n}\n`,
    { mode: 0o600 },
  );
}
