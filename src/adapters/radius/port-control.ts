/**
 * 802.1X port control for a hostapd port (docs/RADIUS.md): the port's nftables ingress filter
 * (src/protocols/nftables/port-control.ts) follows hostapd's events. A station hostapd reports
 * connected (`AP-STA-CONNECTED`: its port authorized) may send; one it reports gone
 * (`AP-STA-DISCONNECTED`: disconnected, refused at re-authentication, logged off) may not. Until
 * then, and if the events stop, only EAPOL passes: it fails closed.
 *
 * hostapd's events come through its own client, `hostapd_cli -a SCRIPT`, which runs the
 * script for each event; the script (written here, 0700) prints the event and the station.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { isAirlockError } from '../../core/errors.js';
import {
  portControlCommands,
  removePortCommands,
  stationCommands,
} from '../../protocols/nftables/port-control.js';
import type { Nftables } from '../enforcement/nftables.js';
import { checkControl, stations, type HostapdControl } from './hostapd-control.js';

export interface PortControlOptions {
  hostapd: HostapdControl;
  /** nftables where the port's interface is (its namespace). */
  nft: Pick<Nftables, 'apply'>;
  /** A directory of its own, for the event script. */
  dir: string;
  /** A station let in or shut out, or an event that could not be applied (its code). */
  onEvent?: (e: { station: string; authorized: boolean } | { error: string }) => void;
}

const EVENT = /^(AP-STA-CONNECTED|AP-STA-DISCONNECTED) ([0-9a-fA-F:]{17})$/;

export class PortControl {
  #queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly o: PortControlOptions,
    private readonly listener: ChildProcess,
  ) {}

  /**
   * Starts listening to hostapd's events, then makes the port's table with the stations hostapd
   * holds authorized now, so that no event falls between the two. ERR_ENFORCEMENT_FAILED when
   * the table cannot be made, ERR_TRANSPORT when hostapd cannot be asked: nothing is left.
   */
  static async start(o: PortControlOptions): Promise<PortControl> {
    checkControl(o.hostapd);
    await fs.mkdir(o.dir, { recursive: true, mode: 0o700 });
    const script = path.join(o.dir, 'hostapd-event');
    await fs.rm(script, { force: true });
    await fs.writeFile(script, '#!/bin/sh\nprintf \'%s %s\\n\' "$2" "$3"\n', { mode: 0o700 });
    const listener = spawn(
      o.hostapd.binary ?? 'hostapd_cli',
      ['-p', o.hostapd.ctrl, '-i', o.hostapd.interface, '-a', script],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const port = new PortControl(o, listener);
    const early: string[] = [];
    let ready = false;
    let rest = '';
    listener.stdout!.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (ready) port.#event(line);
        else early.push(line);
      }
    });
    try {
      const now = await stations(o.hostapd);
      await o.nft.apply({
        nftables: portControlCommands(
          o.hostapd.interface,
          now.filter((s) => s.authorized).map((s) => s.mac),
        ),
      });
    } catch (e) {
      listener.kill('SIGKILL');
      throw e;
    }
    ready = true;
    for (const line of early) port.#event(line);
    return port;
  }

  /** Stops following hostapd and removes the port's table: the port no longer filters. */
  async stop(): Promise<void> {
    this.listener.kill('SIGTERM');
    await this.#queue;
    await this.o.nft.apply({ nftables: removePortCommands(this.o.hostapd.interface) });
  }

  /** Waits for the events received so far to be applied. */
  settled(): Promise<void> {
    return this.#queue;
  }

  #event(line: string): void {
    const m = EVENT.exec(line.trim());
    if (!m) return;
    const authorized = m[1] === 'AP-STA-CONNECTED';
    const station = m[2]!.toLowerCase();
    this.#queue = this.#queue.then(async () => {
      try {
        await this.o.nft.apply({
          nftables: stationCommands(
            this.o.hostapd.interface,
            station,
            authorized ? 'add' : 'delete',
          ),
        });
        this.o.onEvent?.({ station, authorized });
      } catch (e) {
        this.o.onEvent?.({ error: isAirlockError(e) ? e.code : 'ERR_INTERNAL' });
      }
    });
  }
}
