/**
 * `airlock dpp uri --store DIR` (docs/DPP.md): the device's own DPP URI, as minted, printed or
 * rendered as a QR code (terminal text, PNG, SVG) that decodes back to it. A device minted
 * before DPP keys: ERR_DPP_NO_KEY, exit 1, nothing written. A bad --qr, --out without an image
 * format, an --out that exists, a PNG to a terminal: ERR_CONFIG, exit 1.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { FileSecureStore } from '../../src/adapters/secure-store/file-store.js';
import { fromUtf8, utf8 } from '../../src/core/bytes.js';
import { SecureStoreEntry } from '../../src/core/credentials.js';
import { parseDppUri } from '../../src/protocols/dpp/uri.js';
import { decodeModules, decodePng, svgModules, terminalModules } from '../support/qr.js';
import { tempDir } from '../support/wire.js';

const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

async function airlock(...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      timeout: 60_000,
      encoding: 'buffer',
    });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (e) {
    const err = e as { code: number; stdout: Buffer; stderr: Buffer };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr.toString() };
  }
}

/** Whether `script` (util-linux) can give the command a terminal here. */
async function hasScript(): Promise<boolean> {
  try {
    await exec('script', ['-qec', 'true', '/dev/null'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe('airlock dpp uri', () => {
  const root = tempDir('airlock-cli-dpp-uri-');
  const mfg = path.join(root, 'mfg');
  const dev = path.join(root, 'dev1');
  const old = path.join(root, 'dev-old');
  let minted: string;

  beforeAll(async () => {
    expect((await airlock('manufacturer', 'init', '--data-dir', mfg)).code).toBe(0);
    const r = await airlock(
      'manufacturer',
      'mint',
      '--data-dir',
      mfg,
      '--store',
      dev,
      '--serial',
      'cam-0042',
    );
    expect(r.code, r.stderr).toBe(0);
    minted = (JSON.parse(r.stdout.toString()) as { dppUri: string }).dppUri;
    // A device as minted before DPP keys: its birth credentials without one.
    const o = await airlock(
      'manufacturer',
      'mint',
      '--data-dir',
      mfg,
      '--store',
      old,
      '--serial',
      'cam-old',
    );
    expect(o.code, o.stderr).toBe(0);
    const store = await FileSecureStore.open(old, { create: false });
    const birth = JSON.parse(fromUtf8((await store.read(SecureStoreEntry.birth))!)) as Record<
      string,
      unknown
    >;
    delete birth['dpp'];
    await store.write(SecureStoreEntry.birth, utf8(JSON.stringify(birth)));
  }, 120_000);

  it('prints the URI minted with the device: I:SN=<serial>, V:2, a P-256 key', async () => {
    const r = await airlock('dpp', 'uri', '--store', dev);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe(`${minted}\n`);
    const uri = parseDppUri(minted);
    expect(uri.info).toBe('SN=cam-0042');
    expect(uri.version).toBe(2);
    expect(uri.key.curve).toBe('P-256');
  });

  it('--qr terminal: half blocks on stdout that decode to the URI', async () => {
    const r = await airlock('dpp', 'uri', '--store', dev, '--qr', 'terminal');
    expect(r.code, r.stderr).toBe(0);
    const text = r.stdout.toString();
    expect(text).toMatch(/^[ \u2580\u2584\u2588\n]+$/);
    expect(decodeModules(terminalModules(text, false))).toBe(minted);
  });

  it('--qr svg --out: a new file that decodes to the URI; never over an existing one', async () => {
    const out = path.join(root, 'code.svg');
    const r = await airlock('dpp', 'uri', '--store', dev, '--qr', 'svg', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const svg = fs.readFileSync(out, 'utf8');
    expect(decodeModules(svgModules(svg))).toBe(minted);
    fs.writeFileSync(out, 'mine');
    const again = await airlock('dpp', 'uri', '--store', dev, '--qr', 'svg', '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('ERR_CONFIG');
    expect(fs.readFileSync(out, 'utf8')).toBe('mine');
  });

  it('--qr png: to --out, or to stdout when it is not a terminal; each decodes to the URI', async () => {
    const out = path.join(root, 'code.png');
    const r = await airlock('dpp', 'uri', '--store', dev, '--qr', 'png', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(decodePng(fs.readFileSync(out)).text).toBe(minted);
    const piped = await airlock('dpp', 'uri', '--store', dev, '--qr', 'png');
    expect(piped.code, piped.stderr).toBe(0);
    expect(decodePng(piped.stdout).text).toBe(minted);
    // --qr svg to stdout alike.
    const svg = await airlock('dpp', 'uri', '--store', dev, '--qr', 'svg');
    expect(decodeModules(svgModules(svg.stdout.toString()))).toBe(minted);
  });

  it('refuses a PNG to a terminal without --out', async () => {
    if (!(await hasScript())) {
      console.log('skipped: no `script` (util-linux) to give the command a terminal');
      return;
    }
    const command = [process.execPath, bin, 'dpp', 'uri', '--store', dev, '--qr', 'png']
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(' ');
    // script runs it on a pseudo-terminal and exits with its code (-e).
    let code = 0;
    let output = '';
    try {
      const r = await exec('script', ['-qec', command, '/dev/null'], { timeout: 60_000 });
      output = r.stdout;
    } catch (e) {
      const err = e as { code: number; stdout: string };
      code = err.code;
      output = err.stdout;
    }
    expect(code).toBe(1);
    expect(output).toContain('ERR_CONFIG');
    // No image reached the terminal.
    expect(output).not.toContain('IHDR');
  });

  it('a device minted before DPP keys: ERR_DPP_NO_KEY, exit 1, no file written', async () => {
    const r = await airlock('dpp', 'uri', '--store', old);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_DPP_NO_KEY');
    expect(r.stdout.toString()).toBe('');
    const out = path.join(root, 'old.svg');
    const q = await airlock('dpp', 'uri', '--store', old, '--qr', 'svg', '--out', out);
    expect(q.code).toBe(1);
    expect(q.stderr).toContain('ERR_DPP_NO_KEY');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses a bad --qr, and --out without --qr png or svg: ERR_CONFIG, exit 1, nothing written', async () => {
    const out = path.join(root, 'bad.out');
    for (const args of [
      ['--qr', 'bmp'],
      ['--qr', 'PNG'],
      ['--qr', ''],
      ['--qr', 'bmp', '--out', out],
      ['--out', out],
      ['--qr', 'terminal', '--out', out],
    ]) {
      const r = await airlock('dpp', 'uri', '--store', dev, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain('ERR_CONFIG');
      expect(r.stdout.toString()).toBe('');
    }
    expect(fs.existsSync(out)).toBe(false);
  });

  it('refuses a directory that is no secure store, creating nothing', async () => {
    const none = path.join(root, 'no-such-store');
    const r = await airlock('dpp', 'uri', '--store', none);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERR_SECURE_STORE');
    expect(fs.existsSync(none)).toBe(false);
  });

  it('--help names the options; airlock --help names the group', async () => {
    const h = (await airlock('dpp', 'uri', '--help')).stdout.toString();
    for (const s of ['--store <dir>', '--qr <format>', 'terminal', 'png', 'svg', '--out <file>'])
      expect(h).toContain(s);
    expect((await airlock('--help')).stdout.toString()).toMatch(/\n {2}dpp /);
  });
});
