/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof` or BENCH_CPU_PROF): self time by
 * function and by package/source file, and total (inclusive) time of chosen frames.
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
prof.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

/** The project's root as a file URL's path prefix: its sources are named relative to it. */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') + '/';
const escaped = root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const inProject = new RegExp(`^(?:file://)?${escaped}(.*)$`);
const projectCode = new RegExp(`^(?:file://)?${escaped}(src|bench)/`);

const where = (url: string) => {
  if (!url) return '(native/V8)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return url;
  const src = inProject.exec(url);
  return src ? src[1]! : url;
};
const agg = (key: (n: Node) => string) => {
  const m = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const k = key(byId.get(id)!);
    m.set(k, (m.get(k) ?? 0) + us);
  }
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
};
const pct = (us: number) =>
  `${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms`;
console.log(`${file}: ${(totalUs / 1000).toFixed(0)} ms sampled`);
console.log('\nself time by package / file:');
for (const [k, us] of agg((n) => where(n.callFrame.url))) console.log(`  ${pct(us)}  ${k}`);
console.log('\nself time by function:');
for (const [k, us] of agg(
  (n) =>
    `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`,
))
  console.log(`  ${pct(us)}  ${k}`);

// Inclusive time: a sample counts once for every distinct src/ function on its stack.
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    if (!projectCode.test(n.callFrame.url)) continue;
    const k = `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + us);
  }
}
console.log('\ninclusive time of project functions:');
for (const [k, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top * 2))
  console.log(`  ${pct(us)}  ${k}`);
