/**
 * `airlock manufacturer firmware ...` and `airlock manufacturer reference-values` as an
 * operator runs them: the digest is the image file's SHA-256, the document printed verifies
 * against the trust file the same manufacturer prints, errors are typed with exit 1, and a
 * data directory with no manufacturer is refused without creating anything.
 */
import { execFile } from 'node:child_process';
import * as nodeCrypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { NodeCrypto } from '../../src/adapters/crypto/node-crypto.js';
import { verifyReferenceValues } from '../../src/protocols/endorsement/reference-values.js';
import { decodeTrustFile } from '../../src/roles/shared/trust.js';
import { tempDir } from '../support/wire.js';

const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const crypto = new NodeCrypto();

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function airlock(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('airlock manufacturer firmware', () => {
  const root = tempDir('airlock-cli-firmware-');
  const data = path.join(root, 'data');
  const imageA = path.join(root, 'a.bin');
  const imageB = path.join(root, 'b.bin');
  const d = ['--data-dir', data];

  beforeAll(async () => {
    fs.writeFileSync(imageA, nodeCrypto.randomBytes(70_000));
    fs.writeFileSync(imageB, nodeCrypto.randomBytes(10));
    expect((await airlock('manufacturer', 'init', ...d)).code).toBe(0);
  }, 60_000);

  it("releases an image by its SHA-256 (--version is the firmware's, not the program's)", async () => {
    const r = await airlock(
      'manufacturer',
      'firmware',
      'release',
      '--model',
      'cam-c1',
      '--version',
      '1.2.0',
      '--image',
      imageA,
      ...d,
    );
    // No verifier runs in this data directory: the command says who was not told.
    expect(r.stderr).toMatch(/^airlock: no verifier was told: .*reference-values/);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      model: 'cam-c1',
      name: 'cam-c1-firmware',
      version: '1.2.0',
      digest: nodeCrypto.createHash('sha256').update(fs.readFileSync(imageA)).digest('base64url'),
      sequence: 1,
    });
    const again = await airlock(
      'manufacturer',
      'firmware',
      'release',
      '--model',
      'cam-c1',
      '--version',
      '1.2.0',
      '--image',
      imageB,
      ...d,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/ERR_FIRMWARE_EXISTS/);
  }, 60_000);

  it('sets no secure boot with --no-secure-boot and a name with --name; refuses a bad version or image', async () => {
    const r = await airlock(
      'manufacturer',
      'firmware',
      'release',
      '--model',
      'plug-p1',
      '--version',
      '3',
      '--name',
      'PlugOS',
      '--no-secure-boot',
      '--image',
      imageB,
      ...d,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'PlugOS', sequence: 2 });
    const bad = await airlock(
      'manufacturer',
      'firmware',
      'release',
      '--model',
      'plug-p1',
      '--version',
      '3.x',
      '--image',
      imageB,
      ...d,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/ERR_INPUT_SCHEMA/);
    const missing = await airlock(
      'manufacturer',
      'firmware',
      'release',
      '--model',
      'plug-p1',
      '--version',
      '4',
      '--image',
      path.join(root, 'no-such.bin'),
      ...d,
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ERR_CONFIG/);
    expect(missing.stderr).toMatch(/hint: .*--image/);
  }, 60_000);

  it('withdraws, lists, and prints the document that verifies against its trust file', async () => {
    const w = await airlock(
      'manufacturer',
      'firmware',
      'withdraw',
      '--model',
      'cam-c1',
      '--version',
      '1.2.0',
      ...d,
    );
    expect(w.code).toBe(0);
    expect(JSON.parse(w.stdout)).toMatchObject({ status: 'withdrawn', sequence: 3, changed: true });
    const unknown = await airlock(
      'manufacturer',
      'firmware',
      'withdraw',
      '--model',
      'cam-c1',
      '--version',
      '9',
      ...d,
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/ERR_FIRMWARE_UNKNOWN/);

    const list = await airlock('manufacturer', 'firmware', 'list', '--json', ...d);
    expect(list.code).toBe(0);
    expect(
      (JSON.parse(list.stdout) as Array<Record<string, unknown>>).map((f) => [
        f.model,
        f.version,
        f.status,
        f.secureBoot,
      ]),
    ).toEqual([
      ['cam-c1', '1.2.0', 'withdrawn', true],
      ['plug-p1', '3', 'released', false],
    ]);
    const table = await airlock('manufacturer', 'firmware', 'list', ...d);
    expect(table.stdout).toMatch(/PlugOS/);

    const [doc, bundle] = await Promise.all([
      airlock('manufacturer', 'reference-values', ...d),
      airlock('manufacturer', 'trust-bundle', ...d),
    ]);
    expect(doc.code).toBe(0);
    const at = new Date();
    const trust = decodeTrustFile(crypto, JSON.parse(bundle.stdout), at);
    const v = verifyReferenceValues(crypto, doc.stdout.trim(), {
      anchors: [trust.endorsementsCa!],
      root: trust.root,
      at,
    });
    expect(v.body.sequence).toBe(3);
    expect(v.body.models['plug-p1']).toMatchObject({ 'secure-boot': false });
    expect(v.body.models['cam-c1']!.firmware[0]!.status).toBe('withdrawn');
  }, 60_000);

  it('refuses a data directory with no manufacturer, creating nothing', async () => {
    const empty = path.join(root, 'nothing-here');
    for (const args of [
      ['firmware', 'release', '--model', 'm', '--version', '1', '--image', imageA],
      ['firmware', 'withdraw', '--model', 'm', '--version', '1'],
      ['firmware', 'list'],
      ['reference-values'],
    ]) {
      const r = await airlock('manufacturer', ...args, '--data-dir', empty);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/ERR_CONFIG/);
      expect(r.stderr).toMatch(/hint: .*manufacturer init/);
    }
    expect(fs.existsSync(empty)).toBe(false);
  }, 60_000);

  it('still prints its version for --version alone, and its help names the commands', async () => {
    expect((await airlock('--version')).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await airlock('manufacturer', 'firmware', '--help');
    for (const word of ['release', 'withdraw', 'list']) expect(help.stdout).toContain(word);
    expect((await airlock('manufacturer', '--help')).stdout).toContain('reference-values');
  }, 60_000);
});
