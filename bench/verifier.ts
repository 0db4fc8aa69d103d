/**
 * The registrar's half of an attestation and the verifier's, in one process, two ways: over
 * Veraison's API on loopback HTTPS (HttpVerifierClient to a served verifier, as a registrar asks
 * a verifier elsewhere) and directly (LocalVerifierClient, as `airlock up` and the colocated
 * onboarding benchmark do). One attestation is a session opened for a nonce the registrar chose
 * and a device token appraised in it; the tokens are signed before the clock starts, so only the
 * registrar's and the verifier's work is counted. The two ways run alternately, in rounds, each
 * the other's reference, in the same process: CPU (this process's, user + system) and wall time
 * per attestation, and the quotient.
 *
 *   npm run -s bench -- verifier [--attestations N] [--concurrency C] [--json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { NodeCrypto } from '../src/adapters/crypto/node-crypto.js';
import { silentLogger } from '../src/adapters/log/logger.js';
import { systemClock } from '../src/core/ports.js';
import { toBase64Url } from '../src/core/bytes.js';
import { Verifier } from '../src/roles/verifier/index.js';
import { LocalVerifierClient } from '../src/roles/verifier/local-client.js';
import { HttpVerifierClient } from '../src/adapters/http/verifier-client.js';
import { deviceTokenMediaType } from '../src/protocols/eat/claims.js';
import type { VerifierPort } from '../src/onboarding/registrar/ports.js';
import { attestationManufacturer, attestingDevice } from '../test/support/attestation.js';

export interface VerifierBenchOptions {
  attestations: number;
  concurrency: number;
}

interface Way {
  cpuMsPerAttestation: number;
  wallMsPerAttestation: number;
  attestationsPerSecond: number;
}

export interface VerifierBenchResult {
  benchmark: 'verifier';
  attestations: number;
  concurrency: number;
  rounds: number;
  https: Way;
  inProcess: Way;
  /** In-process CPU per attestation over HTTPS CPU per attestation. */
  cpuQuotient: number;
  node: string;
  cpus: number;
  date: string;
}

const ROUNDS = 10;

export async function runVerifierBenchmark(
  opts: VerifierBenchOptions,
): Promise<VerifierBenchResult> {
  const perRound = Math.max(1, Math.ceil(opts.attestations / (2 * ROUNDS)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-verifier-'));
  const m = await attestationManufacturer('Bench Maker');
  const v = await Verifier.open({
    ctx: { crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger },
    databaseFile: path.join(dir, 'verifier.db'),
    kek: new Uint8Array(randomBytes(32)),
    manufacturers: [{ party: m.party, root: m.root.cert, endorsementsCa: m.endorsementsCa.cert }],
    config: { referenceValuesRefreshSeconds: 0 },
  });
  let http: HttpVerifierClient | undefined;
  try {
    const url = await v.serve(0);
    await v.provision(m.referenceValues());
    const info = v.trustInfo();
    http = new HttpVerifierClient(url, { tlsCaPem: info.tlsCaPem, earKey: info.earKeyJwk });
    const local = new LocalVerifierClient(v);

    // Each attestation: its own device, nonce and token, made before any clock runs.
    const total = 2 * ROUNDS * perRound + 2 * opts.concurrency;
    const work: Array<{ nonce: string; token: string }> = [];
    for (let i = 0; i < total; i++) {
      const d = await attestingDevice(m, { serial: `SN-BENCH-${i}` });
      const nonce = toBase64Url(new Uint8Array(randomBytes(32)));
      work.push({ nonce, token: d.token(nonce) });
    }
    let next = 0;
    const attest = async (client: VerifierPort, n: number) => {
      const mine = work.slice(next, next + n);
      next += n;
      let i = 0;
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (i < mine.length) {
            const w = mine[i++]!;
            const s = await client.openSession(w.nonce);
            const { claims } = await client.appraise(s, deviceTokenMediaType, w.token);
            const status = Object.values(claims.submods)[0]?.['ear.status'];
            if (status !== 'affirming') throw new Error(`an attestation was ${String(status)}`);
          }
        }),
      );
    };
    const cpuMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    // Warm-up: JIT, the pool's connections.
    await attest(http, opts.concurrency);
    await attest(local, opts.concurrency);
    const sums = {
      https: { cpu: 0, wall: 0, n: 0 },
      inProcess: { cpu: 0, wall: 0, n: 0 },
    };
    for (let r = 0; r < ROUNDS; r++) {
      const order =
        r % 2 === 0 ? (['https', 'inProcess'] as const) : (['inProcess', 'https'] as const);
      for (const way of order) {
        const c0 = cpuMs();
        const t0 = performance.now();
        await attest(way === 'https' ? http : local, perRound);
        sums[way].wall += performance.now() - t0;
        sums[way].cpu += cpuMs() - c0;
        sums[way].n += perRound;
      }
    }
    const wayOf = (s: { cpu: number; wall: number; n: number }): Way => ({
      cpuMsPerAttestation: round(s.cpu / s.n, 3),
      wallMsPerAttestation: round(s.wall / s.n, 3),
      attestationsPerSecond: round((1000 * s.n) / s.wall, 1),
    });
    return {
      benchmark: 'verifier',
      attestations: sums.https.n + sums.inProcess.n,
      concurrency: opts.concurrency,
      rounds: ROUNDS,
      https: wayOf(sums.https),
      inProcess: wayOf(sums.inProcess),
      cpuQuotient: round(sums.inProcess.cpu / sums.https.cpu, 3),
      node: process.version,
      cpus: os.cpus().length,
      date: new Date().toISOString(),
    };
  } finally {
    await http?.close();
    await v.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
