/**
 * A real wpa_supplicant 2.10 for the DPP tests: run with `-Dnone -i lo` (no radio; DPP over
 * TCP on the host's loopback), its control socket, configuration and log in `dir`; wpa_cli to
 * drive it, the log to read its events. Needs root and wpa_supplicant/wpa_cli (`skipReason`).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
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

/** Polls `f` every 50 ms until it gives a value; throws naming `what` after `ms`. */
export async function until<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Text as wpa_supplicant's DPP parameters take it: hex. */
export const hexOf = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
