/**
 * Installing device intent (docs/INTENT.md) for N onboarded devices spread over the MUD
 * profiles of the public corpus (test/fixtures/interop/mud), in a network namespace of its own:
 *
 * - installMs: everything from the inventory (each distinct MUD file's bytes, each device's
 *   address and profile) to a loaded ruleset: read, compile, build the document, `nft -j -f`;
 * - addOneMs: one more device added to the loaded ruleset (its profile already there);
 * - rules: the rules in Airlock's table as nft lists it, after the add;
 * - addOneEmptyMs: the same add, the same way, to a table that holds no device: the floor of
 *   one change through `nft -j -f` (a process, its netlink cache, the namespace), which
 *   addOneMs cannot go below;
 * - nftBaselineMs: the same final ruleset, written once as a file beforehand and loaded with
 *   `nft -j -f` on an empty namespace in the same run: the floor of any installer;
 *   ratio = nftBaselineMs / installMs.
 *
 * Needs root and nft (the namespace keeps the host's firewall untouched).
 *
 *   npm run -s bench -- intent [--devices N] [--json]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Nftables } from '../src/adapters/enforcement/nftables.js';
import { parseMud } from '../src/protocols/mud/parse.js';
import {
  compileProfile,
  shortName,
  type CompiledProfile,
  type ProfileContext,
} from '../src/protocols/mud/compile.js';
import { devicesCommands, fullRuleset } from '../src/protocols/nftables/intent-ruleset.js';
import { document } from '../src/protocols/nftables/json.js';

export interface IntentBenchResult {
  benchmark: 'intent';
  devices: number;
  profiles: number;
  installMs: number;
  addOneMs: number;
  addOneEmptyMs: number;
  rules: number;
  nftBaselineMs: number;
  ratio: number;
  node: string;
  date: string;
}

const corpus = fileURLToPath(new URL('../test/fixtures/interop/mud/', import.meta.url));

/** Every MUD file of the corpus Airlock reads (the two with a non-standard key are refused). */
function corpusFiles(): Array<{ name: string; bytes: Uint8Array }> {
  const out: Array<{ name: string; bytes: Uint8Array }> = [];
  for (const dir of ['rfc8520', 'legacy', 'signed'])
    for (const f of fs.readdirSync(path.join(corpus, dir)).filter((x) => x.endsWith('.json'))) {
      const bytes = new Uint8Array(fs.readFileSync(path.join(corpus, dir, f)));
      try {
        parseMud(bytes);
        out.push({ name: `${dir}/${f}`, bytes });
      } catch {
        // refused by the reader: not a profile
      }
    }
  return out;
}

const ctx: ProfileContext = {
  controllers: { 'urn:ietf:params:mud:gateway': ['10.0.0.1'] },
  myController: ['10.0.0.3'],
  localNetworks: ['10.0.0.0/8'],
};

/** The i-th device's address: 10.64.0.0/10 and up, never a profile's own addresses. */
const addressOf = (i: number) => `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;

function timedNft(netns: string, file: string): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', netns, 'nft', '-j', '-f', file], { stdio: 'pipe' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`nft: ${r.stderr.toString().slice(0, 500)}`);
  return ms;
}

export async function runIntentBenchmark(opts: { devices: number }): Promise<IntentBenchResult> {
  if (process.getuid?.() !== 0) throw new Error('bench intent needs root (a network namespace)');
  const n = Math.max(1, Math.min(opts.devices, 4_000_000));
  const netns = `al-bench-${process.pid}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-intent-'));
  execFileSync('ip', ['netns', 'add', netns]);
  try {
    const files = corpusFiles();
    // The inventory: each device's address and the MUD file of its model.
    const inventory = Array.from({ length: n }, (_, i) => ({
      address: addressOf(i),
      file: files[i % files.length]!,
    }));
    const nft = new Nftables({ netns });

    const t0 = performance.now();
    const profiles = new Map<string, CompiledProfile>();
    for (const f of files)
      profiles.set(f.name, compileProfile(parseMud(f.bytes).mud, shortName(f.name), ctx));
    const devices = inventory.map((d) => ({
      address: d.address,
      profile: profiles.get(d.file.name)!,
    }));
    await nft.apply(fullRuleset([...profiles.values()], devices));
    const installMs = performance.now() - t0;

    const extra = { address: addressOf(n), profile: profiles.get(files[0]!.name)! };
    const t1 = performance.now();
    await nft.apply(document(devicesCommands([extra])));
    const addOneMs = performance.now() - t1;

    const listed = JSON.stringify((await nft.table()) ?? []);
    const rules = listed.split('"rule":').length - 1;

    // One add to a table with the profile and no device: the floor of one change.
    execFileSync('ip', ['netns', 'del', netns]);
    execFileSync('ip', ['netns', 'add', netns]);
    await nft.apply(fullRuleset([extra.profile], []));
    const t2 = performance.now();
    await nft.apply(document(devicesCommands([extra])));
    const addOneEmptyMs = performance.now() - t2;

    // The floor: the same final ruleset, written beforehand, loaded on a fresh namespace.
    const file = path.join(dir, 'ruleset.json');
    fs.writeFileSync(
      file,
      JSON.stringify(fullRuleset([...profiles.values()], [...devices, extra])),
    );
    execFileSync('ip', ['netns', 'del', netns]);
    execFileSync('ip', ['netns', 'add', netns]);
    const nftBaselineMs = timedNft(netns, file);

    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return {
      benchmark: 'intent',
      devices: n,
      profiles: profiles.size,
      installMs: r3(installMs),
      addOneMs: r3(addOneMs),
      addOneEmptyMs: r3(addOneEmptyMs),
      rules,
      nftBaselineMs: r3(nftBaselineMs),
      ratio: r3(nftBaselineMs / installMs),
      node: process.version,
      date: new Date().toISOString(),
    };
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch {
      // already gone
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
