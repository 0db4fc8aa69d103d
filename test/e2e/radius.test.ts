/**
 * 802.1X against real FreeRADIUS (report section 5.3, docs/RADIUS.md): the network starts
 * FreeRADIUS reading its own database's view, and eapol_test (hostap's RADIUS client)
 * authenticates with EAP-TLS. A device onboarded by Airlock is admitted with its segment's
 * VLAN; a certificate of another CA, one presented under another device's name, and one of
 * the domain CA for a device never onboarded are refused; a renewed device's old certificate
 * stops working at once, and a changed VLAN is live at the next authentication, with no reload.
 * Decommissioning (the CLI) shuts the device out at its next authentication and lists its
 * certificate in the CRL; onboarded again, its new certificate works and the old one does not.
 * Needs root, freeradius and eapol_test: elsewhere it says `skipped: <reason>`; CI installs them.
 */
import { execFile, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { movedTo } from '../support/policies.js';
import {
  eapolTest,
  freeUdpPort,
  onboardedDevice,
  radiusSkipReason,
  type EapFiles,
} from '../support/radius.js';
import { errorCode } from '../support/errors.js';
import type { FreeRadius } from '../../src/adapters/radius/freeradius.js';
import { generateP256Key, NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { exportPkcs8 } from '../../src/adapters/crypto/node-crypto.js';
import { issueCertificate } from '../../src/protocols/x509/issue.js';
import { caProfile, ldevidProfile } from '../../src/protocols/x509/profiles.js';
import { toPem } from '../../src/core/bytes.js';
import { keyStoreOf } from '../../src/roles/shared/context.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const skip = radiusSkipReason();
if (skip) console.log(`skipped: ${skip}`);

const SECRET = 'a-radius-secret-of-the-test';

describe.skipIf(skip !== undefined)('802.1X through FreeRADIUS, EAP-TLS with eapol_test', () => {
  let sys: TestSystem;
  let radius: FreeRadius;
  let port: number;
  let dir: string;
  beforeAll(async () => {
    sys = await startTestSystem();
    dir = path.join(sys.dir, 'eap');
    fs.mkdirSync(dir, { mode: 0o700 });
    port = await freeUdpPort();
    radius = await sys.network.startRadius({
      dir: path.join(sys.dir, 'raddb'),
      listen: { address: '127.0.0.1', port },
      clients: ['127.0.0.1'],
      secret: SECRET,
      vlans: { default: 101, quarantine: 999 },
    });
  }, 60_000);
  afterAll(async () => {
    await radius?.stop();
    await sys?.close();
  });

  const authenticate = (files: EapFiles) => eapolTest({ dir, port, secret: SECRET, ...files });
  /** An onboarded device's supplicant files, from its secure store. */
  const onboarded = () => onboardedDevice(sys, dir);

  it("admits an onboarded device with its segment's VLAN, and writes its key 0600", async () => {
    const d = await onboarded();
    expect((await sys.network.inventory.device(d.serial)).segment).toBe('default');
    expect(fs.statSync(d.files.key).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(d.files.key)).mode & 0o777).toBe(0o700);
    const r = await authenticate(d.files);
    expect(r.ok).toBe(true);
    expect(r.vlan).toBe('101');
    // What FreeRADIUS read: the view, one row for the device, its current certificate.
    const row = (await sys.network.store.run((x) => x.radius.devices())).find(
      (x) => x.serial === d.serial,
    );
    expect(row).toMatchObject({ vlan: 101 });
  });

  it("refuses a certificate of another CA, one under another device's name, and one for a device never onboarded", async () => {
    const a = await onboarded();
    const b = await onboarded();
    // Device A's certificate presented as device B.
    expect((await authenticate({ ...a.files, identity: b.serial })).ok).toBe(false);

    const crypto = new NodeCrypto();
    const now = Date.now();
    const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000) };
    const write = (name: string, certs: Uint8Array[], key: Uint8Array) => {
      const base = path.join(dir, name);
      fs.writeFileSync(`${base}.pem`, certs.map((c) => toPem('CERTIFICATE', c)).join(''));
      fs.writeFileSync(`${base}.key`, toPem('PRIVATE KEY', key), { mode: 0o600 });
      return { certificate: `${base}.pem`, key: `${base}.key` };
    };

    // Another CA, the same name as device A.
    const otherCaKey = generateP256Key();
    const otherCa = issueCertificate(
      crypto,
      caProfile({ name: 'Impostor CA', ...validity, pathLength: 0 }),
      otherCaKey.spki,
      { key: otherCaKey },
    );
    const impostorKey = generateP256Key();
    const impostor = issueCertificate(
      crypto,
      ldevidProfile({ serialNumber: a.serial, domain: 'Impostor', ...validity }),
      impostorKey.spki,
      { key: otherCaKey, cert: otherCa },
    );
    const foreign = write('impostor', [impostor.der, otherCa.der], exportPkcs8(impostorKey));
    expect((await authenticate({ ...a.files, ...foreign })).ok).toBe(false);

    // The domain CA's own certificate for a serial number the network never onboarded.
    const strayKey = generateP256Key();
    const stray = sys.network.credentials.signLdevid('never-onboarded-1', strayKey.spki);
    const strayFiles = write('stray', [stray.der], exportPkcs8(strayKey));
    expect(
      (await authenticate({ ...a.files, ...strayFiles, identity: 'never-onboarded-1' })).ok,
    ).toBe(false);
    // Device A itself still gets in: the refusals were theirs.
    expect((await authenticate(a.files)).ok).toBe(true);
  });

  it('a renewed device: the new certificate works and the old one fails at once; a VLAN changed is live, with no reload', async () => {
    const d = await onboarded();
    const old = await d.agent.eapTlsFiles(path.join(dir, `${d.serial}-old`));
    await d.agent.renew(sys.registrarUrl);
    const renewed = await d.agent.eapTlsFiles(path.join(dir, `${d.serial}-new`));
    expect(fs.readFileSync(renewed.certificate, 'utf8')).not.toBe(
      fs.readFileSync(old.certificate, 'utf8'),
    );
    expect((await authenticate(old)).ok).toBe(false);
    expect((await authenticate(renewed)).ok).toBe(true);

    const pid = radius.pid;
    await sys.network.store.transaction((r) => r.radius.setVlans({ default: 202 }));
    const moved = await authenticate(renewed);
    expect(moved).toMatchObject({ ok: true, vlan: '202' });
    expect(radius.pid).toBe(pid);
  });

  it("moved to another segment by a policy applied: its next authentication carries that segment's VLAN", async () => {
    await sys.network.store.transaction((r) =>
      r.radius.setVlans({ default: 101, video: 303, quarantine: 999 }),
    );
    const d = await onboarded();
    expect((await authenticate(d.files)).vlan).toBe('101');
    await sys.network.authorization.apply(movedTo(d.serial, 'video'));
    expect((await sys.network.inventory.device(d.serial)).segment).toBe('video');
    expect(await authenticate(d.files)).toMatchObject({ ok: true, vlan: '303' });
  });

  it('decommissioned (the CLI): refused at its next authentication, its certificate in the CRL; onboarded again, only the new certificate works', async () => {
    const d = await onboarded();
    expect((await authenticate(d.files)).ok).toBe(true);
    const { stdout } = await run(process.execPath, [
      bin,
      'network',
      'decommission',
      d.serial,
      '--reason',
      'sold for parts',
      '--data-dir',
      path.join(sys.dir, 'data'),
    ]);
    expect(stdout).toContain(`device ${d.serial} decommissioned`);
    expect((await authenticate(d.files)).ok).toBe(false);
    const record = await sys.network.inventory.device(d.serial);
    expect(record.state).toBe('decommissioned');
    const certs = await sys.network.store.run((r) => r.credentials.certificatesOf(d.serial));
    expect(certs.every((c) => c.revocation_reason === 'cessationOfOperation')).toBe(true);
    // The CRL, as openssl reads it, lists them.
    const crlFile = path.join(dir, 'crl.der');
    fs.writeFileSync(crlFile, await sys.network.credentials.crl());
    const listed = (
      await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text'])
    ).stdout.toLowerCase();
    for (const c of certs) expect(listed).toContain(`serial number: ${c.serial}`);
    // A device it does not know: exit 1, ERR_DEVICE_NOT_FOUND.
    const unknown = await run(process.execPath, [
      bin,
      'network',
      'decommission',
      'no-such-device',
      '--data-dir',
      path.join(sys.dir, 'data'),
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(unknown).toMatchObject({ code: 1 });
    expect((unknown as { stderr: string }).stderr).toContain('ERR_DEVICE_NOT_FOUND');

    // Onboarded again from scratch: a new certificate, which works; the old one does not.
    await d.agent.factoryReset();
    await d.agent.onboard(sys.registrarUrl);
    const again = await d.agent.eapTlsFiles(path.join(dir, `${d.serial}-again`));
    expect((await authenticate(again)).ok).toBe(true);
    expect((await authenticate(d.files)).ok).toBe(false);
  });

  it('`airlock network serve --radius FILE` runs FreeRADIUS beside the registrar, which answers, and stops it on SIGTERM', async () => {
    const data = path.join(sys.dir, 'data');
    const trust = path.join(sys.dir, 'maker-trust.json');
    fs.writeFileSync(
      trust,
      (await run(process.execPath, [bin, 'manufacturer', 'trust-bundle', '--data-dir', data]))
        .stdout,
    );
    const udp = await freeUdpPort();
    const settings = path.join(sys.dir, 'radius.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        listen: { address: '127.0.0.1', port: udp },
        clients: ['127.0.0.1'],
        vlans: { default: 101 },
      }),
    );
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const tcp = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const { out, pid, stop } = await airlockWithRadius(
      [
        'network',
        'serve',
        '--trust',
        trust,
        '--data-dir',
        path.join(sys.dir, 'serve'),
        '--port',
        String(tcp),
        '--radius',
        settings,
      ],
      /registrar for/,
      udp,
    );
    expect(pid, out).toBeGreaterThan(0);
    // It answers: a device of another network (this test system's) is rejected, not ignored.
    const stranger = await onboarded();
    const r = await eapolTest({ dir, port: udp, secret: SECRET, ...stranger.files });
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/code=3 \(Access-Reject\)/);
    expect(await stop()).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('`airlock up` runs FreeRADIUS where it is installed, with the shared secret of AIRLOCK_RADIUS_SECRET, and stops it on SIGTERM', async () => {
    const udp = await freeUdpPort();
    const { out, pid, stop } = await airlockWithRadius(
      [
        'up',
        '--data-dir',
        path.join(sys.dir, 'up'),
        '--manufacturer-port',
        '0',
        '--network-port',
        '0',
        '--verifier-port',
        '0',
        '--radius-port',
        String(udp),
      ],
      /Serving\./,
      udp,
    );
    expect(out).toMatch(/VLANs default 101, quarantine 999/);
    expect(pid, out).toBeGreaterThan(0);
    expect(out).not.toMatch(/random one for this run/);
    // It answers with the secret it was given: a device of another network is rejected.
    const stranger = await onboarded();
    const r = await eapolTest({ dir, port: udp, secret: SECRET, ...stranger.files });
    expect(r.output).toMatch(/code=3 \(Access-Reject\)/);
    expect(await stop()).toBe(0);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('FreeRADIUS does not outlive the process that started it, when that process exits without stopping it', async () => {
    // What a child process needs to start one: the network's server certificate, key and CA.
    const settings = path.join(sys.dir, 'orphan.json');
    fs.writeFileSync(
      settings,
      JSON.stringify({
        dir: path.join(sys.dir, 'raddb-orphan'),
        listen: { address: '127.0.0.1', port: await freeUdpPort() },
        clients: ['127.0.0.1'],
        secret: SECRET,
        certificateChainPem:
          toPem('CERTIFICATE', sys.network.pki.radius.cert.der) + sys.network.domainCaPem(),
        keyPkcs8: Buffer.from(
          await keyStoreOf(sys.network.ctx).exportPkcs8(sys.network.pki.radius.key),
        ).toString('base64'),
        caPem: sys.network.domainCaPem(),
        database: { sqlite: sys.network.databaseFile },
      }),
      { mode: 0o600 },
    );
    const adapter = fileURLToPath(
      new URL('../../src/adapters/radius/freeradius.ts', import.meta.url),
    );
    const script = `const { FreeRadius } = await import(${JSON.stringify(adapter)});
const o = JSON.parse(require('node:fs').readFileSync(${JSON.stringify(settings)}, 'utf8'));
const r = await FreeRadius.start({ ...o, keyPkcs8: Buffer.from(o.keyPkcs8, 'base64') });
process.stdout.write(String(r.pid));
process.exit(7);`;
    const file = path.join(sys.dir, 'orphan.mjs');
    fs.writeFileSync(file, script.replace("require('node:fs')", '(await import("node:fs"))'));
    const child = await run(process.execPath, ['--import', 'tsx', file]).catch(
      (e: { code?: number; stdout?: string }) => e,
    );
    expect((child as { code?: number }).code).toBe(7);
    const pid = Number((child as { stdout?: string }).stdout);
    expect(pid).toBeGreaterThan(0);
    const deadline = Date.now() + 5_000;
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });

  it('refuses settings it cannot run: a short secret, a VLAN out of range, a client or address that is not one', async () => {
    const base = { dir: path.join(sys.dir, 'raddb-bad'), clients: ['127.0.0.1'] };
    expect(
      await errorCode(() =>
        sys.network.startRadius({ ...base, secret: 'short', vlans: { default: 10 } }),
      ),
    ).toBe('ERR_CONFIG');
    expect(
      await errorCode(() =>
        sys.network.startRadius({ ...base, secret: SECRET, vlans: { default: 4095 } }),
      ),
    ).toBe('ERR_CONFIG');
    // What is written into FreeRADIUS's configuration unquoted is checked first; the VLANs
    // recorded stay as they were.
    const vlansBefore = await sys.network.db.selectFrom('net_segment_vlans').selectAll().execute();
    for (const bad of [
      { clients: ['127.0.0.1 }\nclient all { ipaddr = 0.0.0.0/0'] },
      { clients: [] },
      { listen: { address: '127.0.0.1\n', port: 1812 } },
      { listen: { address: '127.0.0.1', port: 70000 } },
    ])
      expect(
        await errorCode(() =>
          sys.network.startRadius({ ...base, secret: SECRET, vlans: { default: 10 }, ...bad }),
        ),
      ).toBe('ERR_CONFIG');
    expect(await sys.network.db.selectFrom('net_segment_vlans').selectAll().execute()).toEqual(
      vlansBefore,
    );
  });
});

/**
 * The CLI with `args`, AIRLOCK_RADIUS_SECRET set, until its output matches `ready`: what it
 * printed, the pid of the FreeRADIUS it says serves at `udp`, and how to stop it (SIGTERM; its
 * exit code).
 */
async function airlockWithRadius(args: string[], ready: RegExp, udp: number) {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, AIRLOCK_RADIUS_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const deadline = Date.now() + 60_000;
  while (!ready.test(out) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  const pid = Number(
    new RegExp(
      `FreeRADIUS \\(802\\.1X, EAP-TLS\\) serving at 127\\.0\\.0\\.1:${udp} \\(pid (\\d+)\\)`,
    ).exec(out)?.[1],
  );
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  return { out, pid, stop };
}
