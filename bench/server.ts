/**
 * Benchmark child process: Airlock's server roles over a temporary data directory. Which roles
 * is `BENCH_ROLES`:
 *   both          (default) the network (registrar) and the manufacturer (MASA), startSystem;
 *   manufacturer  the MASA and declarations alone, as on the manufacturer's own machine;
 *   network       the registrar alone, trusting the manufacturer of BENCH_MANUFACTURER_TRUST
 *                 (its trust file, JSON), as on the owner's network.
 * BENCH_DATABASE_URL (postgres://...): the roles' records in that PostgreSQL database (each role
 * in a schema of its own), not in SQLite files in the temporary directory; several `network`
 * children may share it (with the same AIRLOCK_NETWORK_KEK). BENCH_CREATE=0: the network must
 * already be in the database (a second node opens the network the first one created).
 * BENCH_ATTESTATION=on (default) or off:
 *   on   the verifier runs beside the manufacturer (in `both`, startSystem's, which the registrar
 *        calls directly; in `manufacturer`,
 *        opened and served here and provisioned with the manufacturer's reference values), and
 *        the manufacturer releases a firmware image for the bench's model: random bytes in a
 *        file in the temporary directory, which the devices (in the parent) measure. A `network`
 *        child asks the verifier of BENCH_VERIFIER (JSON: url, tlsCaPem, earKeyJwk) through an
 *        HttpVerifierClient.
 *   off  no verifier, and the network applies a policy that admits devices that do not attest
 *        (test/support/policies.ts UNATTESTED_ALLOWED; in a shared database, the node that
 *        creates the network applies it, once).
 * It prints one JSON line on stdout with its URLs (and, with the manufacturer, its trust
 * material, and with attestation on the verifier's URL and trust and the firmware image's path,
 * name and version), then answers IPC requests:
 *   { type: 'mint', count, owner, declarations } -> { type: 'births', births, mintMs, export? }
 *        (manufacturer or both: mints, sells to `owner`; the declaration export file when
 *        declarations are 'installed' and the network is elsewhere, else installs it itself)
 *   { type: 'import', export }                   -> { type: 'imported' }   (network)
 *   { type: 'cpu' }                              -> { type: 'cpu', usage: process.cpuUsage() }
 *   { type: 'profile', action: 'start'|'stop', file } -> { type: 'profiled' }   (a V8 CPU profile
 *        of what runs between start and stop, written to `file`: BENCH_CPU_PROF_ONBOARDING)
 *   { type: 'live-ldevids' }                     -> { type: 'live-ldevids', counts }   (network or both:
 *        the unrevoked LDevIDs per device in the network's database, by device serial)
 *   { type: 'attestation-statuses' }             -> { type: 'attestation-statuses', statuses }
 *        (network or both: each device's attestation_status in the network's inventory, by
 *        device serial; null for a device that did not attest)
 *   { type: 'stop' }                             -> closes the roles and exits.
 * Minting happens here, before the parent starts its clock.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { NodeCrypto } from '../src/adapters/crypto/node-crypto.js';
import {
  openManufacturer,
  openNetwork,
  openVerifier,
  serveManufacturer,
  serveVerifier,
  startSystem,
} from '../src/app/system.js';
import { HttpVerifierClient } from '../src/adapters/http/verifier-client.js';
import type { EarKeyJwk } from '../src/roles/verifier/index.js';
import { UNATTESTED_ALLOWED } from '../test/support/policies.js';
import { silentLogger } from '../src/adapters/log/logger.js';
import { MemorySecureStore } from '../src/adapters/secure-store/memory-store.js';
import { toPem } from '../src/core/bytes.js';
import { systemClock } from '../src/core/ports.js';
import type { Party } from '../src/core/party.js';
import { decodeTrustFile, encodeTrustFile } from '../src/roles/shared/trust.js';
import type { Manufacturer } from '../src/roles/manufacturer/index.js';
import type { Network } from '../src/roles/network/index.js';

if (typeof process.send !== 'function') {
  process.stderr.write('bench/server.ts must be spawned with an IPC channel\n');
  process.exit(2);
}
const send = (m: unknown) =>
  new Promise<void>((resolve, reject) =>
    process.send!(m, undefined, {}, (e) => (e ? reject(e) : resolve())),
  );

const roles = process.env.BENCH_ROLES ?? 'both';
const attestation = (process.env.BENCH_ATTESTATION ?? 'on') !== 'off';
/** The model the bench mints, and releases firmware for. */
const MODEL = 'bench-sensor';
const databaseUrl = process.env.BENCH_DATABASE_URL || undefined;
const db = databaseUrl ? { databaseUrl } : {};
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-bench-'));
let manufacturer: Manufacturer | undefined;
let network: Network | undefined;
let closeAll: (() => Promise<void>) | undefined;
/** The inspector session of a profile of the onboarding run (BENCH_CPU_PROF_ONBOARDING). */
let profiler: Session | undefined;

async function shutdown(code: number): Promise<never> {
  try {
    await closeAll?.();
  } catch {
    // closing is best effort
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('disconnect', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/**
 * The bench's firmware: 64 KiB of random bytes in a file of the temporary directory, released
 * for the bench's model (the reference values the verifier appraises the devices against).
 */
async function releaseFirmware(m: Manufacturer): Promise<BenchFirmware> {
  const image = path.join(dataDir, 'firmware', `${MODEL}-1.0.0.img`);
  fs.mkdirSync(path.dirname(image), { recursive: true });
  const bytes = new Uint8Array(randomBytes(64 * 1024));
  fs.writeFileSync(image, bytes);
  const firmware = { image, name: `${MODEL}-firmware`, version: '1.0.0' };
  await m.firmware.release({
    model: MODEL,
    name: firmware.name,
    version: firmware.version,
    imageBytes: bytes,
  });
  return firmware;
}

/** What the parent needs to build a measured boot of the released image. */
interface BenchFirmware {
  image: string;
  name: string;
  version: string;
}

/** What a `network` child needs to ask the verifier. */
interface BenchVerifier {
  url: string;
  tlsCaPem: string;
  earKeyJwk: EarKeyJwk;
}

try {
  const ctx = () => ({ crypto: new NodeCrypto(), clock: systemClock, logger: silentLogger });
  const ready: Record<string, unknown> = { type: 'ready', pid: process.pid, attestation };
  if (roles === 'both') {
    const sys = await startSystem({ dataDir, logger: silentLogger, attestation, ...db });
    ({ manufacturer, network } = sys);
    closeAll = () => sys.close();
    Object.assign(ready, {
      registrarUrl: sys.registrarUrl,
      manufacturerUrl: sys.manufacturerUrl,
      networkOwner: sys.network.owner,
    });
    // startSystem hands the verifier every change of the manufacturer's reference values.
    if (attestation) ready.firmware = await releaseFirmware(sys.manufacturer);
    else await sys.network.authorization.apply(UNATTESTED_ALLOWED, 'bench --attestation off');
  } else if (roles === 'manufacturer') {
    const m = await openManufacturer(ctx(), dataDir, undefined, { create: true, ...db });
    manufacturer = m;
    closeAll = () => m.close();
    ready.manufacturerUrl = await serveManufacturer(m, dataDir, 0);
    if (attestation) {
      // The verifier in the manufacturer's process (two cores: no process of its own), given
      // the reference values after the release; it has no URL of the manufacturer to pull from.
      ready.firmware = await releaseFirmware(m);
      const v = await openVerifier(
        ctx(),
        dataDir,
        [{ party: m.party, root: m.pki.root.cert, endorsementsCa: m.pki.endorsementsCa.cert }],
        undefined,
        { create: true, ...db },
      );
      closeAll = async () => {
        await v.close();
        await m.close();
      };
      const url = await serveVerifier(v, 0);
      await v.provision(await m.firmware.referenceValues());
      const info = v.trustInfo();
      const trust: BenchVerifier = { url, tlsCaPem: info.tlsCaPem, earKeyJwk: info.earKeyJwk };
      ready.verifier = trust;
    }
  } else if (roles === 'network') {
    const trust = decodeTrustFile(
      new NodeCrypto(),
      JSON.parse(process.env.BENCH_MANUFACTURER_TRUST ?? 'null'),
      new Date(),
    );
    const create = process.env.BENCH_CREATE !== '0';
    let verifierClient: HttpVerifierClient | undefined;
    if (attestation) {
      const v = JSON.parse(process.env.BENCH_VERIFIER ?? 'null') as BenchVerifier | null;
      if (!v) throw new Error('BENCH_ATTESTATION=on: a network child needs BENCH_VERIFIER');
      verifierClient = new HttpVerifierClient(v.url, {
        tlsCaPem: v.tlsCaPem,
        earKey: v.earKeyJwk,
      });
    }
    const n = await openNetwork(ctx(), dataDir, [trust], undefined, {
      create,
      ...db,
      ...(verifierClient ? { verifier: verifierClient } : {}),
    });
    network = n;
    closeAll = () => n.close();
    // In a shared database the policy is the network's: the node that creates it applies it.
    if (!attestation && create)
      await n.authorization.apply(UNATTESTED_ALLOWED, 'bench --attestation off');
    Object.assign(ready, { registrarUrl: await n.serve(0), networkOwner: n.owner });
  } else {
    throw new Error(`BENCH_ROLES: ${roles}`);
  }
  if (manufacturer) {
    const bundle = manufacturer.trustBundle();
    Object.assign(ready, {
      trust: encodeTrustFile(bundle),
      idevidCaPem: toPem('CERTIFICATE', bundle.idevidCa.der),
      rootPem: toPem('CERTIFICATE', bundle.root.der),
    });
  }
  process.stdout.write(JSON.stringify(ready) + '\n');
} catch (e) {
  process.stderr.write(`bench server failed to start: ${(e as Error).stack ?? String(e)}\n`);
  await shutdown(1);
}

process.on(
  'message',
  (m: {
    type?: string;
    count?: number;
    declarations?: string;
    owner?: Party;
    export?: unknown;
    action?: string;
    file?: string;
  }) => {
    void (async () => {
      if (m.type === 'mint' && manufacturer) {
        const count = Math.max(0, Math.min(Number(m.count) | 0, 100_000));
        const owner = m.owner ?? network?.owner;
        if (!owner) throw new Error('mint: no owner to sell to');
        const started = performance.now();
        const births: string[] = [];
        for (let i = 0; i < count; i++) {
          const store = new MemorySecureStore();
          const birth = await manufacturer.factory.mint(store, { model: MODEL });
          await manufacturer.sell(birth.serialNumber, owner);
          births.push(Buffer.from((await store.read('birth'))!).toString('base64'));
        }
        let exported: unknown;
        if (m.declarations !== 'realtime') {
          // The network administrator installs the manufacturer's export file ahead of time.
          exported = await manufacturer.declarations.exportFor(owner.id);
          if (network) {
            await network.declarations.importExport(exported);
            exported = undefined;
          }
        }
        await send({
          type: 'births',
          births,
          mintMs: performance.now() - started,
          ...(exported === undefined ? {} : { export: exported }),
        });
      } else if (m.type === 'import' && network) {
        await network.declarations.importExport(m.export);
        await send({ type: 'imported' });
      } else if (m.type === 'live-ldevids' && network) {
        const rows = await network.db
          .selectFrom('net_certificates')
          .select((eb) => ['device_serial', eb.fn.countAll<number>().as('n')])
          .where('revoked_at', 'is', null)
          .groupBy('device_serial')
          .execute();
        await send({
          type: 'live-ldevids',
          counts: Object.fromEntries(rows.map((r) => [r.device_serial, Number(r.n)])),
        });
      } else if (m.type === 'attestation-statuses' && network) {
        const rows = await network.db
          .selectFrom('net_devices')
          .select(['serial', 'attestation_status'])
          .execute();
        await send({
          type: 'attestation-statuses',
          statuses: Object.fromEntries(rows.map((r) => [r.serial, r.attestation_status])),
        });
      } else if (m.type === 'profile') {
        if (m.action === 'start') {
          profiler ??= new Session();
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
          await profiler.post('Profiler.start');
        } else if (profiler && m.file) {
          const { profile } = await profiler.post('Profiler.stop');
          fs.writeFileSync(m.file, JSON.stringify(profile));
          profiler.disconnect();
        }
        await send({ type: 'profiled' });
      } else if (m.type === 'cpu') {
        await send({ type: 'cpu', usage: process.cpuUsage() });
      } else if (m.type === 'stop') {
        await shutdown(0);
      } else {
        throw new Error(`${roles}: cannot ${m.type}`);
      }
    })().catch(async (e: unknown) => {
      process.stderr.write(`bench server: ${(e as Error).stack ?? String(e)}\n`);
      await send({ type: 'error', message: String((e as Error).message ?? e) }).catch(
        () => undefined,
      );
      await shutdown(1);
    });
  },
);
