/**
 * Fetching a MUD file and its signature (RFC 8520 sections 4 and 13) as a hardened client: the
 * URL comes from a device, so the fetch must not become a way into the network's inside.
 *
 * - HTTPS only, the server's certificate verified (plain HTTP only where the policy says so,
 *   for tests and labs);
 * - every address a name resolves to, and every literal address, must be public unicast or
 *   inside a prefix the policy allows (no SSRF into loopback, private or link-local networks);
 *   a name with one forbidden address among its answers is refused whole;
 * - `Accept: application/mud+json` for the file, at most `maxRedirects` redirects (each judged
 *   like the first URL), at most `maxBytes` read, and the whole fetch within `timeoutMs`.
 *
 * Every refusal is ERR_MUD_FETCH with `details.reason`: scheme, forbidden-address, redirects,
 * too-large, timeout, status, transport.
 */
import * as dns from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { AirlockError } from '../../core/errors.js';
import { addressClass, inPrefix, ipVersion } from '../../core/ip.js';
import { MAX_MUD_BYTES, MUD_MEDIA_TYPE } from '../../protocols/mud/parse.js';

export interface MudFetchPolicy {
  /** Plain http:// too (tests and labs only). Default false. */
  allowHttp?: boolean;
  /** Prefixes the fetcher may reach although they are not public (a lab's MUD server). */
  allowedPrefixes?: readonly string[];
  /** Trust anchors (PEM) for the servers' certificates; default: Node's. */
  ca?: string;
  /** Default MAX_MUD_BYTES (512 KiB). */
  maxBytes?: number;
  /** The whole fetch, redirects included. Default 10 s. */
  timeoutMs?: number;
  /** Default 3. */
  maxRedirects?: number;
}

export interface Fetched {
  bytes: Uint8Array;
  /** The URL it came from, after redirects. */
  url: string;
}

type Reason =
  'scheme' | 'forbidden-address' | 'redirects' | 'too-large' | 'timeout' | 'status' | 'transport';

function refused(reason: Reason, message: string, cause?: unknown): AirlockError {
  return new AirlockError('ERR_MUD_FETCH', message, {
    details: { reason },
    ...(cause ? { cause } : {}),
  });
}

export class MudFetcher {
  constructor(private readonly policy: MudFetchPolicy = {}) {}

  /** The MUD file at `url`. */
  fetchMud(url: string): Promise<Fetched> {
    return this.#fetch(url, MUD_MEDIA_TYPE);
  }

  /** The detached signature at `url` (RFC 8520 section 13: application/pkcs7-signature). */
  fetchSignature(url: string): Promise<Fetched> {
    return this.#fetch(url, 'application/pkcs7-signature');
  }

  /** Whether the policy lets the fetcher connect to `address`. */
  allows(address: string): boolean {
    const bare = address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
    if ((this.policy.allowedPrefixes ?? []).some((p) => inPrefix(bare, p))) return true;
    return addressClass(bare) === 'public';
  }

  async #fetch(first: string, accept: string): Promise<Fetched> {
    const deadline = Date.now() + (this.policy.timeoutMs ?? 10_000);
    const maxRedirects = this.policy.maxRedirects ?? 3;
    let url = first;
    for (let hop = 0; ; hop++) {
      const res = await this.#once(url, accept, deadline);
      if (res.kind === 'done') return { bytes: res.bytes, url };
      if (hop >= maxRedirects)
        throw refused('redirects', `more than ${maxRedirects} redirects from ${first}`);
      url = res.location;
    }
  }

  #once(
    url: string,
    accept: string,
    deadline: number,
  ): Promise<{ kind: 'done'; bytes: Uint8Array } | { kind: 'redirect'; location: string }> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.reject(refused('scheme', `not a URL: ${url.slice(0, 200)}`));
    }
    const plain = u.protocol === 'http:';
    if (u.protocol !== 'https:' && !(plain && this.policy.allowHttp))
      return Promise.reject(refused('scheme', `${u.protocol} is not allowed (https only)`));
    if (u.username || u.password)
      return Promise.reject(refused('scheme', 'a URL with credentials is not fetched'));
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (ipVersion(host) !== 0 && !this.allows(host))
      return Promise.reject(
        refused('forbidden-address', `${host} is not an address MUD files are fetched from`),
      );
    const lookup: LookupFunction = (hostname, options, callback) => {
      dns.lookup(hostname, { all: true }, (err, addresses) => {
        if (err) return callback(err, '', 0);
        const bad = addresses.find((a) => !this.allows(a.address));
        if (bad) {
          const e = Object.assign(new Error(`${hostname} resolves to ${bad.address}`), {
            code: 'EFORBIDDEN',
          });
          return callback(e, '', 0);
        }
        const first = addresses[0]!;
        if ((options as { all?: boolean }).all)
          return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(
            null,
            addresses,
          );
        callback(null, first.address, first.family);
      });
    };
    const maxBytes = this.policy.maxBytes ?? MAX_MUD_BYTES;
    return new Promise((resolve, reject) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return reject(refused('timeout', `no answer from ${u.host} in time`));
      const req = (plain ? http : https).request(
        u,
        {
          method: 'GET',
          headers: { accept },
          lookup,
          ...(plain ? {} : { ca: this.policy.ca, minVersion: 'TLSv1.2' as const }),
          agent: false,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if ([301, 302, 303, 307, 308].includes(status)) {
            res.resume();
            const location = res.headers.location;
            if (!location)
              return fail(refused('status', `a redirect from ${u.host} without a Location`));
            return done({ kind: 'redirect', location: new URL(location, u).toString() });
          }
          if (status !== 200) {
            res.resume();
            return fail(refused('status', `${u.host} answered ${status}`));
          }
          const declared = Number(res.headers['content-length'] ?? NaN);
          if (declared > maxBytes) {
            res.destroy();
            return fail(
              refused('too-large', `${u.host} offers ${declared} bytes, more than ${maxBytes}`),
            );
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (b: Buffer) => {
            size += b.length;
            if (size > maxBytes) {
              res.destroy();
              fail(refused('too-large', `${u.host} sent more than ${maxBytes} bytes`));
            } else chunks.push(b);
          });
          res.on('end', () => done({ kind: 'done', bytes: new Uint8Array(Buffer.concat(chunks)) }));
          res.on('error', (e) => fail(refused('transport', `${u.host}: ${e.message}`, e)));
        },
      );
      let settled = false;
      const timer = setTimeout(() => {
        fail(refused('timeout', `no complete answer from ${u.host} in time`));
      }, remaining);
      const done = (
        v: { kind: 'done'; bytes: Uint8Array } | { kind: 'redirect'; location: string },
      ) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      const fail = (e: AirlockError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(e);
      };
      req.on('error', (e: Error & { code?: string }) =>
        fail(
          e.code === 'EFORBIDDEN'
            ? refused('forbidden-address', e.message)
            : refused('transport', `${u.host}: ${e.message}`, e),
        ),
      );
      req.end();
    });
  }
}
