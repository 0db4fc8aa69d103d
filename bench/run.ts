/**
 * Benchmark entry point: `npm run bench -- <benchmark> [options]`.
 *
 *   onboarding --devices N --concurrency C [--baseline-handshakes H] [--declarations installed|realtime]
 *              [--separate] [--phases] [--json]
 *
 * --separate runs the registrar and the MASA in a server process each, as the network owner's
 * and the manufacturer's servers are (by default they share one).
 *
 * Without --json a human summary is printed (progress on stderr); with --json exactly one
 * JSON object is printed on stdout.
 */
import { runOnboardingBenchmark, type OnboardingResult } from './onboarding.js';

const USAGE = 'usage: npm run bench -- onboarding [--devices N] [--concurrency C] [--baseline-handshakes H] [--declarations installed|realtime] [--separate] [--phases] [--json]';

function parseArgs(argv: string[]): { command: string | undefined; flags: Map<string, string | true> } {
  const flags = new Map<string, string | true>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (inline !== undefined) flags.set(name, inline);
      else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) flags.set(name, argv[++i]!);
      else flags.set(name, true);
    } else if (command === undefined) command = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  return { command, flags };
}

function positiveInt(flags: Map<string, string | true>, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`);
  return n;
}

function summary(r: OnboardingResult): string {
  const lines = [
    `onboarding: ${r.devices} devices, concurrency ${r.concurrency}, ${r.topology} server roles (node ${r.node}, ${r.cpus} x ${r.cpuModel})`,
    `  onboarding        ${r.devicesPerSecond} devices/s   p50 ${r.p50Ms} ms   p99 ${r.p99Ms} ms   failures ${r.failures}`,
    `  TLS baseline      ${r.baselineHandshakesPerSecond} handshakes/s (before ${r.baselineBefore}, after ${r.baselineAfter})`,
    `  ratio             ${r.ratio}`,
    `  CPU ms/onboarding server ${r.cpuMsPerOnboarding.server}, client ${r.cpuMsPerOnboarding.client}`,
    `  CPU ms/handshake  server ${r.cpuMsPerHandshake.server}, client ${r.cpuMsPerHandshake.client}`,
  ];
  if (r.failureCodes) lines.push(`  failure codes     ${JSON.stringify(r.failureCodes)}`);
  if (r.phases) {
    lines.push('  client-side phases (mean ms per call):');
    for (const [k, v] of Object.entries(r.phases)) lines.push(`    ${k.padEnd(48)} ${String(v.meanMs).padStart(8)}  (${v.count} calls)`);
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { command, flags } = parseArgs(process.argv.slice(2));
  const json = flags.has('json');
  switch (command) {
    case 'onboarding': {
      const result = await runOnboardingBenchmark(
        {
          devices: positiveInt(flags, 'devices', 200),
          concurrency: positiveInt(flags, 'concurrency', 8),
          baselineHandshakes: flags.has('baseline-handshakes') ? positiveInt(flags, 'baseline-handshakes', 2000) : undefined,
          phases: flags.has('phases'),
          declarations: flags.get('declarations') === 'realtime' ? 'realtime' : 'installed',
          topology: flags.has('separate') ? 'separate' : 'colocated',
        },
        json ? undefined : (m) => process.stderr.write(`${m}\n`),
      );
      process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${summary(result)}\n`);
      return result.failures === 0 ? 0 : 1;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
