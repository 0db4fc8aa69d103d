/**
 * The device's 802.1X supplicant (report section 5.3, docs/RADIUS.md): wpa_supplicant on a
 * wired port (`-D wired`), EAP-TLS with the LDevID files the agent wrote (0600), until the port
 * is authorized or the authentication fails. Its configuration is a 0600 file of its own; the
 * process runs in a network namespace when one is named (tests, a device's own stack).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { AirlockError } from '../../core/errors.js';
import type { EapTlsFiles } from './eap-tls-files.js';

export interface WiredConnectOptions {
  /** The wired interface the authenticator is on. */
  interface: string;
  /** A network namespace to run in (`ip netns exec`). */
  netns?: string;
  /** The directory of its configuration and control socket. */
  dir: string;
  files: EapTlsFiles;
  /** How long the authentication may take (default 20 s). */
  timeoutMs?: number;
  /** The program (default `wpa_supplicant`). */
  binary?: string;
}

/** A port the supplicant authorized: it stays up until stopped (it answers re-authentication). */
export class WiredConnection {
  constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    /** The authenticator's address as the supplicant saw it (the PAE group address on a wire). */
    readonly peer: string,
  ) {}

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

const NAME = /^[A-Za-z0-9_.@-]{1,15}$/;

/**
 * Runs wpa_supplicant until the port is authorized (EAP success, then connected): a
 * WiredConnection. ERR_NETWORK_ACCESS_REFUSED when the network refuses the device (EAP failure,
 * or no authorization in time); ERR_CONFIG when wpa_supplicant cannot run.
 */
export async function connectWired(o: WiredConnectOptions): Promise<WiredConnection> {
  if (!NAME.test(o.interface) || (o.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(o.netns)))
    throw new AirlockError('ERR_CONFIG', 'not an interface or namespace name');
  for (const f of [o.files.certificate, o.files.key, o.files.ca])
    if (/["\n\\]/.test(f))
      throw new AirlockError('ERR_CONFIG', 'a credential path wpa_supplicant cannot read');
  if (!/^[\x21-\x7e]{1,128}$/.test(o.files.identity) || o.files.identity.includes('"'))
    throw new AirlockError('ERR_CONFIG', 'an EAP identity wpa_supplicant cannot take');
  await fs.mkdir(o.dir, { recursive: true, mode: 0o700 });
  const conf = path.join(o.dir, 'wpa_supplicant.conf');
  await fs.rm(conf, { force: true });
  await fs.writeFile(
    conf,
    [
      `ctrl_interface=${path.join(o.dir, 'ctrl')}`,
      'ap_scan=0',
      'network={',
      '  key_mgmt=IEEE8021X',
      '  eap=TLS',
      `  identity="${o.files.identity}"`,
      `  ca_cert="${o.files.ca}"`,
      `  client_cert="${o.files.certificate}"`,
      `  private_key="${o.files.key}"`,
      '  eapol_flags=0',
      '}',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const program = o.binary ?? 'wpa_supplicant';
  // -d: an EAP failure after the TLS handshake is only said at debug level (never -K: no keys).
  const args = ['-d', '-D', 'wired', '-i', o.interface, '-c', conf];
  const child =
    o.netns === undefined
      ? spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('ip', ['netns', 'exec', o.netns, program, ...args], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let output = '';
  let succeeded = false;
  const peer = await new Promise<string>((resolve, reject) => {
    const refuse = (code: 'ERR_NETWORK_ACCESS_REFUSED' | 'ERR_CONFIG', why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new AirlockError(code, why, { details: { log: output.slice(-1500) } }));
    };
    const timer = setTimeout(
      () => refuse('ERR_NETWORK_ACCESS_REFUSED', 'the port was not authorized in time'),
      o.timeoutMs ?? 20_000,
    );
    const onData = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-16_384);
      if (
        /CTRL-EVENT-EAP-FAILURE|EAP: Status notification: completion \(param=failure\)/.test(output)
      )
        refuse('ERR_NETWORK_ACCESS_REFUSED', 'the network refused the device (EAP failure)');
      if (/CTRL-EVENT-EAP-SUCCESS/.test(output)) succeeded = true;
      const connected = /CTRL-EVENT-CONNECTED - Connection to ([0-9a-f:]{17})/.exec(output);
      if (succeeded && connected) {
        clearTimeout(timer);
        resolve(connected[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (e) =>
      refuse('ERR_CONFIG', `wpa_supplicant could not be run: ${e.message}`),
    );
    child.once('exit', (code) =>
      refuse('ERR_CONFIG', `wpa_supplicant exited (${code}) before the port was authorized`),
    );
  });
  child.removeAllListeners('exit');
  child.stdout!.removeAllListeners('data');
  child.stderr!.removeAllListeners('data');
  child.stdout!.resume();
  child.stderr!.resume();
  return new WiredConnection(child, exited, peer);
}
