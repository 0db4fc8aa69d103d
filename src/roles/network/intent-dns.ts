/**
 * The DNS names of MUD files, kept resolved in their nftables sets (docs/INTENT.md): each
 * name's addresses, refreshed at the TTL of its answer (between MIN and MAX seconds), and the
 * sets whose answers changed rewritten in one nft transaction. A name that no longer resolves
 * empties its set (fail closed); a resolver that fails leaves the set as it was.
 */
import type { NamedSet } from '../../protocols/mud/compile.js';
import { document, replaceSet } from '../../protocols/nftables/json.js';
import type { AddressResolver } from '../../adapters/dns/resolver.js';

const MIN_REFRESH_SECONDS = 5;
const MAX_REFRESH_SECONDS = 3600;

export interface DnsRefresh {
  /** The sets rewritten, because their answers changed. */
  changed: string[];
  /** The sets whose name could not be resolved this time (kept as they were). */
  failed: string[];
  /** When to refresh again: the smallest TTL seen, within bounds. */
  nextRefreshSeconds: number;
}

export class DnsSets {
  /** What each set holds, as last written. */
  readonly #held = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nft: { apply(doc: { nftables: unknown[] }): Promise<void> },
    private readonly resolver: AddressResolver,
  ) {}

  /** Resolves the DNS sets among `sets` now, and rewrites those whose answer changed. */
  async refresh(sets: readonly NamedSet[]): Promise<DnsRefresh> {
    const dns = sets.filter((s) => s.kind === 'dnsname');
    const answers = await Promise.all(
      dns.map(async (s) => {
        try {
          return { set: s, ...(await this.resolver.resolve(s.value, s.family === 'ipv4' ? 4 : 6)) };
        } catch {
          return { set: s, addresses: undefined, ttl: MIN_REFRESH_SECONDS };
        }
      }),
    );
    const changed: string[] = [];
    const failed: string[] = [];
    const commands = [];
    let next = MAX_REFRESH_SECONDS;
    for (const a of answers) {
      next = Math.min(next, Math.max(MIN_REFRESH_SECONDS, a.ttl));
      if (a.addresses === undefined) {
        failed.push(a.set.name);
        continue;
      }
      const key = a.addresses.join(',');
      if (this.#held.get(a.set.name) === key) continue;
      commands.push(...replaceSet(a.set.name, a.addresses));
      changed.push(a.set.name);
    }
    if (commands.length > 0) {
      await this.nft.apply(document(commands));
      for (const a of answers) if (a.addresses) this.#held.set(a.set.name, a.addresses.join(','));
    }
    return { changed, failed, nextRefreshSeconds: next };
  }

  /** Refreshes now and then at each answer's TTL, until stop(); `onError` hears what failed. */
  start(sets: () => readonly NamedSet[], onError: (e: unknown) => void): void {
    const tick = async () => {
      let next = MIN_REFRESH_SECONDS;
      try {
        next = (await this.refresh(sets())).nextRefreshSeconds;
      } catch (e) {
        onError(e);
      }
      if (this.#timer !== undefined)
        this.#timer = setTimeout(() => void tick(), next * 1000).unref();
    };
    this.#timer = setTimeout(() => void tick(), 0).unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
