/**
 * The network's device intent manager (steps 12 and 13, docs/INTENT.md): for a device the
 * registrar is about to give credentials to, it fetches the MUD file its URL names (kept for
 * the file's cache-validity), accepts it (intent.ts: the file of that URL, signed by the
 * signer pinned for it), compiles it for the device's segment, gives the device its address
 * in that segment's pool, and installs the device's rules in nftables; only then may the
 * registrar deliver credentials. Quarantine, release and removal change the same table, each
 * in one nft transaction. The database is the record: at start the whole table is rebuilt
 * from it in one transaction.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { fromUtf8, toBase64, utf8 } from '../../core/bytes.js';
import { inPrefix, ipv4Pool } from '../../core/ip.js';
import type { Clock, Crypto } from '../../core/ports.js';
import type { DeviceIntentRecord, NetworkStore } from '../../core/store.js';
import {
  authorityOf,
  compileProfile,
  memberSets,
  namedSetCommand,
  shortName,
  type CompiledProfile,
  type NamedSet,
  type ProfileContext,
} from '../../protocols/mud/compile.js';
import { parseMud } from '../../protocols/mud/parse.js';
import type { MudFile } from '../../protocols/mud/model.js';
import * as nft from '../../protocols/nftables/json.js';
import {
  devicesCommands,
  forgetDeniedCommands,
  fullRuleset,
  profileCommands,
  profileDeviceSets,
  quarantineCommands,
  type BaseOptions,
} from '../../protocols/nftables/intent-ruleset.js';
import type { Certificate } from '../../protocols/x509/certificate.js';
import type {
  EnforcedIntent,
  IntentPort,
  IntentSubject,
} from '../../onboarding/registrar/ports.js';
import type { Logger } from '../../adapters/log/logger.js';
import type { MudFetcher } from '../../adapters/http/mud-fetcher.js';
import type { DeniedFlow } from '../../adapters/enforcement/nftables.js';
import type { AddressResolver } from '../../adapters/dns/resolver.js';
import { acceptMudFile } from './intent.js';
import { latestDeclared } from '../../protocols/declaration/verify.js';
import { DnsSets } from './intent-dns.js';

/** A device class (a segment the authorization policy gives): its address pool and controller. */
export interface SegmentIntent {
  /** The IPv4 prefix its devices are given addresses in (the lowest free host first). */
  prefix: string;
  /** Hosts of the prefix no device is given (the gateway's, a DHCP server's), by index: 1 is the first. */
  reservedHosts?: number[];
  /** `my-controller` for this class: addresses or prefixes. */
  myController?: string[];
  /**
   * The router's interfaces to this segment: forwarded traffic from or to them must be a
   * device's (or a reserved host's) IPv4 address, and never IPv6 (intent-ruleset.ts).
   */
  interfaces?: string[];
}

export interface IntentSettings {
  segments: Readonly<Record<string, SegmentIntent>>;
  /** `controller` classes the network knows (URI to addresses or prefixes). */
  controllers?: Readonly<Record<string, readonly string[]>>;
  localNetworks?: readonly string[];
  /** What a quarantined device may still reach. */
  remediation?: readonly string[];
  /** The onboarding segment: devices there reach the onboarding component only (intent-ruleset.ts). */
  onboarding?: BaseOptions['onboarding'];
}

/**
 * ERR_CONFIG unless every segment's prefix is an IPv4 pool (/8 to /30, no host bits) and no two
 * overlap (an address would be two segments', and a device's class ambiguous).
 */
export function checkSegments(segments: IntentSettings['segments']): void {
  const prefixes = Object.entries(segments).map(([name, seg]) => {
    try {
      ipv4Pool(seg.prefix);
    } catch (e) {
      throw new AirlockError('ERR_CONFIG', `segments.${name}.prefix: ${(e as Error).message}`);
    }
    return [name, seg.prefix] as const;
  });
  for (const [i, [a, pa]] of prefixes.entries())
    for (const [b, pb] of prefixes.slice(i + 1))
      if (inPrefix(pa.split('/')[0]!, pb) || inPrefix(pb.split('/')[0]!, pa))
        throw new AirlockError(
          'ERR_CONFIG',
          `the address pools of segments ${JSON.stringify(a)} (${pa}) and ${JSON.stringify(b)} (${pb}) overlap`,
        );
}

/** Where the rules go: nftables (src/adapters/enforcement/nftables.ts). */
export interface Enforcement {
  apply(doc: { nftables: unknown[] }): Promise<void>;
  /** Whether Airlock's table has the chain. */
  hasChain(name: string): Promise<boolean>;
  /** The flows the profiles dropped, per device. */
  deniedFlows(): Promise<DeniedFlow[]>;
}

export interface IntentManagerOptions {
  settings: IntentSettings;
  enforcement: Enforcement;
  fetcher: Pick<MudFetcher, 'fetchMud' | 'fetchSignature'>;
  /** The manufacturers' MUD CAs (their trust bundles' `mudCa`) and any the administrator added. */
  anchors: () => readonly Certificate[];
  /** Resolves the DNS names of MUD files; none: their sets stay empty (fail closed). */
  resolver?: AddressResolver;
}

/** How often the MUD files in use are checked for expiry (each is fetched again only once expired). */
const REFRESH_EVERY_MS = 10 * 60_000;

/** The profile of a device whose onboarding conveyed no MUD URL: its own controller, nothing else. */
const NO_MUD_URL = 'urn:airlock:no-mud-url';

/** A MUD URL the network saw a device emit, where and how. */
export interface LocatorReport {
  source: 'dhcpv4' | 'dhcpv6' | 'lldp';
  /** The device's address on the network (what its DHCP server gave it). */
  address: string;
  mudUrl: string;
  /** What identifies it on its link: its MAC address, DUID or LLDP chassis ID. */
  link?: string;
}

/** What `show` tells of a device. */
export interface DeviceIntentView extends DeviceIntentRecord {
  chains: { 'from-device': string; 'to-device': string };
  rules: number;
  /** The profile's rules, as nftables JSON. */
  commands: unknown[];
  warnings: string[];
}

interface Profile {
  compiled: CompiledProfile;
  /** Its content as installed: a changed file under the same id is installed again. */
  digest: string;
  warnings: string[];
}

export class IntentManager implements IntentPort {
  /** Profiles compiled, by id: the last made of each (a cache, not what the table holds). */
  readonly #compiled = new Map<string, Profile>();
  /** Profiles whose chains (and named sets) are in the table, as each says, by id. */
  #installed = new Map<string, Profile>();
  /** Whether start() built the table: what #installed says of it is then known. */
  #started = false;
  readonly #fetching = new Map<
    string,
    Promise<{ mud: MudFile; bytes: string; warnings: string[] }>
  >();
  readonly #dns: DnsSets | undefined;
  /** One change to the table at a time: nft applies each whole, but the record must follow in order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: { crypto: Crypto; clock: Clock; logger: Logger },
    private readonly store: NetworkStore,
    private readonly opts: IntentManagerOptions,
  ) {
    checkSegments(opts.settings.segments);
    this.#dns = opts.resolver ? new DnsSets(opts.enforcement, opts.resolver) : undefined;
  }

  /**
   * The whole table rebuilt from the record, in one transaction (what was there is replaced),
   * then the DNS names kept resolved. Call once, before the registrar serves.
   */
  async start(): Promise<void> {
    await this.#serially(async () => {
      const rows = await this.store.run((r) => r.intent.all());
      const byId = new Map<string, Profile>();
      const unmade = new Set<string>();
      for (const row of rows) {
        if (byId.has(row.profile) || unmade.has(row.profile)) continue;
        try {
          const p = await this.#profileFor(row.mudUrl ?? undefined, row.segment, { stored: true });
          byId.set(row.profile, p);
        } catch (e) {
          // One profile that cannot be made (its stored file, under settings changed since)
          // keeps its devices out of the table, dropped as pool addresses of no device; the rest stand.
          unmade.add(row.profile);
          this.ctx.logger.error(
            { profile: row.profile, code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
            'intent: a profile cannot be made from its stored MUD file; its devices are dropped',
          );
        }
      }
      const live = rows.filter((row) => byId.has(row.profile));
      const doc = fullRuleset(
        [...byId.values()].map((p) => p.compiled),
        live.map((row) => ({
          address: row.address,
          profile: byId.get(row.profile)!.compiled,
          quarantined: row.quarantined !== null,
        })),
        this.#baseOptions(),
      );
      // Quarantined devices whose profile was not made are confined all the same.
      for (const row of rows)
        if (!byId.has(row.profile) && row.quarantined !== null)
          doc.nftables.push(...quarantineCommands(row.address, 'add'));
      doc.nftables.push(...this.#membershipCommands(live, [...byId.values()]));
      await this.opts.enforcement.apply(doc);
      this.#installed = byId;
      this.#started = true;
      const at = this.ctx.clock.now();
      await this.store.transaction(async (r) => {
        for (const row of rows)
          await r.intent.setInstalled(row.serial, byId.has(row.profile) ? at : null);
      });
    });
    await this.#dns?.refresh(this.#dnsSets()).catch((e: unknown) => this.#dnsFailed(e));
    clearInterval(this.#refreshTimer);
    this.#refreshTimer = setInterval(() => {
      this.refresh().catch((e: unknown) =>
        this.ctx.logger.error(
          { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
          'intent: the round of MUD file renewals failed',
        ),
      );
    }, REFRESH_EVERY_MS).unref();
    this.#dns?.stop();
    this.#dns?.start(
      () => this.#dnsSets(),
      (e) => this.#dnsFailed(e),
    );
  }

  stop(): void {
    this.#dns?.stop();
    clearInterval(this.#refreshTimer);
  }

  #baseOptions(): BaseOptions {
    const { settings } = this.opts;
    return {
      remediation: settings.remediation ?? [],
      ...(settings.onboarding ? { onboarding: settings.onboarding } : {}),
      devicePools: Object.values(settings.segments).map((seg) => ({
        prefix: seg.prefix,
        ...(seg.reservedHosts ? { reservedHosts: seg.reservedHosts } : {}),
      })),
      deviceInterfaces: [
        ...new Set(Object.values(settings.segments).flatMap((seg) => seg.interfaces ?? [])),
      ],
    };
  }

  #refreshTimer: NodeJS.Timeout | undefined;

  /**
   * MUD file updates (RFC 8520 section 3.3, `cache-validity`): every file in use whose copy has
   * expired is fetched and accepted again (same URL, same signer); where it changed, the
   * chains of every segment's profile made from it are replaced in one transaction, for every
   * device that has it at once. A file that cannot be fetched or is refused now leaves the
   * rules made from the last one accepted (logged; the next round tries again).
   */
  async refresh(): Promise<Array<{ url: string; updated: boolean; error?: string }>> {
    const urls = [
      ...new Set(
        (await this.store.run((r) => r.intent.all())).flatMap((r) =>
          r.mudUrl === null ? [] : [r.mudUrl],
        ),
      ),
    ];
    const out: Array<{ url: string; updated: boolean; error?: string }> = [];
    for (const url of urls) {
      const record = await this.store.run((r) => r.intent.mudFile(url));
      if (record && new Date(record.expiresAt) > this.ctx.clock.now()) {
        out.push({ url, updated: false });
        continue;
      }
      try {
        // Fetched and accepted outside the queue (the network is slow); installed inside it,
        // from the devices as they are then and the file as it is stored then.
        await this.#file(url, false);
        const changed = await this.#serially(async () => {
          const rows = await this.store.run((r) => r.intent.all());
          const segments = new Set(rows.filter((r) => r.mudUrl === url).map((r) => r.segment));
          const profiles: Profile[] = [];
          for (const segment of segments)
            profiles.push(await this.#profileFor(url, segment, { stored: true }));
          const changed = profiles.filter((p) => !this.#isInstalled(p));
          if (changed.length > 0) {
            const commands: nft.Command[] = [];
            for (const p of changed) commands.push(...(await this.#profileCommands(p)));
            await this.opts.enforcement.apply(
              nft.document([...commands, ...this.#membershipCommands(rows, changed)]),
            );
            for (const p of changed) this.#installed.set(idOf(p), p);
          }
          return changed;
        });
        const dns = changed.flatMap((p) => p.compiled.sets.filter((x) => x.kind === 'dnsname'));
        if (dns.length > 0 && this.#dns)
          await this.#dns.refresh(dns).catch((e: unknown) => this.#dnsFailed(e));
        out.push({ url, updated: changed.length > 0 });
      } catch (e) {
        const code = isAirlockError(e) ? e.code : 'ERR_INTERNAL';
        this.ctx.logger.warn(
          { url, code },
          'intent: a MUD file could not be renewed; its last rules stay',
        );
        out.push({ url, updated: false, error: code });
      }
    }
    return out;
  }

  /**
   * Steps 12 and 13 for one device: its rules in force when this resolves. Idempotent: a device
   * whose rules are installed from the same file, in the same segment, changes nothing.
   */
  async enforce(subject: IntentSubject): Promise<EnforcedIntent> {
    const seg = this.opts.settings.segments[subject.segment];
    if (!seg)
      throw new AirlockError(
        'ERR_ENFORCEMENT_FAILED',
        `segment ${JSON.stringify(subject.segment)} has no address pool in the network's intent settings`,
      );
    // Fetched and verified before anything is recorded: a file refused changes nothing.
    await this.#profileFor(subject.mudUrl, subject.segment, { stored: false });
    return this.#serially(async () => {
      // Made again in the queue, from the file as stored now: a renewal that ran meanwhile stands.
      const profile = await this.#profileFor(subject.mudUrl, subject.segment, { stored: true });
      const prior = await this.store.run((r) => r.intent.device(subject.serial));
      const unchanged =
        prior !== undefined &&
        prior.installed !== null &&
        prior.segment === subject.segment &&
        (subject.address === undefined || prior.address === subject.address) &&
        prior.profile === idOf(profile) &&
        this.#isInstalled(profile);
      if (unchanged)
        return {
          address: prior.address,
          profile: prior.profile,
          mudUrl: prior.mudUrl,
          changed: false,
          warnings: profile.warnings,
        };
      const record = await this.#allocate(subject, seg, prior, idOf(profile));
      await this.#install(record, profile, prior);
      return {
        address: record.address,
        profile: record.profile,
        mudUrl: record.mudUrl,
        changed: true,
        warnings: profile.warnings,
      };
    });
  }

  /**
   * A MUD URL the network saw a device emit (DHCPv4 option 161, DHCPv6 option 112, LLDP;
   * locators.ts), at the address it has on the network (report section 5.1.1 step 4):
   * - a device onboarded here whose onboarding conveyed no URL takes it, and its rules follow;
   * - one onboarded with a URL keeps it: another is ERR_MUD_LOCATOR_CONFLICT, nothing changed
   *   (the manufacturer's certified word outranks a packet);
   * - a device the network did not onboard (a DPP enrollee, say) is known by its link
   *   identity and gets the file's rules at its address, in the segment whose pool holds it.
   * The file is fetched and verified as for any device; a refusal leaves everything as it was.
   */
  async reported(report: LocatorReport): Promise<EnforcedIntent & { serial: string }> {
    const row = await this.store.run((r) => r.intent.byAddress(report.address));
    if (row?.mudUrl != null && row.mudUrl !== report.mudUrl)
      throw new AirlockError(
        'ERR_MUD_LOCATOR_CONFLICT',
        `${report.source} reports ${JSON.stringify(report.mudUrl.slice(0, 200))} for ${report.address}`,
      );
    let serial: string;
    let segment: string;
    if (row) ({ serial, segment } = row);
    else {
      const found = Object.entries(this.opts.settings.segments).find(
        ([, seg]) => ipv4Pool(seg.prefix).hostOf(report.address) !== undefined,
      );
      if (!found)
        throw new AirlockError(
          'ERR_ENFORCEMENT_FAILED',
          `no segment's address pool holds ${report.address}`,
        );
      segment = found[0];
      serial = `${report.source}:${report.link ?? report.address}`;
    }
    const enforced = await this.enforce({
      serial,
      mudUrl: report.mudUrl,
      segment,
      address: report.address,
    });
    await this.#recordLocated(serial, enforced, {
      'mud-url': report.mudUrl,
      source: report.source,
      address: report.address,
    });
    return { ...enforced, serial };
  }

  /**
   * A device the network holds the declaration of but did not onboard (a DPP enrollee, say;
   * report section 5.1.1 step 4): its rules from the MUD URL its installed declaration carries
   * (the manufacturer's signed word), in `segment`, at `address` if given, else the lowest free
   * host of the segment's pool. ERR_DECLARATION_NOT_FOUND, nothing changed, when the network
   * holds none; a declaration that carries no URL gives the no-MUD profile.
   */
  async declared(subject: {
    serial: string;
    segment: string;
    address?: string;
  }): Promise<EnforcedIntent> {
    const row = await this.store.run((r) => r.declarations.get(subject.serial));
    if (!row)
      throw new AirlockError(
        'ERR_DECLARATION_NOT_FOUND',
        'the network holds no declaration of that device',
      );
    const url = latestDeclared(row.chain)?.['mud-url'];
    const enforced = await this.enforce({
      serial: subject.serial,
      segment: subject.segment,
      mudUrl: url,
      ...(subject.address !== undefined ? { address: subject.address } : {}),
    });
    await this.#recordLocated(subject.serial, enforced, {
      'mud-url': url ?? null,
      source: 'declaration',
    });
    return enforced;
  }

  /** Steps 11 and 13 in the device's audit trail, when its rules changed. */
  async #recordLocated(
    serial: string,
    enforced: EnforcedIntent,
    locator: Record<string, string | number | boolean | null>,
  ): Promise<void> {
    if (!enforced.changed) return;
    await this.store.run((r) =>
      r.events.record(
        [
          { serial, step: 11, action: 'intent locator', outcome: 'ok', detail: locator },
          {
            serial,
            step: 13,
            action: 'intent enforced',
            outcome: 'ok',
            detail: { address: enforced.address, profile: enforced.profile },
          },
        ],
        this.ctx.clock.now(),
      ),
    );
  }

  /** Confines a device to the remediation server (report section 7); ERR_DEVICE_NOT_FOUND when it has no rules. */
  async quarantine(serial: string, reason: string): Promise<DeviceIntentRecord> {
    return this.#serially(async () => {
      const row = await this.#row(serial);
      // Added whatever the record says (a no-op when it is there): the table follows the record.
      await this.opts.enforcement.apply(nft.document(quarantineCommands(row.address, 'add')));
      await this.store.run((r) => r.intent.setQuarantined(serial, reason, this.ctx.clock.now()));
      return { ...row, quarantined: reason };
    });
  }

  /** Its profile applies again. */
  async release(serial: string): Promise<DeviceIntentRecord> {
    return this.#serially(async () => {
      const row = await this.#row(serial);
      await this.opts.enforcement.apply(nft.document(quarantineCommands(row.address, 'delete')));
      await this.store.run((r) => r.intent.setQuarantined(serial, null, this.ctx.clock.now()));
      return { ...row, quarantined: null };
    });
  }

  /** Decommissioning: every trace of the device leaves the table, then the record. */
  async forget(serial: string): Promise<void> {
    await this.#serially(async () => {
      const row = await this.#row(serial);
      // Every deletion holds whether or not the element is there (an install may have failed
      // half-way, another process may have changed the table): nothing here can be refused.
      await this.opts.enforcement.apply(
        nft.document([
          ...(await this.#deviceGone(
            [row.address],
            row.installed !== null ? [row.profile] : undefined,
          )),
          ...quarantineCommands(row.address, 'delete'),
          ...membershipGone(row, this.#setsInForce()),
        ]),
      );
      await this.store.run((r) => r.intent.remove(serial));
      await this.#forgetDeniedFlows(row.address);
    });
  }

  /**
   * The flows dropped from or to `address`, out of the denied-flow sets. An element may time
   * out between the listing and the deletion (nft then refuses the whole document): once more.
   */
  async #forgetDeniedFlows(address: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const flows = (await this.opts.enforcement.deniedFlows()).filter(
        (f) => f.source === address || f.destination === address,
      );
      if (flows.length === 0) return;
      try {
        await this.opts.enforcement.apply(nft.document(forgetDeniedCommands(flows)));
        return;
      } catch (e) {
        if (attempt > 0) throw e;
      }
    }
  }

  /** A device's intent as enforced, with its profile's rules. */
  async show(serial: string): Promise<DeviceIntentView> {
    const row = await this.#row(serial);
    const p = await this.#profileFor(row.mudUrl ?? undefined, row.segment, { stored: true });
    return {
      ...row,
      chains: p.compiled.chains,
      rules: p.compiled.rules,
      commands: profileCommands(p.compiled, { dispatch: true }),
      warnings: p.warnings,
    };
  }

  async #row(serial: string): Promise<DeviceIntentRecord> {
    const row = await this.store.run((r) => r.intent.device(serial));
    if (!row)
      throw new AirlockError(
        'ERR_DEVICE_NOT_FOUND',
        'the network enforces no intent for that device',
      );
    return row;
  }

  /** The device's record: its address kept, or the lowest free host of its segment's pool. */
  async #allocate(
    subject: IntentSubject,
    seg: SegmentIntent,
    prior: DeviceIntentRecord | undefined,
    profile: string,
  ): Promise<DeviceIntentRecord> {
    const pool = ipv4Pool(seg.prefix);
    const reserved = new Set(seg.reservedHosts ?? []);
    return this.store.transaction(async (r) => {
      let host = prior?.segment === subject.segment ? prior.host : undefined;
      if (subject.address !== undefined) {
        host = pool.hostOf(subject.address);
        if (host === undefined || reserved.has(host))
          throw new AirlockError(
            'ERR_ENFORCEMENT_FAILED',
            `${subject.address} is not a device address of segment ${JSON.stringify(subject.segment)}`,
          );
      }
      if (host === undefined) {
        const taken = new Set(await r.intent.hosts(subject.segment));
        for (let h = 1; h <= pool.size; h++)
          if (!taken.has(h) && !reserved.has(h)) {
            host = h;
            break;
          }
      }
      if (host === undefined)
        throw new AirlockError(
          'ERR_ENFORCEMENT_FAILED',
          `segment ${JSON.stringify(subject.segment)} has no free address in ${seg.prefix}`,
        );
      const record: DeviceIntentRecord = {
        serial: subject.serial,
        segment: subject.segment,
        host,
        address: pool.address(host),
        mudUrl: subject.mudUrl ?? null,
        profile,
        installed: null,
        quarantined: prior?.quarantined ?? null,
        updatedAt: this.ctx.clock.now().toISOString(),
      };
      await r.intent.put(record);
      return record;
    });
  }

  /**
   * The device's elements (and its profile's chains, if new or changed) in one transaction.
   * What the table holds for its address is known from the record; when the record cannot
   * say (an earlier install failed half-way round), nft is asked.
   */
  async #install(
    record: DeviceIntentRecord,
    profile: Profile,
    prior: DeviceIntentRecord | undefined,
  ): Promise<void> {
    const id = idOf(profile);
    const fresh = !this.#isInstalled(profile);
    const inForce = new Map(this.#installed).set(id, profile);
    const commands: nft.Command[] = [];
    // The profile's chains and sets, if new or changed, with every device its sets hold.
    if (fresh)
      commands.push(
        ...(await this.#profileCommands(profile)),
        ...this.#membershipCommands(await this.store.run((r) => r.intent.all()), [profile]),
      );
    // What the device was goes: its old profile's sets (the one the record names when it was
    // installed; any profile's when an attempt failed half-way round), its old address's
    // quarantine mark, its old URL's sets. Then what it is comes, in the same transaction.
    if (prior)
      commands.push(
        ...(await this.#deviceGone(
          [prior.address, record.address],
          prior.installed !== null ? [prior.profile] : undefined,
        )),
        ...(prior.address !== record.address || prior.mudUrl !== record.mudUrl
          ? membershipGone(prior, this.#setsInForce())
          : []),
        ...(prior.address !== record.address ? quarantineCommands(prior.address, 'delete') : []),
      );
    commands.push(
      ...devicesCommands([{ address: record.address, profile: profile.compiled }]),
      ...(record.quarantined !== null ? quarantineCommands(record.address, 'add') : []),
      ...this.#membershipCommands([record], [...inForce.values()]),
    );
    await this.opts.enforcement.apply(nft.document(commands));
    this.#installed.set(id, profile);
    await this.store.run((r) => r.intent.setInstalled(record.serial, this.ctx.clock.now()));
    const dns = profile.compiled.sets.filter((s) => s.kind === 'dnsname');
    if (dns.length > 0 && this.#dns)
      await this.#dns.refresh(dns).catch((e: unknown) => this.#dnsFailed(e));
  }

  /**
   * A profile's commands: its dispatch rules too unless the table has the profile already
   * (this process installed it, or another did: nft is asked).
   */
  async #profileCommands(p: Profile): Promise<nft.Command[]> {
    const there =
      this.#installed.has(idOf(p)) ||
      (await this.opts.enforcement.hasChain(p.compiled.chains['from-device']));
    return profileCommands(p.compiled, { dispatch: !there });
  }

  /**
   * `addresses` out of the sets of devices of `profiles` (ids), and of the set of all devices,
   * whether or not they are there. Without `profiles`: of every profile this process knows or
   * the record names. A profile's set this process did not install is declared first (a no-op
   * when it is there).
   */
  async #deviceGone(
    addresses: readonly string[],
    profiles?: readonly string[],
  ): Promise<nft.Command[]> {
    const ids = new Set(
      profiles ?? [
        ...this.#installed.keys(),
        ...(await this.store.run((r) => r.intent.all())).map((row) => row.profile),
      ],
    );
    const out: nft.Command[] = [];
    for (const id of ids) {
      const chains = chainsOf(id);
      if (!this.#installed.has(id)) {
        const sets = profileDeviceSets({ chains });
        out.push(nft.set(sets.v4, 'ipv4_addr'), nft.set(sets.v6, 'ipv6_addr'));
      }
      out.push(
        ...devicesCommands(
          [...new Set(addresses)].map((address) => ({ address, profile: { chains } })),
          'delete',
        ),
      );
    }
    return out;
  }

  /** The named sets in the table, once start() has built it; undefined before (the CLI's case). */
  #setsInForce(): Set<string> | undefined {
    if (!this.#started) return undefined;
    return new Set(
      [...this.#installed.values()].flatMap((p) => p.compiled.sets.map((x) => x.name)),
    );
  }

  #isInstalled(p: Profile): boolean {
    return this.#installed.get(idOf(p))?.digest === p.digest;
  }

  /**
   * The `manufacturer` and `model` sets of `profiles` that the devices' addresses belong in:
   * a device is of the manufacturer its MUD URL's authority names, and of the model its MUD URL is.
   */
  #membershipCommands(
    rows: readonly Pick<DeviceIntentRecord, 'address' | 'mudUrl'>[],
    profiles: readonly Profile[],
  ): nft.Command[] {
    const sets = new Map<string, NamedSet>();
    for (const p of profiles)
      for (const s of p.compiled.sets) if (s.kind !== 'dnsname') sets.set(s.name, s);
    const out: nft.Command[] = [];
    for (const s of sets.values()) {
      const members = rows.filter((row) => {
        if (row.mudUrl === null || (s.family === 'ipv4') !== !row.address.includes(':'))
          return false;
        return s.kind === 'model' ? row.mudUrl === s.value : authorityOf(row.mudUrl) === s.value;
      });
      if (members.length > 0)
        out.push(
          nft.element(
            s.name,
            members.map((m) => m.address),
          ),
        );
    }
    return out;
  }

  #dnsSets(): NamedSet[] {
    return [...this.#installed.values()].flatMap((p) =>
      p.compiled.sets.filter((s) => s.kind === 'dnsname'),
    );
  }

  #dnsFailed(e: unknown): void {
    this.ctx.logger.warn(
      { code: isAirlockError(e) ? e.code : 'ERR_INTERNAL' },
      "intent: resolving the MUD files' DNS names failed; their sets are unchanged",
    );
  }

  /**
   * The profile for a MUD URL in a segment: the file from the record while its cache-validity
   * lasts (`stored`: whatever its age, as the rules installed were made from it), else fetched
   * and accepted again.
   */
  async #profileFor(
    url: string | undefined,
    segment: string,
    opts: { stored: boolean },
  ): Promise<Profile> {
    const context = this.#context(segment);
    const file =
      url === undefined
        ? { mud: noMudProfile(), bytes: '', warnings: [] }
        : await this.#file(url, opts.stored);
    const id = shortName(`${segment} ${url ?? NO_MUD_URL}`);
    const digest = toBase64(
      this.ctx.crypto.sha256(utf8(`${JSON.stringify(context)}\n${file.bytes}`)),
    );
    const held = this.#compiled.get(id);
    if (held?.digest === digest) return held;
    const profile = {
      compiled: compileProfile(file.mud, id, context),
      digest,
      warnings: file.warnings,
    };
    this.#compiled.set(id, profile);
    return profile;
  }

  #context(segment: string): ProfileContext {
    const seg = this.opts.settings.segments[segment];
    return {
      controllers: this.opts.settings.controllers ?? {},
      myController: seg?.myController ?? [],
      localNetworks: this.opts.settings.localNetworks ?? [],
    };
  }

  async #file(
    url: string,
    stored: boolean,
  ): Promise<{ mud: MudFile; bytes: string; warnings: string[] }> {
    const now = this.ctx.clock.now();
    const record = await this.store.run((r) => r.intent.mudFile(url));
    if (record && (stored || new Date(record.expiresAt) > now)) {
      const parsed = parseMud(record.mud);
      return { mud: parsed.mud, bytes: record.mud, warnings: parsed.warnings };
    }
    let pending = this.#fetching.get(url);
    if (!pending) {
      pending = this.#fetchAndAccept(url).finally(() => this.#fetching.delete(url));
      this.#fetching.set(url, pending);
    }
    return pending;
  }

  async #fetchAndAccept(url: string): Promise<{ mud: MudFile; bytes: string; warnings: string[] }> {
    const fetched = await this.opts.fetcher.fetchMud(url);
    // The signature's URL is in the file (RFC 8520 section 13); a file without one is refused.
    const signatureUrl = parseMud(fetched.bytes).mud.signature;
    if (signatureUrl === undefined)
      throw new AirlockError(
        'ERR_MUD_SIGNATURE',
        'the MUD file names no mud-signature: it is not signed',
      );
    let signatureHref: string;
    try {
      signatureHref = new URL(signatureUrl, url).href;
    } catch {
      throw new AirlockError(
        'ERR_MUD_MALFORMED',
        `/ietf-mud:mud/mud-signature: ${JSON.stringify(signatureUrl.slice(0, 200))} is not a URL`,
      );
    }
    const signature = await this.opts.fetcher.fetchSignature(signatureHref);
    const accepted = await acceptMudFile(this.ctx, this.store, {
      url,
      mud: fetched.bytes,
      signature: signature.bytes,
      anchors: this.opts.anchors(),
      // Enforceable in every segment before its signer is pinned or the file kept: a file that
      // cannot be enforced changes nothing.
      check: (mud) => {
        for (const segment of Object.keys(this.opts.settings.segments))
          compileProfile(mud, 'check', this.#context(segment));
      },
    });
    const now = this.ctx.clock.now();
    const text = fromUtf8(fetched.bytes);
    await this.store.run((r) =>
      r.intent.saveMudFile({
        url,
        mud: text,
        signature: toBase64(signature.bytes),
        fetchedAt: now.toISOString(),
        expiresAt: new Date(
          now.getTime() + accepted.mud.cacheValidityHours * 3_600_000,
        ).toISOString(),
      }),
    );
    if (accepted.pinned)
      this.ctx.logger.info({ url, signer: accepted.signer.subject }, 'intent: MUD signer pinned');
    return { mud: accepted.mud, bytes: text, warnings: accepted.warnings };
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}

function idOf(p: Profile): string {
  return p.compiled.chains['from-device'].slice('mud_'.length, -'_from'.length);
}

function chainsOf(profile: string): CompiledProfile['chains'] {
  return { 'from-device': `mud_${profile}_from`, 'to-device': `mud_${profile}_to` };
}

/**
 * A device's address out of its MUD URL's manufacturer and model sets: those of `inForce`
 * when the caller knows what the table holds, else any there may be, each declared first (a
 * no-op when it is there) so that the deletion cannot fail for want of one.
 */
function membershipGone(
  row: Pick<DeviceIntentRecord, 'address' | 'mudUrl'>,
  inForce: ReadonlySet<string> | undefined,
): nft.Command[] {
  if (row.mudUrl === null) return [];
  return memberSets(row.mudUrl, row.address.includes(':') ? 'ipv6' : 'ipv4')
    .filter((s) => inForce === undefined || inForce.has(s.name))
    .flatMap((s) => [
      ...(inForce === undefined ? [namedSetCommand(s)] : []),
      ...nft.elementGone(s.name, [row.address]),
    ]);
}

/** A device with no MUD URL: it may talk to its class's own controller, both ways, and nothing else. */
function noMudProfile(): MudFile {
  const ace = (name: string) => ({
    name,
    family: undefined,
    protocol: undefined,
    source: undefined,
    destination: undefined,
    abstraction: { kind: 'my-controller' as const },
    sourcePort: undefined,
    destinationPort: undefined,
    directionInitiated: undefined,
    icmp: undefined,
    eth: undefined,
    action: 'accept' as const,
  });
  return {
    url: 'https://no-mud-url.invalid/',
    version: 1,
    lastUpdate: '1970-01-01T00:00:00Z',
    cacheValidityHours: 48,
    isSupported: true,
    systeminfo: 'a device that conveyed no MUD URL',
    mfgName: undefined,
    modelName: undefined,
    documentation: undefined,
    signature: undefined,
    fromDevice: [
      { name: 'from-my-controller', type: 'ipv4-acl-type', aces: [ace('to-controller')] },
    ],
    toDevice: [{ name: 'to-my-controller', type: 'ipv4-acl-type', aces: [ace('from-controller')] }],
  };
}
