/**
 * nftables through its JSON interface (`nft -j`): a document goes to `nft -j -f FILE` (a file
 * of its own, mode 0600, removed after), one transaction, applied whole or not at all. The command line is an argument vector built
 * here, never a shell string, and nothing from a MUD file or the inventory reaches it: only the
 * JSON document carries them, as data. Optionally inside a network namespace (`ip netns exec`),
 * as the tests and a gateway that keeps its IoT segment in one do.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { AirlockError } from '../../core/errors.js';
import { DENIED_FLOWS, TABLE } from '../../protocols/nftables/json.js';

/** A flow a profile dropped. */
export interface DeniedFlow {
  source: string;
  destination: string;
  /** IP protocol number: 6 TCP, 17 UDP. */
  protocol: number;
  port: number;
  packets: number;
}

export interface NftablesOptions {
  /** Run nft inside this network namespace (by its name under /run/netns). */
  netns?: string;
  /** The nft binary (default: `nft` on the PATH). */
  nft?: string;
  /** How long one nft run may take (default 30 s). */
  timeoutMs?: number;
}

export class Nftables {
  constructor(private readonly opts: NftablesOptions = {}) {
    if (opts.netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(opts.netns))
      throw new AirlockError(
        'ERR_CONFIG',
        'a network namespace name is 1 to 64 of A-Z a-z 0-9 _ . -',
      );
  }

  /** Applies `doc` (nft's JSON schema) in one transaction; ERR_ENFORCEMENT_FAILED with nft's reason. */
  async apply(doc: { nftables: unknown[] }): Promise<void> {
    // Through a file of its own: nft opens `-` as /dev/stdin, which a socket (Node's pipes) is not.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'airlock-nft-'));
    try {
      const file = path.join(dir, 'ruleset.json');
      await fs.writeFile(file, JSON.stringify(doc), { mode: 0o600 });
      await this.#run(['-j', '-f', file], '');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** Airlock's table as nft lists it (JSON), or undefined when there is none. */
  async table(): Promise<unknown[] | undefined> {
    try {
      const out = await this.#run(['-j', 'list', 'table', TABLE.family, TABLE.name], '');
      return (JSON.parse(out) as { nftables: unknown[] }).nftables;
    } catch (e) {
      if (e instanceof AirlockError && /No such file or directory/.test(e.message))
        return undefined;
      throw e;
    }
  }

  /** Whether Airlock's table has a chain of that name (`nft list chain`: that chain only). */
  async hasChain(name: string): Promise<boolean> {
    if (!/^[a-z0-9_]{1,60}$/.test(name)) throw new AirlockError('ERR_INTERNAL', 'not a chain name');
    try {
      await this.#run(['list', 'chain', TABLE.family, TABLE.name, name], '');
      return true;
    } catch (e) {
      if (e instanceof AirlockError && /No such file or directory/.test(e.message)) return false;
      throw e;
    }
  }

  /**
   * The flows the profiles dropped (TCP and UDP) in the last hour, per device: source,
   * destination, protocol number, destination port, and how many packets.
   */
  async deniedFlows(): Promise<DeniedFlow[]> {
    const out: DeniedFlow[] = [];
    for (const name of Object.values(DENIED_FLOWS)) {
      const listed = JSON.parse(
        await this.#run(['-j', 'list', 'set', TABLE.family, TABLE.name, name], ''),
      ) as { nftables: Array<{ set?: { elem?: unknown[] } }> };
      for (const item of listed.nftables) {
        for (const e of item.set?.elem ?? []) {
          const el = (
            e as { elem?: { val?: { concat?: unknown[] }; counter?: { packets?: number } } }
          ).elem;
          const v = el?.val?.concat;
          if (!Array.isArray(v) || v.length !== 4) continue;
          const [source, destination, protocol, port] = v as [
            string,
            string,
            string | number,
            number,
          ];
          out.push({
            source,
            destination,
            protocol: typeof protocol === 'number' ? protocol : protocol === 'tcp' ? 6 : 17,
            port,
            packets: el?.counter?.packets ?? 0,
          });
        }
      }
    }
    return out;
  }

  #run(args: string[], input: string): Promise<string> {
    const nft = this.opts.nft ?? 'nft';
    const argv = this.opts.netns
      ? ['ip', 'netns', 'exec', this.opts.netns, nft, ...args]
      : [nft, ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), this.opts.timeoutMs ?? 30_000);
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', (cause) => {
        clearTimeout(timer);
        reject(
          new AirlockError('ERR_ENFORCEMENT_FAILED', `nft could not be run: ${cause.message}`, {
            cause,
          }),
        );
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else
          reject(
            new AirlockError(
              'ERR_ENFORCEMENT_FAILED',
              `nft exited with ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 500)}`,
            ),
          );
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });
  }
}
