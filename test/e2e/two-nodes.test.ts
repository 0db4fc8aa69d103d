/**
 * Several network nodes on one PostgreSQL database (a real server, test/support/postgres-server.ts):
 * two registrars, each its own process's objects and its own HTTPS port, share one fleet.
 * Nothing is decided in a process's memory:
 *
 * - the same device (two copies of its birth credentials) onboarding through both nodes at
 *   once ends with exactly one live LDevID, held by the copy that reports success, if any;
 * - devices spread over both nodes all onboard, each with exactly one live LDevID;
 * - a device onboarded through one node renews through the other, and the LDevID revoked
 *   there is in the CRL the first node serves at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { X509Certificate, X509Crl } from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { fileMeasuredBoot } from '../../src/adapters/device/measured-boot.js';
import { HttpVerifierClient } from '../../src/adapters/http/verifier-client.js';
import { FileSecureStore } from '../../src/adapters/secure-store/file-store.js';
import { openNetwork } from '../../src/app/system.js';
import { DeviceAgent } from '../../src/roles/device/agent.js';
import type { Network } from '../../src/roles/network/index.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { bareSerial, getBinary } from '../support/wire.js';
import { createDatabase, startPostgres, type PostgresServer } from '../support/postgres-server.js';

const started = await startPostgres();
const server: PostgresServer | undefined = 'skipped' in started ? undefined : started;
if ('skipped' in started) console.log(`skipped: ${started.skipped}`);

let sys: TestSystem;
let nodeB: Network;
let urlA: string;
let urlB: string;

beforeAll(async () => {
  if (!server) return;
  const databaseUrl = await createDatabase(server.url, 'two_nodes');
  sys = await startTestSystem({ databaseUrl });
  urlA = sys.registrarUrl;
  // The second node: its own objects and port, the same database and key-encryption key,
  // asking the same verification service.
  const info = sys.verifier!.trustInfo();
  const verifier = new HttpVerifierClient(sys.verifierUrl!, {
    tlsCaPem: info.tlsCaPem,
    earKey: info.earKeyJwk,
  });
  nodeB = await openNetwork(
    { ...sys.ctx, crypto: new NodeCrypto() },
    path.join(sys.dir, 'data'),
    [sys.manufacturer.trustBundle()],
    undefined,
    { databaseUrl, verifier },
  );
  urlB = await nodeB.serve(0);
}, 60_000);

afterAll(async () => {
  await nodeB?.close();
  await sys?.close();
  await server?.stop();
});

/** The unrevoked LDevIDs of a device, as the shared database holds them. */
async function liveLdevids(serial: string): Promise<string[]> {
  const rows = await sys.network.db
    .selectFrom('net_certificates')
    .select('serial')
    .where('device_serial', '=', serial)
    .where('revoked_at', 'is', null)
    .execute();
  return rows.map((r) => r.serial);
}

async function revokedIn(base: string): Promise<string[]> {
  const res = await getBinary(base, '/.well-known/airlock/crl');
  expect(res.status).toBe(200);
  const crl = new X509Crl(new Uint8Array(res.body));
  expect(
    await crl.verify({
      publicKey: new X509Certificate(sys.network.pki.domainCa.cert.der as Uint8Array<ArrayBuffer>),
    }),
  ).toBe(true);
  return crl.entries.map((e) => bareSerial(e.serialNumber));
}

describe.skipIf(!server)('two network nodes on one PostgreSQL', () => {
  it('serves one network: the same owner, domain CA and registrar certificate on both nodes', () => {
    expect(nodeB.owner).toEqual(sys.network.owner);
    expect(nodeB.pki.domainCa.cert.der).toEqual(sys.network.pki.domainCa.cert.der);
    expect(nodeB.pki.registrar.cert.der).toEqual(sys.network.pki.registrar.cert.der);
  });

  it('onboards the same device through both nodes at once to exactly one live LDevID', async () => {
    for (let round = 0; round < 4; round++) {
      const { agent, serial, storeDir, firmware } = await sys.newDevice();
      // A second copy of the device: the same birth credentials in another secure store, the
      // same firmware (it attests as the device does).
      const copyDir = `${storeDir}-copy`;
      fs.cpSync(storeDir, copyDir, { recursive: true });
      const copy = new DeviceAgent(await FileSecureStore.open(copyDir), sys.ctx, {
        measuredBoot: fileMeasuredBoot(firmware),
      });
      const outcomes = await Promise.allSettled([agent.onboard(urlA), copy.onboard(urlB)]);
      const live = await liveLdevids(serial);
      expect(live).toHaveLength(1);
      const succeeded = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      // Overlapping, at most one succeeds. On a loaded machine one may end before the other
      // begins: then both succeed, one after the other, and the later one's LDevID supersedes
      // the earlier's. Either way exactly one success holds the one live LDevID.
      if (succeeded.length > 0)
        expect(succeeded.filter((s) => s.ldevidSerial === live[0])).toHaveLength(1);
      for (const [i, a] of [agent, copy].entries()) {
        const creds = await a.onboardingCredentials();
        // A copy that failed stored nothing.
        if (outcomes[i]!.status !== 'fulfilled') expect(creds).toBeUndefined();
      }
    }
  });

  it('onboards devices spread over both nodes, each with exactly one live LDevID', async () => {
    const devices = await Promise.all(Array.from({ length: 24 }, () => sys.newDevice()));
    const reports = await Promise.all(
      devices.map((d, i) => d.agent.onboard(i % 2 === 0 ? urlA : urlB)),
    );
    expect(new Set(reports.map((r) => r.ldevidSerial)).size).toBe(devices.length);
    for (const [i, d] of devices.entries())
      expect(await liveLdevids(d.serial)).toEqual([reports[i]!.ldevidSerial]);
    const states = await Promise.all(devices.map((d) => nodeB.inventory.device(d.serial)));
    expect(states.every((s) => s.state === 'onboarded' && s.onboardings === 1)).toBe(true);
  });

  it('renews one LDevID through both nodes at once: one renewal wins, one LDevID stays live', async () => {
    for (let round = 0; round < 4; round++) {
      const { agent, serial, storeDir, firmware } = await sys.newDevice();
      const onboarded = await agent.onboard(urlA);
      // A clone of the onboarded device: the same LDevID and key, renewing through the other node.
      const copyDir = `${storeDir}-clone`;
      fs.cpSync(storeDir, copyDir, { recursive: true });
      const clone = new DeviceAgent(await FileSecureStore.open(copyDir), sys.ctx, {
        measuredBoot: fileMeasuredBoot(firmware),
      });
      const outcomes = await Promise.allSettled([agent.renew(urlA), clone.renew(urlB)]);
      const won = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      expect(won).toHaveLength(1);
      expect(won[0]!.previousSerial).toBe(onboarded.ldevidSerial);
      expect(await liveLdevids(serial)).toEqual([won[0]!.ldevidSerial]);
      const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as { code?: string }).code).toBe('ERR_CERT_REVOKED');
    }
  });

  it('puts a revocation made through one node in the CRL the other serves at once', async () => {
    const { agent, serial } = await sys.newDevice();
    const first = await agent.onboard(urlA);
    expect(await revokedIn(urlA)).not.toContain(bareSerial(first.ldevidSerial));
    expect(await revokedIn(urlB)).not.toContain(bareSerial(first.ldevidSerial));
    // Renewal through node B revokes the LDevID node A issued (superseded).
    const renewed = await agent.renew(urlB);
    expect(renewed.previousSerial).toBe(first.ldevidSerial);
    expect(await liveLdevids(serial)).toEqual([renewed.ldevidSerial]);
    expect(await revokedIn(urlA)).toContain(bareSerial(first.ldevidSerial));
    expect(await revokedIn(urlB)).toContain(bareSerial(first.ldevidSerial));
    // And back through node A: B's LDevID is revoked, in B's CRL at once.
    const again = await agent.renew(urlA);
    expect(await revokedIn(urlB)).toContain(bareSerial(renewed.ldevidSerial));
    expect(await liveLdevids(serial)).toEqual([again.ldevidSerial]);
  });
});
