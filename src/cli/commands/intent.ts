/**
 * `airlock intent ...`: device intent (RFC 8520 MUD, docs/INTENT.md). `check` reads a MUD file
 * as the network would (every match understood, or the place of the fault named), verifies its
 * detached signature when given one, and shows what it compiles to in nftables.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { NodeCrypto } from '../../adapters/crypto/node-crypto.js';
import { AirlockError } from '../../core/errors.js';
import { fromPem } from '../../core/bytes.js';
import { parseMud } from '../../protocols/mud/parse.js';
import { verifyMudSignature } from '../../protocols/mud/signature.js';
import { compileProfile, shortName } from '../../protocols/mud/compile.js';
import { document } from '../../protocols/nftables/json.js';
import { parseCertificate } from '../../protocols/x509/certificate.js';
import { note, printJson, say } from '../output.js';
import { parseName, readTextFile, run } from '../options.js';
import { MudFetcher } from '../../adapters/http/mud-fetcher.js';
import { IntentManager, type LocatorReport } from '../../roles/network/intent-manager.js';
import { dhcpv4MudUrl, dhcpv6MudUrl, lldpMudUrl } from '../../protocols/mud/locators.js';
import { ipVersion } from '../../core/ip.js';
import { localIntentManager } from '../intent-options.js';
import { withLocal } from './network.js';

function readBytes(file: string): Uint8Array {
  try {
    return new Uint8Array(fs.readFileSync(file));
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', `${file} cannot be read`, {
      cause,
      details: { hint: 'give the path of a readable file' },
    });
  }
}

function parseInstant(value: string): Date {
  const at = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(at.getTime()))
    throw new AirlockError('ERR_CONFIG', `--at ${value} is not a date (ISO 8601)`);
  return at;
}

export function intentCommand(program: Command): void {
  const intent = program
    .command('intent')
    .description(
      'device intent (RFC 8520 MUD): what each device may talk to, as its manufacturer declares it, enforced in nftables',
    );
  intent
    .command('check <file-or-url>')
    .description(
      'read a MUD file as the network would (errors name the place): a file, or an https URL fetched as the network does (public addresses only, 512 KiB, 10 s, 3 redirects); verify its signature if given; show the nftables rules it compiles to',
    )
    .option(
      '--signature <file>',
      "its detached CMS signature (DER, RFC 8520 section 13); for a URL, the file's mud-signature URL is fetched when --ca is given",
    )
    .option('--ca <pem>', "the manufacturer's MUD signing CA(s), PEM: required with --signature")
    .option('--at <time>', 'verify the signature as at this time (ISO 8601; default now)')
    .option(
      '--tls-ca <pem>',
      "for a URL: anchors for the server's TLS certificate (default: Node's)",
    )
    .option(
      '--allow-prefix <cidr...>',
      'for a URL: prefixes it may be fetched from although not public (a lab)',
    )
    .option(
      '--local-network <cidr...>',
      'the prefixes `local-networks` stands for (default 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7)',
    )
    .option('--json', 'print the nftables JSON document (nft -j) instead of a summary')
    .action(
      async (
        file: string,
        o: {
          signature?: string;
          ca?: string;
          at?: string;
          tlsCa?: string;
          allowPrefix?: string[];
          localNetwork?: string[];
          json?: boolean;
        },
      ) => {
        await run(async () => {
          const remote = /^[a-z][a-z0-9+.-]*:\/\//i.test(file);
          const fetcher = new MudFetcher({
            ...(o.tlsCa ? { ca: readTextFile(o.tlsCa) } : {}),
            ...(o.allowPrefix ? { allowedPrefixes: o.allowPrefix } : {}),
          });
          const bytes = remote ? (await fetcher.fetchMud(file)).bytes : readBytes(file);
          const { mud, warnings } = parseMud(bytes);
          for (const w of warnings) note(`warning: ${w}`);
          let signature: Uint8Array | undefined;
          if (o.signature !== undefined) signature = readBytes(o.signature);
          else if (remote && o.ca !== undefined) {
            if (mud.signature === undefined)
              throw new AirlockError('ERR_MUD_SIGNATURE', 'the MUD file names no mud-signature');
            signature = (await fetcher.fetchSignature(new URL(mud.signature, file).toString()))
              .bytes;
          }
          if (signature !== undefined) {
            if (o.ca === undefined)
              throw new AirlockError(
                'ERR_CONFIG',
                '--signature needs --ca, the anchors to verify it against',
              );
            const anchors = fromPem(readTextFile(o.ca)).map((der) => parseCertificate(der));
            if (anchors.length === 0)
              throw new AirlockError('ERR_CONFIG', `${o.ca} holds no certificate`);
            const signer = verifyMudSignature(new NodeCrypto(), {
              mud: bytes,
              signature,
              anchors,
              at: o.at === undefined ? new Date() : parseInstant(o.at),
            });
            say(`signature: valid, signed by "${signer.subject}"`);
          }
          const profile = compileProfile(mud, shortName(mud.url), {
            controllers: {},
            myController: [],
            localNetworks: o.localNetwork ?? [
              '10.0.0.0/8',
              '172.16.0.0/12',
              '192.168.0.0/16',
              'fc00::/7',
            ],
          });
          if (o.json) {
            printJson(document(profile.commands));
            return;
          }
          say(
            `${file}: valid MUD file for ${mud.url} (${mud.systeminfo ?? 'no systeminfo'}), cache validity ${mud.cacheValidityHours} h`,
          );
          for (const [policy, acls] of [
            ['from-device', mud.fromDevice],
            ['to-device', mud.toDevice],
          ] as const)
            say(
              `  ${policy}: ${acls.map((a) => `${a.name} (${a.aces.length} entries)`).join(', ') || 'none'}`,
            );
          say(
            `  compiles to ${profile.rules} rule(s) in chains ${profile.chains['from-device']} and ${profile.chains['to-device']}` +
              (profile.sets.length > 0
                ? `; named sets the network fills: ${profile.sets.map((s) => `${s.name} (${s.kind} ${s.value})`).join(', ')}`
                : ''),
          );
        });
      },
    );

  const device = (name: string, description: string) =>
    intent
      .command(`${name} <serial>`)
      .description(description)
      .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
      .requiredOption(
        '--intent <file>',
        "the network's intent settings (docs/INTENT.md), as `airlock network serve --intent` reads them",
      );
  device('show', "a device's intent as enforced: its segment, address, MUD URL, profile and rules")
    .option('--json', 'print JSON, with the rules as nftables JSON')
    .action(async (serial: string, o: { dataDir: string; intent: string; json?: boolean }) => {
      await withIntent(o, async (m) => {
        const v = await m.show(serial);
        if (o.json) {
          printJson(v);
          return;
        }
        say(`device ${v.serial}: segment ${v.segment}, address ${v.address}`);
        say(`  MUD URL: ${v.mudUrl ?? 'none (its class controller only)'}`);
        say(
          `  profile ${v.profile}: ${v.rules} rule(s) in ${v.chains['from-device']} and ${v.chains['to-device']}`,
        );
        say(`  installed: ${v.installed ?? 'no'}`);
        say(`  quarantined: ${v.quarantined ?? 'no'}`);
        for (const w of v.warnings) note(`warning: ${w}`);
      });
    });
  device('quarantine', 'confine a device to the remediation server (one nft transaction)')
    .requiredOption('--reason <text>', 'why, for the record (1 to 128 characters)')
    .action(async (serial: string, o: { dataDir: string; intent: string; reason: string }) => {
      await withIntent(o, async (m) => {
        const r = await m.quarantine(serial, parseName(o.reason, '--reason'));
        say(`device ${serial} (${r.address}) quarantined: it reaches the remediation server only`);
      });
    });
  device('release', "lift a quarantine: the device's profile applies again").action(
    async (serial: string, o: { dataDir: string; intent: string }) => {
      await withIntent(o, async (m) => {
        const r = await m.release(serial);
        say(`device ${serial} (${r.address}) released: its profile applies again`);
      });
    },
  );
  intent
    .command('report')
    .description(
      "a MUD URL the network saw a device emit (RFC 8520 sections 9 and 11): from a captured DHCPv4, DHCPv6 or LLDP message, or given; the device at --address gets that file's rules (a device onboarded with another URL keeps its own: ERR_MUD_LOCATOR_CONFLICT)",
    )
    .requiredOption('--address <ip>', 'the address the device has on the network (its DHCP lease)')
    .option('--dhcpv4 <file>', 'a DHCPv4 message as captured (binary): option 161')
    .option('--dhcpv6 <file>', 'a DHCPv6 message as captured (binary): option 112')
    .option('--lldp <file>', 'an LLDP frame or LLDPDU as captured (binary): the MUD URL TLV')
    .option('--mud-url <url>', 'the URL itself, with --source')
    .option('--source <source>', 'dhcpv4, dhcpv6 or lldp, with --mud-url')
    .option('--data-dir <dir>', 'the data directory of `airlock up`', './data')
    .requiredOption('--intent <file>', "the network's intent settings (docs/INTENT.md)")
    .action(async (o: ReportOptions & { dataDir: string; intent: string }) => {
      await withIntent(o, async (m) => {
        const r = await m.reported(locatorReport(o));
        say(
          `device ${r.serial} at ${r.address}: ${r.changed ? 'rules installed' : 'rules unchanged'} for ${r.mudUrl} (profile ${r.profile})`,
        );
      });
    });
  device(
    'declared',
    "a device the network holds the declaration of but did not onboard (a DPP enrollee, say): the rules of the MUD URL its declaration carries, at --address or the segment's next free one",
  )
    .requiredOption('--segment <name>', "the device's class: a segment of the intent settings")
    .option('--address <ip>', 'the address the device has on the network (its DHCP lease)')
    .action(
      async (
        serial: string,
        o: { dataDir: string; intent: string; segment: string; address?: string },
      ) => {
        if (o.address !== undefined && ipVersion(o.address) === 0)
          throw new AirlockError('ERR_CONFIG', `--address ${o.address} is not an IP address`);
        await withIntent(o, async (m) => {
          const r = await m.declared({
            serial,
            segment: o.segment,
            ...(o.address !== undefined ? { address: o.address } : {}),
          });
          say(
            `device ${serial} at ${r.address}: ${r.changed ? 'rules installed' : 'rules unchanged'} for ${r.mudUrl ?? 'no MUD URL (its class controller only)'} (profile ${r.profile})`,
          );
        });
      },
    );
  device(
    'remove',
    'decommissioning: every trace of the device leaves the ruleset and the record',
  ).action(async (serial: string, o: { dataDir: string; intent: string }) => {
    await withIntent(o, async (m) => {
      await m.forget(serial);
      say(`device ${serial}: its rules are removed`);
    });
  });
}

/** What `intent report` was given, read: exactly one source. */
interface ReportOptions {
  address: string;
  dhcpv4?: string;
  dhcpv6?: string;
  lldp?: string;
  mudUrl?: string;
  source?: string;
}

function locatorReport(o: ReportOptions): LocatorReport {
  if (ipVersion(o.address) === 0)
    throw new AirlockError('ERR_CONFIG', `--address ${o.address} is not an IP address`);
  const given = [o.dhcpv4, o.dhcpv6, o.lldp, o.mudUrl].filter((x) => x !== undefined);
  if (given.length !== 1)
    throw new AirlockError('ERR_CONFIG', 'give one of --dhcpv4, --dhcpv6, --lldp, --mud-url');
  const found = (source: LocatorReport['source'], url: string | undefined, link?: string) => {
    if (url === undefined)
      throw new AirlockError('ERR_INPUT_SCHEMA', `the ${source} message carries no MUD URL`);
    return { source, address: o.address, mudUrl: url, ...(link ? { link } : {}) };
  };
  if (o.dhcpv4 !== undefined) {
    const m = dhcpv4MudUrl(readBytes(o.dhcpv4));
    return found('dhcpv4', m.mudUrl, m.mac);
  }
  if (o.dhcpv6 !== undefined) {
    const m = dhcpv6MudUrl(readBytes(o.dhcpv6));
    return found('dhcpv6', m.mudUrl, m.clientId);
  }
  if (o.lldp !== undefined) {
    const m = lldpMudUrl(readBytes(o.lldp));
    return found('lldp', m.mudUrl, m.chassisId);
  }
  if (o.source !== 'dhcpv4' && o.source !== 'dhcpv6' && o.source !== 'lldp')
    throw new AirlockError('ERR_CONFIG', '--mud-url needs --source dhcpv4, dhcpv6 or lldp');
  if (!/^https:\/\/[\x21-\x7e]{1,247}$/.test(o.mudUrl!))
    throw new AirlockError('ERR_CONFIG', '--mud-url must be an https URL of printable ASCII');
  return found(o.source, o.mudUrl);
}

/** The local network's intent manager, for one command: the table as recorded, not rebuilt. */
async function withIntent(
  o: { dataDir: string; intent: string },
  fn: (m: IntentManager) => Promise<void>,
): Promise<void> {
  await withLocal(o.dataDir, async ({ network, manufacturer }) => {
    await fn(localIntentManager(network, manufacturer, o.intent));
  });
}
