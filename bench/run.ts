/**
 * Benchmark entry point: `npm run bench -- <benchmark> [options]`.
 *
 *   onboarding --devices N --concurrency C [--baseline-handshakes H] [--slices K]
 *              [--declarations installed|realtime] [--separate] [--nodes N]
 *              [--database sqlite|postgres] [--attestation on|off] [--phases] [--timeout S] [--json]
 *
 * The onboarding run is measured in K slices of the devices (default 4), with a run of the TLS
 * baseline before the first, between each two and after the last (H handshakes in all, default
 * 2 x max(N, 2000)): the ratio is devices/s over handshakes/s, each over its measured time.
 *
 * --separate runs the registrar and the MASA in a server process each, as the network owner's
 * and the manufacturer's servers are (by default they share one).
 * --database postgres keeps both roles' records in PostgreSQL: AIRLOCK_DATABASE_URL (an empty
 * database), else a throwaway server the bench starts and removes. --nodes N (N > 1 needs
 * PostgreSQL, and implies --separate) runs N network processes sharing that database, the
 * devices spread over them round-robin.
 *
 * --attestation on (default) runs the verifier and has every device measure a released firmware
 * image and attest before its voucher (steps 1 to 4): in the one server process, the registrar
 * calling it directly (as `airlock up` does); with --separate, beside the manufacturer (in its
 * process), the registrar asking it over its HTTPS API. Off runs no verifier, the devices do not
 * attest, and the network admits them by policy.
 *
 * --timeout S gives up after S seconds (default 1800): exit status 3, every server ended.
 *
 * The exit status is 0 only if every device onboarded and holds exactly one unrevoked LDevID in
 * the network's database at the end (`failures`, `liveLdevidsPerDevice`), and, with attestation
 * on, its record in the network's inventory is `affirming` (`attestationStatuses`).
 *
 * Without --json a human summary is printed (progress on stderr); with --json exactly one
 * JSON object is printed on stdout.
 *
 *   verifier [--attestations N] [--concurrency C] [--json]
 *
 * The registrar's and the verifier's work for N attestations (default 2000), in one process,
 * alternately over the verifier's HTTPS API and directly (bench/verifier.ts): CPU and wall
 * time per attestation each way.
 *
 *   dpp [--devices N] [--concurrency C] [--rounds R] [--warmup W] [--auth mutual|responder] [--json]
 *
 * Wi-Fi Easy Connect (DPP) onboarding over TCP (bench/dpp.ts): Airlock's enrollee, a fresh P-256
 * key per exchange, C in flight (default 4), configured by Airlock's DPP TCP controller (in a
 * child process) and by a wpa_supplicant 2.10 Configurator/Controller, N devices (default 200)
 * each side per round, the side that goes first alternating, R rounds (default 5) after a
 * warm-up of W (default min(N, 50)): devicesPerSecond and wpaSupplicantPerSecond are the
 * rounds' medians, ratio their quotient. --auth mutual (default): both configurators know every enrollee's key. Not
 * root, or no wpa_supplicant: `skipped: <reason>`, Airlock's side alone, ratio null. The exit
 * status is 0 only if every exchange ended configured (`failures` 0).
 */
import { runOnboardingBenchmark, type OnboardingResult } from './onboarding.js';
import { runVerifierBenchmark } from './verifier.js';
import { runIntentBenchmark } from './intent.js';
import { runConnectBenchmark } from './connect.js';
import { runDppBenchmark } from './dpp.js';

const USAGE = [
  'usage: npm run bench -- onboarding [--devices N] [--concurrency C] [--baseline-handshakes H] [--slices K] [--declarations installed|realtime] [--separate] [--nodes N] [--database sqlite|postgres] [--attestation on|off] [--phases] [--timeout S] [--json]',
  '       npm run bench -- verifier [--attestations N] [--concurrency C] [--json]',
  '       npm run bench -- intent [--devices N] [--json]',
  '       npm run bench -- connect [--devices N] [--clients P] [--auths A] [--changes C] [--json]',
  '       npm run bench -- dpp [--devices N] [--concurrency C] [--rounds R] [--warmup W] [--auth mutual|responder] [--json]',
].join('\n');

function parseArgs(argv: string[]): {
  command: string | undefined;
  flags: Map<string, string | true>;
} {
  const flags = new Map<string, string | true>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
      if (inline !== undefined) flags.set(name, inline);
      else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--'))
        flags.set(name, argv[++i]!);
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
  if (v === true || !Number.isInteger(n) || n < 1)
    throw new Error(`--${name} needs a positive integer`);
  return n;
}

function oneOf<T extends string>(
  flags: Map<string, string | true>,
  name: string,
  values: readonly T[],
  fallback: T,
): T {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  if (v === true || !(values as readonly string[]).includes(v))
    throw new Error(`--${name} needs one of ${values.join(', ')}`);
  return v as T;
}

/** Every device onboarded and holds exactly one unrevoked LDevID; with attestation, every one affirming. */
function passed(r: OnboardingResult): boolean {
  return (
    r.failures === 0 &&
    r.liveLdevidsPerDevice.min === 1 &&
    r.liveLdevidsPerDevice.max === 1 &&
    (r.attestation === 'off' || r.attestationStatuses.affirming === r.devices)
  );
}

function summary(r: OnboardingResult): string {
  const c = r.cpuMsPerOnboarding;
  const split = [
    c.network !== undefined ? `network ${c.network}` : '',
    c.manufacturer !== undefined
      ? `manufacturer${r.attestation === 'on' ? ' and verifier' : ''} ${c.manufacturer}`
      : '',
    c.postgres !== undefined ? `postgres ${c.postgres}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const lines = [
    `onboarding: ${r.devices} devices, concurrency ${r.concurrency}, ${r.topology} server roles, ${r.nodes} network node(s) on ${r.database}, attestation ${r.attestation} (node ${r.node}, ${r.cpus} x ${r.cpuModel})`,
    `  onboarding        ${r.devicesPerSecond} devices/s   p50 ${r.p50Ms} ms   p99 ${r.p99Ms} ms   failures ${r.failures}`,
    `  live LDevIDs      per device min ${r.liveLdevidsPerDevice.min}, max ${r.liveLdevidsPerDevice.max} ${JSON.stringify(r.liveLdevidsPerDevice.histogram)}${r.liveLdevidsPerDevice.min === 1 && r.liveLdevidsPerDevice.max === 1 ? '' : '   FAILED: each device must hold exactly one'}`,
    `  attestation       ${JSON.stringify(r.attestationStatuses)}${r.attestation === 'on' && r.attestationStatuses.affirming !== r.devices ? '   FAILED: each device must be affirming' : ''}`,
    `  TLS baseline      ${r.baselineHandshakesPerSecond} handshakes/s (runs ${r.baselineRuns.join(', ')})`,
    `  ratio             ${r.ratio} (${r.slices} slices: ${r.sliceRatios.join(', ')})`,
    `  CPU ms/onboarding server ${c.server}${split ? ` (${split})` : r.attestation === 'on' ? ' (network, manufacturer and verifier)' : ''}, client ${c.client}`,
    `  cores busy        server ${r.coresBusyDuringOnboarding.server}, client ${r.coresBusyDuringOnboarding.client}${r.coresBusyDuringOnboarding.postgres !== undefined ? `, postgres ${r.coresBusyDuringOnboarding.postgres}` : ''}`,
    `  CPU ms/handshake  server ${r.cpuMsPerHandshake.server}, client ${r.cpuMsPerHandshake.client}`,
  ];
  if (r.failureCodes) lines.push(`  failure codes     ${JSON.stringify(r.failureCodes)}`);
  if (r.phases) {
    lines.push('  client-side phases (mean ms per call):');
    for (const [k, v] of Object.entries(r.phases))
      lines.push(`    ${k.padEnd(48)} ${String(v.meanMs).padStart(8)}  (${v.count} calls)`);
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
          baselineHandshakes: flags.has('baseline-handshakes')
            ? positiveInt(flags, 'baseline-handshakes', 2000)
            : undefined,
          ...(flags.has('slices') ? { slices: positiveInt(flags, 'slices', 4) } : {}),
          phases: flags.has('phases'),
          declarations: flags.get('declarations') === 'realtime' ? 'realtime' : 'installed',
          topology: flags.has('separate') ? 'separate' : 'colocated',
          nodes: positiveInt(flags, 'nodes', 1),
          database: oneOf(flags, 'database', ['sqlite', 'postgres'] as const, 'sqlite'),
          attestation: oneOf(flags, 'attestation', ['on', 'off'] as const, 'on'),
          ...(flags.has('timeout')
            ? { timeoutMs: positiveInt(flags, 'timeout', 1800) * 1000 }
            : {}),
        },
        json ? undefined : (m) => process.stderr.write(`${m}\n`),
      );
      process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${summary(result)}\n`);
      if (!passed(result))
        process.stderr.write(
          `bench: ${result.failures} failure(s); unrevoked LDevIDs per device ${result.liveLdevidsPerDevice.min} to ${result.liveLdevidsPerDevice.max} (each must hold exactly one)${result.attestation === 'on' ? `; attestation ${JSON.stringify(result.attestationStatuses)} (each must be affirming)` : ''}\n`,
        );
      return passed(result) ? 0 : 1;
    }
    case 'verifier': {
      const r = await runVerifierBenchmark({
        attestations: positiveInt(flags, 'attestations', 2000),
        concurrency: positiveInt(flags, 'concurrency', 8),
      });
      process.stdout.write(
        json
          ? `${JSON.stringify(r)}\n`
          : [
              `verifier: ${r.attestations} attestations, concurrency ${r.concurrency}, ${r.rounds} rounds each way, alternately (node ${r.node}, ${r.cpus} CPUs)`,
              `  over HTTPS   ${r.https.cpuMsPerAttestation} ms CPU, ${r.https.wallMsPerAttestation} ms wall per attestation (${r.https.attestationsPerSecond}/s)`,
              `  in process   ${r.inProcess.cpuMsPerAttestation} ms CPU, ${r.inProcess.wallMsPerAttestation} ms wall per attestation (${r.inProcess.attestationsPerSecond}/s)`,
              `  CPU quotient ${r.cpuQuotient} (in process / over HTTPS)`,
            ].join('\n') + '\n',
      );
      return 0;
    }
    case 'intent': {
      const r = await runIntentBenchmark({ devices: positiveInt(flags, 'devices', 1000) });
      process.stdout.write(
        json
          ? `${JSON.stringify(r)}\n`
          : [
              `intent: ${r.devices} devices over ${r.profiles} MUD profiles (node ${r.node})`,
              `  install ${r.installMs} ms (inventory to loaded ruleset), add one ${r.addOneMs} ms (to an empty table ${r.addOneEmptyMs} ms), ${r.rules} rules`,
              `  nft -j -f of the same ruleset ${r.nftBaselineMs} ms; ratio ${r.ratio} (baseline / install)`,
            ].join('\n') + '\n',
      );
      return 0;
    }
    case 'connect': {
      const r = await runConnectBenchmark({
        devices: positiveInt(flags, 'devices', 10_000),
        clients: positiveInt(flags, 'clients', 32),
        auths: positiveInt(flags, 'auths', 600),
        changes: positiveInt(flags, 'changes', 1000),
      });
      process.stdout.write(
        json
          ? `${JSON.stringify(r)}\n`
          : [
              `connect: ${r.devices} devices allowed, ${r.clients} eapol_test clients, ${r.auths} authentications each way (node ${r.node})`,
              `  Airlock's FreeRADIUS (the database's view) ${r.authPerSecond}/s, static allowlist ${r.staticAuthPerSecond}/s: ratio ${r.ratio}`,
              `  one authentication ${r.authMs} ms; a change live after ${r.changeLiveMs} ms; FreeRADIUS RSS +${r.radiusRssGrowthKb} kB over ${r.changes} changes`,
            ].join('\n') + '\n',
      );
      return 0;
    }
    case 'dpp': {
      const r = await runDppBenchmark(
        {
          devices: positiveInt(flags, 'devices', 200),
          concurrency: positiveInt(flags, 'concurrency', 4),
          rounds: positiveInt(flags, 'rounds', 5),
          ...(flags.has('warmup') ? { warmup: positiveInt(flags, 'warmup', 50) } : {}),
          auth: oneOf(flags, 'auth', ['mutual', 'responder'] as const, 'mutual'),
        },
        json ? undefined : (m) => process.stderr.write(`${m}\n`),
      );
      // On its own line; with --json on stderr, so that stdout stays one JSON object.
      if (r.skipped) (json ? process.stderr : process.stdout).write(`skipped: ${r.skipped}\n`);
      const w = r.wpaSupplicantPerSecond;
      process.stdout.write(
        json
          ? `${JSON.stringify(r)}\n`
          : [
              `dpp: ${r.devices} devices per side per round, ${r.rounds} rounds alternately after ${r.warmupDevices} warm-up, concurrency ${r.concurrency}, ${r.curve}, ${r.authentication} (node ${r.node}, ${r.cpus} x ${r.cpuModel})`,
              `  Airlock's configurator        ${r.devicesPerSecond} devices/s (rounds ${r.airlockRuns.join(', ')}), p50 ${r.p50Ms.airlock} ms`,
              `  wpa_supplicant's configurator ${w === null ? '-' : `${w} devices/s (rounds ${r.wpaSupplicantRuns.join(', ')}), p50 ${r.p50Ms.wpaSupplicant} ms`}`,
              `  ratio                         ${r.ratio ?? 'null'}${r.roundRatios.length ? ` (rounds ${r.roundRatios.join(', ')}; their median ${r.medianRoundRatio})` : ''}`,
              `  CPU ms/device                 configurator: Airlock ${r.cpuMsPerDevice.airlockConfigurator}, wpa_supplicant ${r.cpuMsPerDevice.wpaSupplicantConfigurator ?? '-'}; enrollee: ${r.cpuMsPerDevice.enrolleeWithAirlock} / ${r.cpuMsPerDevice.enrolleeWithWpaSupplicant ?? '-'}`,
              `  failures                      ${r.failures} (Airlock ${r.failuresBySide.airlock}, wpa_supplicant ${r.failuresBySide.wpaSupplicant ?? '-'}) of ${r.exchangesPerSide} exchanges per side${r.failures ? ` ${JSON.stringify(r.failureReasons)}` : ''}; configurators saw Result OK: ${r.configuratorConfirmed.airlock} / ${r.configuratorConfirmed.wpaSupplicant ?? '-'}`,
            ].join('\n') + '\n',
      );
      return r.failures === 0 ? 0 : 1;
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
