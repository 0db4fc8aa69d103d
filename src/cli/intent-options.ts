/**
 * The network's intent settings file (src/roles/network/intent-config.ts) turned into what the
 * network role is opened with: nftables in the namespace it names, the fetching policy with
 * its TLS anchors read, the extra MUD signing anchors read.
 */
import { Nftables } from '../adapters/enforcement/nftables.js';
import { AirlockError } from '../core/errors.js';
import { fromPem } from '../core/bytes.js';
import { parseCertificate } from '../protocols/x509/certificate.js';
import { parseIntentFile } from '../roles/network/intent-config.js';
import type { Network, NetworkIntentOptions } from '../roles/network/index.js';
import type { Manufacturer } from '../roles/manufacturer/index.js';
import { IntentManager } from '../roles/network/intent-manager.js';
import { MudFetcher } from '../adapters/http/mud-fetcher.js';
import { readJsonFile, readTextFile } from './options.js';

export function intentOptions(file: string): NetworkIntentOptions & { enforcement: Nftables } {
  const parsed = parseIntentFile(readJsonFile(file, 'an intent settings file (JSON)'));
  const anchors = parsed.mudAnchors.flatMap((pem) => {
    const ders = fromPem(readTextFile(pem));
    if (ders.length === 0) throw new AirlockError('ERR_CONFIG', `${pem} holds no certificate`);
    return ders.map((der) => parseCertificate(der));
  });
  const { tlsCa, ...fetch } = parsed.fetch;
  return {
    settings: parsed.settings,
    enforcement: new Nftables(parsed.netns === undefined ? {} : { netns: parsed.netns }),
    fetch: { ...fetch, ...(tlsCa !== undefined ? { ca: readTextFile(tlsCa) } : {}) },
    ...(anchors.length > 0 ? { anchors } : {}),
  };
}

/**
 * The intent manager of a CLI process beside the server: the same record and table, with the
 * local manufacturer's MUD CA and the file's anchors; it does not rebuild the table.
 */
export function localIntentManager(
  network: Network,
  manufacturer: Manufacturer,
  file: string,
): IntentManager {
  const opts = intentOptions(file);
  const mudCa = manufacturer.trustBundle().mudCa;
  return new IntentManager(network.ctx, network.store, {
    settings: opts.settings,
    enforcement: opts.enforcement,
    fetcher: new MudFetcher(opts.fetch),
    anchors: () => [...(mudCa ? [mudCa] : []), ...(opts.anchors ?? [])],
  });
}
