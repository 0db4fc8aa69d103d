/**
 * `airlock dpp ...`: Wi-Fi Easy Connect (DPP, docs/DPP.md) on the device's side. `uri` prints
 * the device's own bootstrapping URI from its birth credentials, or renders it as the QR code
 * its label or screen shows (terminal text, PNG or SVG). No secret is printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { AirlockError } from '../../core/errors.js';
import {
  DPP_QR_FORMATS,
  renderDppQrPng,
  renderDppQrSvg,
  renderDppQrTerminal,
  type DppQrFormat,
} from '../../adapters/dpp/qr.js';
import { say } from '../output.js';
import { run } from '../options.js';
import { agentAt } from './device.js';

/** `--qr`, checked: one of DPP_QR_FORMATS, else ERR_CONFIG naming them. */
function parseQrFormat(value: string): DppQrFormat {
  if (!(DPP_QR_FORMATS as readonly string[]).includes(value))
    throw new AirlockError('ERR_CONFIG', `--qr ${JSON.stringify(value)} is not a QR format`, {
      details: { hint: 'give --qr terminal, --qr png or --qr svg' },
    });
  return value as DppQrFormat;
}

/** Writes `data` to a new file (never over one), removing it again should the write fail. */
function writeNewFile(file: string, data: string | Uint8Array): string {
  const out = path.resolve(file);
  let fd: number;
  try {
    fd = fs.openSync(out, 'wx', 0o644);
  } catch (cause) {
    const exists = (cause as NodeJS.ErrnoException).code === 'EEXIST';
    throw new AirlockError('ERR_CONFIG', `--out ${out} ${exists ? 'exists' : 'cannot be made'}`, {
      cause,
      details: {
        hint: exists ? 'give --out a new file (or remove it)' : 'give --out a writable path',
      },
    });
  }
  try {
    fs.writeFileSync(fd, data);
  } catch (cause) {
    fs.closeSync(fd);
    fs.rmSync(out, { force: true });
    throw new AirlockError('ERR_CONFIG', `--out ${out} could not be written`, { cause });
  }
  fs.closeSync(fd);
  return out;
}

export function dppCommand(program: Command): void {
  const dpp = program
    .command('dpp')
    .description(
      "Wi-Fi Easy Connect (DPP, docs/DPP.md) on the device's side: its bootstrapping URI and QR code",
    );
  dpp
    .command('uri')
    .description(
      "print the device's DPP bootstrapping URI (minted with it: I:SN=<serial>, V:2, K: its P-256 key), or render it as a QR code (error correction level M). A device minted before devices got a DPP key: ERR_DPP_NO_KEY. Prints no secret",
    )
    .requiredOption(
      '--store <dir>',
      "the device's secure store (written by `airlock manufacturer mint`)",
    )
    .option(
      '--qr <format>',
      'render it as a QR code: terminal (UTF-8 half blocks on stdout, drawn for a dark-background terminal), png or svg (to --out, or to stdout when it is not a terminal)',
    )
    .option('--out <file>', 'with --qr png or svg: write the image to this new file')
    .action(async (o: { store: string; qr?: string; out?: string }) => {
      await run(async () => {
        const format = o.qr === undefined ? undefined : parseQrFormat(o.qr);
        if (o.out !== undefined && format !== 'png' && format !== 'svg')
          throw new AirlockError('ERR_CONFIG', '--out goes with --qr png or --qr svg', {
            details: { hint: 'give --qr png or --qr svg, or leave out --out' },
          });
        if (format === 'png' && o.out === undefined && process.stdout.isTTY)
          throw new AirlockError('ERR_CONFIG', 'a PNG image is not written to a terminal', {
            details: { hint: 'give --out FILE, or redirect stdout to a file' },
          });
        const uri = await (await agentAt(o.store)).dppUri();
        if (format === undefined) {
          say(uri);
          return;
        }
        if (format === 'terminal') {
          process.stdout.write(renderDppQrTerminal(uri));
          return;
        }
        const image = format === 'png' ? await renderDppQrPng(uri) : await renderDppQrSvg(uri);
        if (o.out === undefined) {
          process.stdout.write(image);
          return;
        }
        say(`wrote the QR code (${format}) to ${writeNewFile(o.out, image)}`);
      });
    });
}
