/**
 * The CLI as an operator meets it: no command creates keys as a side effect, refused commands
 * leave nothing behind, bad values are typed errors with hints, minting names the URL the
 * manufacturer serves at, and `device export` writes files openssl can use.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNATTESTED_ALLOWED } from '../support/policies.js';

const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-cli-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function airlock(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: root,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

let n = 0;
/** A path under the test's directory that does not exist yet. */
function fresh(name: string): string {
  return path.join(root, `${name}-${n++}`);
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function expectRefused(r: Outcome, hint: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/ERR_CONFIG/);
  expect(r.stderr).toMatch(/hint: /);
  expect(r.stderr).toMatch(hint);
}

describe('no command creates keys as a side effect', () => {
  it.each([
    ['network devices', (d: string) => ['network', 'devices', '--data-dir', d], /init|airlock up/],
    [
      'network import-declarations',
      (d: string) => ['network', 'import-declarations', bin, '--data-dir', d],
      /init|airlock up/,
    ],
    [
      'network export-declarations',
      (d: string) => ['network', 'export-declarations', '--data-dir', d],
      /init|airlock up/,
    ],
    [
      'manufacturer trust-bundle',
      (d: string) => ['manufacturer', 'trust-bundle', '--data-dir', d],
      /manufacturer init/,
    ],
    [
      'manufacturer mint',
      (d: string) => [
        'manufacturer',
        'mint',
        '--store',
        path.join(d, '..', `store-of-${path.basename(d)}`),
        '--data-dir',
        d,
      ],
      /manufacturer init/,
    ],
    [
      'manufacturer mint --sell',
      (d: string) => [
        'manufacturer',
        'mint',
        '--sell',
        '--store',
        path.join(d, '..', `store-of-${path.basename(d)}`),
        '--data-dir',
        d,
      ],
      /init|airlock up/,
    ],
  ])(
    '%s on a directory with no role is refused and leaves nothing behind',
    async (_name, args, hint) => {
      const dir = fresh('norole');
      const r = await airlock(...args(dir));
      expectRefused(r, hint);
      expect(fs.existsSync(dir)).toBe(false);
      expect(fs.existsSync(path.join(root, `store-of-${path.basename(dir)}`))).toBe(false);
    },
  );

  it('on an existing empty directory, creates no keys in it', async () => {
    const dir = fresh('empty');
    fs.mkdirSync(dir);
    expectRefused(
      await airlock('manufacturer', 'trust-bundle', '--data-dir', dir),
      /manufacturer init/,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('manufacturer init creates the keys, says so on stderr, and refuses to run twice', async () => {
    const dir = fresh('init');
    const r = await airlock('manufacturer', 'init', '--data-dir', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/creating the manufacturer/);
    expect(fs.existsSync(path.join(dir, 'manufacturer.db'))).toBe(true);
    const bundle = await airlock('manufacturer', 'trust-bundle', '--data-dir', dir);
    expect(bundle.code).toBe(0);
    expect(bundle.stderr).not.toMatch(/creating/);
    expect(JSON.parse(bundle.stdout)).toHaveProperty('root');
    expect((await airlock('manufacturer', 'init', '--data-dir', dir)).code).toBe(1);
  });

  it('network init creates the network role and says so', async () => {
    const dir = fresh('netinit');
    const r = await airlock('network', 'init', '--data-dir', dir, '--owner', 'Doe Family');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/creating the network/);
    expect(r.stdout).toContain('Doe Family');
    expect(fs.existsSync(path.join(dir, 'network.db'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'manufacturer.db'))).toBe(false);
  });
});

describe('bad values on the command line', () => {
  it.each([
    ['a port out of range', ['up', '--manufacturer-port', '70000'], /--manufacturer-port/],
    ['a port that is not a number', ['manufacturer', 'serve', '--port', 'http'], /--port/],
    [
      'a registrar that is not a URL',
      ['device', 'onboard', '--store', '@store', '--registrar', 'not a url'],
      /--registrar/,
    ],
    [
      'a public URL that is not https',
      ['manufacturer', 'mint', '--store', '@store', '--public-url', 'http://127.0.0.1:1'],
      /--public-url/,
    ],
    [
      'a control character in an owner name',
      ['network', 'init', '--owner', 'Doe\u001b[2J'],
      /--owner/,
    ],
    [
      'a bidi override in an owner name',
      ['network', 'init', '--owner', 'Doe \u202eylimaF'],
      /--owner/,
    ],
    ['an owner name too long', ['network', 'init', '--owner', 'x'.repeat(129)], /--owner/],
    [
      'a buyer name with a newline',
      ['manufacturer', 'mint', '--store', '@store', '--sell-to', 'A'.repeat(43), '--buyer', 'a\nb'],
      /--buyer/,
    ],
  ])('%s: ERR_CONFIG with a hint, exit 1, no data directory', async (_name, args, hint) => {
    const dir = fresh('bad');
    const store = fresh('badstore');
    fs.mkdirSync(store);
    const r = await airlock(
      ...args.map((a) => (a === '@store' ? store : a)),
      ...(args[0] === 'device' ? [] : ['--data-dir', dir]),
    );
    expectRefused(r, hint);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('a path that is not a directory', async () => {
    const file = path.join(root, 'a-file');
    fs.writeFileSync(file, 'x');
    expectRefused(
      await airlock(
        'up',
        '--data-dir',
        file,
        '--manufacturer-port',
        '0',
        '--network-port',
        '0',
        '--verifier-port',
        '0',
      ),
      /--data-dir/,
    );
    expectRefused(await airlock('device', 'status', '--store', file), /--store/);
    expectRefused(
      await airlock('network', 'init', '--data-dir', path.join(file, 'below')),
      /--data-dir/,
    );
  });
});

describe('a running system', () => {
  let up: ChildProcess;
  let dataDir: string;
  let manufacturerPort: number;
  let networkPort: number;
  let upStderr = '';
  let upStdout = '';

  beforeAll(async () => {
    dataDir = fresh('up');
    manufacturerPort = await freePort();
    networkPort = await freePort();
    up = spawn(
      process.execPath,
      [
        bin,
        'up',
        '--data-dir',
        dataDir,
        '--manufacturer-port',
        String(manufacturerPort),
        '--network-port',
        String(networkPort),
        '--verifier-port',
        '0',
        // FreeRADIUS by `up` is test/e2e/radius.test.ts's.
        '--radius',
        'off',
        '--dpp-port',
        '0',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    up.stderr!.on('data', (d: Buffer) => (upStderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      up.stdout!.on('data', (d: Buffer) => {
        upStdout += d.toString();
        if (upStdout.includes('Serving.')) resolve();
      });
      up.once('exit', (code) => reject(new Error(`up exited ${code}: ${upStderr}`)));
    });
  });

  afterAll(async () => {
    if (up.exitCode === null) {
      const exited = new Promise((resolve) => up.once('exit', resolve));
      up.kill('SIGTERM');
      await exited;
    }
  });

  it('a device sold to the network, added by its URI, enrolls with the DPP Configurator `up --dpp-port` runs', async () => {
    const dpp = /dpp +127\.0\.0\.1:(\d+) .*the network's URI: (DPP:\S+)/.exec(upStdout);
    expect(dpp, upStdout).not.toBeNull();
    const [, port, networkUri] = dpp!;
    const store = fresh('dpp-dev');
    const minted = await airlock(
      'manufacturer',
      'mint',
      '--sell',
      '--store',
      store,
      '--data-dir',
      dataDir,
    );
    expect(minted.code, minted.stderr).toBe(0);
    const { serialNumber, dppUri } = JSON.parse(minted.stdout) as {
      serialNumber: string;
      dppUri: string;
    };
    const added = await airlock(
      'dpp',
      'onboard',
      dppUri,
      '--akm',
      'sae',
      '--data-dir',
      dataDir,
      '--json',
    );
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({
      serial: serialNumber,
      akm: 'sae',
      configured: false,
    });
    const enrolled = await airlock(
      'dpp',
      'enroll',
      networkUri!,
      '--store',
      store,
      '--host',
      '127.0.0.1',
      '--port',
      port!,
      '--json',
    );
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(JSON.parse(enrolled.stdout)).toMatchObject({
      kind: 'sta-sae',
      mutual: true,
      role: 'initiator',
    });
  });

  it('up said on stderr that it created the keys', () => {
    expect(upStderr).toMatch(/creating the manufacturer/);
    expect(upStderr).toMatch(/creating the network/);
  });

  it('mints devices whose IDevID names the port the manufacturer serves at', async () => {
    const r = await airlock(
      'manufacturer',
      'mint',
      '--sell',
      '--store',
      fresh('dev'),
      '--data-dir',
      dataDir,
    );
    expect(r.code).toBe(0);
    const minted = JSON.parse(r.stdout) as { masaUrl: string };
    expect(new URL(minted.masaUrl).port).toBe(String(manufacturerPort));
  });

  it('refuses a port in use, naming the option that changes it, and leaves no data directory', async () => {
    const dir = fresh('busy');
    const r = await airlock(
      'up',
      '--data-dir',
      dir,
      '--manufacturer-port',
      String(manufacturerPort),
      '--network-port',
      '0',
      '--verifier-port',
      '0',
    );
    expectRefused(r, /--manufacturer-port/);
    expect(fs.existsSync(dir)).toBe(false);
    const r2 = await airlock(
      'up',
      '--data-dir',
      dir,
      '--manufacturer-port',
      '0',
      '--network-port',
      String(networkPort),
      '--verifier-port',
      '0',
    );
    expectRefused(r2, /--network-port/);
    expect(fs.existsSync(dir)).toBe(false);
    const r3 = await airlock(
      'manufacturer',
      'serve',
      '--data-dir',
      dir,
      '--port',
      String(manufacturerPort),
    );
    expectRefused(r3, /--port/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('firmware release, mint, and a device that measures its image attests; a changed image is refused', async () => {
    const fwDir = fresh('fw');
    fs.mkdirSync(fwDir);
    const image = path.join(fwDir, 'fw.bin');
    fs.writeFileSync(image, Buffer.from('firmware image of cli-m1, version 1.0.0\n'.repeat(100)));
    const released = await airlock(
      'manufacturer',
      'firmware',
      'release',
      '--model',
      'cli-m1',
      '--version',
      '1.0.0',
      '--image',
      image,
      '--data-dir',
      dataDir,
    );
    // The verifier `up` runs is handed the new reference values at once.
    expect(released.stderr).toMatch(/the verifier holds the new reference values/);
    expect(released.code).toBe(0);
    const onboard = (store: string, img: string) =>
      airlock(
        'device',
        'onboard',
        '--store',
        store,
        '--registrar',
        `https://127.0.0.1:${networkPort}`,
        '--firmware-image',
        img,
        '--json',
      );
    const store = fresh('att');
    const minted = await airlock(
      'manufacturer',
      'mint',
      '--sell',
      '--model',
      'cli-m1',
      '--store',
      store,
      '--data-dir',
      dataDir,
    );
    const serial = (JSON.parse(minted.stdout) as { serialNumber: string }).serialNumber;
    const ok = await onboard(store, image);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect((JSON.parse(ok.stdout) as { steps: Array<{ step: number }> }).steps[0]!.step).toBe(1);
    const events = await airlock('network', 'devices', '--events', serial, '--data-dir', dataDir);
    expect(events.stdout).toMatch(/^attestation: affirming/m);
    expect(events.stdout).toMatch(/^policy: allow, segment \w+, rule /m);
    expect(events.stdout).toMatch(/^attestation result \(EAR\): eyJ/m);

    const changed = path.join(path.dirname(image), 'fw-changed.bin');
    const bytes = fs.readFileSync(image);
    bytes[7] = bytes[7]! ^ 1;
    fs.writeFileSync(changed, bytes);
    const refused = await onboard(store, changed);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ERR_ATTESTATION_REFUSED/);
  });

  it('device export writes PEM files openssl uses, says keys left the store, and refuses a non-empty directory', async () => {
    const store = fresh('exp');
    expect(
      (await airlock('manufacturer', 'mint', '--sell', '--store', store, '--data-dir', dataDir))
        .code,
    ).toBe(0);
    const before = fresh('out');
    const birthOnly = await airlock('device', 'export', '--store', store, '--out', before);
    expect(birthOnly.code).toBe(0);
    expect(fs.readdirSync(before).sort()).toEqual(['idevid.key', 'idevid.pem']);

    // `airlock device onboard` measures no firmware: the administrator admits devices without attestation.
    const policy = path.join(root, 'unattested-allowed.yaml');
    fs.writeFileSync(policy, UNATTESTED_ALLOWED);
    expect((await airlock('network', 'policy', 'apply', policy, '--data-dir', dataDir)).code).toBe(
      0,
    );
    expect(
      (
        await airlock(
          'device',
          'onboard',
          '--store',
          store,
          '--registrar',
          `https://127.0.0.1:${networkPort}`,
        )
      ).code,
    ).toBe(0);
    const out = fresh('out');
    const r = await airlock('device', 'export', '--store', store, '--out', out);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/private keys left the secure store/);
    expect(fs.readdirSync(out).sort()).toEqual([
      'domain-ca.pem',
      'idevid.key',
      'idevid.pem',
      'ldevid.key',
      'ldevid.pem',
    ]);
    expect(fs.statSync(out).mode & 0o777).toBe(0o700);
    for (const f of fs.readdirSync(out))
      expect(fs.statSync(path.join(out, f)).mode & 0o777).toBe(0o600);

    const openssl = async (...args: string[]) => (await exec('openssl', args)).stdout;
    const serial = (
      JSON.parse((await airlock('device', 'status', '--store', store)).stdout) as {
        serialNumber: string;
      }
    ).serialNumber;
    expect(
      await openssl('x509', '-noout', '-subject', '-in', path.join(out, 'idevid.pem')),
    ).toContain(serial);
    for (const kind of ['idevid', 'ldevid']) {
      expect(fs.readFileSync(path.join(out, `${kind}.key`), 'utf8')).toMatch(
        /^-----BEGIN PRIVATE KEY-----/,
      );
      await openssl('pkey', '-check', '-noout', '-in', path.join(out, `${kind}.key`));
      const fromKey = await openssl('pkey', '-pubout', '-in', path.join(out, `${kind}.key`));
      const fromCert = await openssl(
        'x509',
        '-noout',
        '-pubkey',
        '-in',
        path.join(out, `${kind}.pem`),
      );
      expect(fromKey).toBe(fromCert);
    }
    // The IDevID chain is leaf first: the leaf verifies against the CA after it.
    const pems = fs
      .readFileSync(path.join(out, 'idevid.pem'), 'utf8')
      .match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!;
    expect(pems).toHaveLength(2);
    fs.writeFileSync(path.join(root, 'leaf.pem'), pems[0]!);
    fs.writeFileSync(path.join(root, 'ca.pem'), pems[1]!);
    expect(
      await openssl(
        'verify',
        '-partial_chain',
        '-CAfile',
        path.join(root, 'ca.pem'),
        path.join(root, 'leaf.pem'),
      ),
    ).toMatch(/OK/);
    expect(
      await openssl(
        'verify',
        '-CAfile',
        path.join(out, 'domain-ca.pem'),
        path.join(out, 'ldevid.pem'),
      ),
    ).toMatch(/OK/);

    const again = await airlock('device', 'export', '--store', store, '--out', out);
    expectRefused(again, /--out/);
    expect(fs.readdirSync(out)).toHaveLength(5);
  });
});
