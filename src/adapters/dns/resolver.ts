/**
 * Addresses of a DNS name with their TTLs (node:dns, c-ares), from the system's resolvers or
 * the servers given. A name that does not exist, or has no address of that family, has none:
 * an empty answer, not an error. Anything else (a server that does not answer) is
 * ERR_TRANSPORT, and whoever asked keeps what it had.
 */
import { Resolver } from 'node:dns/promises';
import { AirlockError } from '../../core/errors.js';

export interface Resolved {
  addresses: string[];
  /** Seconds the answer may be kept (the smallest TTL of its records). */
  ttl: number;
}

export interface AddressResolver {
  resolve(name: string, family: 4 | 6): Promise<Resolved>;
}

const EMPTY_CODES = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

export class DnsResolver implements AddressResolver {
  readonly #resolver: Resolver;

  /** `servers`: `address:port` strings (default: the system's resolvers). */
  constructor(opts: { servers?: string[]; timeoutMs?: number } = {}) {
    this.#resolver = new Resolver({ timeout: opts.timeoutMs ?? 3000, tries: 2 });
    if (opts.servers) this.#resolver.setServers(opts.servers);
  }

  async resolve(name: string, family: 4 | 6): Promise<Resolved> {
    try {
      const records =
        family === 4
          ? await this.#resolver.resolve4(name, { ttl: true })
          : await this.#resolver.resolve6(name, { ttl: true });
      return {
        addresses: records.map((r) => r.address).sort(),
        ttl: Math.min(...records.map((r) => r.ttl)),
      };
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (EMPTY_CODES.has(code)) return { addresses: [], ttl: 60 };
      throw new AirlockError('ERR_TRANSPORT', `DNS: ${name}: ${code || 'failed'}`, { cause: e });
    }
  }
}
