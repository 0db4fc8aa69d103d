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
import { printJson, say } from '../output.js';
import { DATABASE_URL_HELP, parsePort, run } from '../options.js';
import { DPP_AKMS, type DppAkm } from '../../core/store.js';
import { agentAt } from './device.js';
import { withNetwork } from './network.js';

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
      "Wi-Fi Easy Connect (DPP, docs/DPP.md): the device's bootstrapping URI and QR code, the device enrolling (`enroll`, `listen`), the onboarder's part (`onboard`)",
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
  dpp
    .command('enroll <uri>')
    .description(
      "the device, as a DPP Enrollee, initiates to the Configurator whose URI it scanned (the network's: `airlock network dpp uri`), at the URI's H: address or --host, with its birth DPP key (mutual: the owner added the device's URI); what it is given (sta-psk, sta-sae or a sta-dpp Connector) is kept in its secure store. Prints what it received, never the passphrase or a key",
    )
    .requiredOption('--store <dir>', "the device's secure store")
    .option('--host <address>', "the Configurator's address, when its URI has no H:")
    .option('--port <port>', "the Configurator's TCP port (default the URI's, else 8908)")
    .option('--json', 'print JSON')
    .action(
      async (uri: string, o: { store: string; host?: string; port?: string; json?: boolean }) => {
        await run(async () => {
          const port = o.port === undefined ? undefined : parsePort(o.port, '--port');
          const agent = await agentAt(o.store);
          const got = await agent.enrollByDpp({
            uri,
            ...(o.host !== undefined ? { host: o.host } : {}),
            ...(port !== undefined ? { port } : {}),
          });
          if (o.json) printJson(got);
          else say(`configured: ${got.kind} for "${got.ssid}"${got.mutual ? ' (mutual)' : ''}`);
        });
      },
    );
  dpp
    .command('listen')
    .description(
      'the device, as a DPP Enrollee, listens (TCP, port 8908 by default) until a Configurator that scanned its URI configures it; prints its URI with the H: address it listens on (for the onboarder: `airlock dpp onboard`), then what it received (kept in its secure store), never the passphrase or a key',
    )
    .requiredOption('--store <dir>', "the device's secure store")
    .option('--host <address>', 'the address to listen on', '127.0.0.1')
    .option('--port <port>', 'the TCP port (0: any free port)', '8908')
    .option('--json', 'print JSON')
    .action(async (o: { store: string; host: string; port: string; json?: boolean }) => {
      await run(async () => {
        const port = o.port === '0' ? 0 : parsePort(o.port, '--port');
        const agent = await agentAt(o.store);
        const stop = new AbortController();
        const interrupted = () => stop.abort();
        process.once('SIGINT', interrupted);
        process.once('SIGTERM', interrupted);
        try {
          const got = await agent.listenForDpp({
            host: o.host,
            port,
            signal: stop.signal,
            onListening: (uri) =>
              say(o.json ? JSON.stringify({ listening: uri }) : `listening: ${uri}`),
          });
          if (o.json) printJson(got);
          else say(`configured: ${got.kind} for "${got.ssid}"${got.mutual ? ' (mutual)' : ''}`);
        } finally {
          process.off('SIGINT', interrupted);
          process.off('SIGTERM', interrupted);
        }
      });
    });
  dpp
    .command('onboard <uri>')
    .description(
      "the onboarder's part (NIST IR 8350 section 6): the device's URI (scanned or pasted) is added to the network with the credential --akm names; when the URI says where the device listens (H:, or --host: `airlock dpp listen`), the network's Configurator connects and configures it now, else when it initiates to `airlock network serve --dpp-port`. The exchange is in the device's audit trail",
    )
    .option(
      '--akm <akm>',
      `the credential it is given: ${DPP_AKMS.join(', ')} (see \`network dpp add\`)`,
      'psk',
    )
    .option('--host <address>', "the device's address, when its URI has no H:")
    .option('--port <port>', "the device's TCP port (default the URI's, else 8908)")
    .option('--ssid <ssid>', "the SSID it is given (default the network's)")
    .option('--data-dir <dir>', 'where the network lives', './data')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--json', 'print JSON')
    .action(
      async (
        uri: string,
        o: {
          akm: string;
          host?: string;
          port?: string;
          ssid?: string;
          dataDir: string;
          databaseUrl?: string;
          json?: boolean;
        },
      ) => {
        const port = o.port === undefined ? undefined : parsePort(o.port, '--port');
        await withNetwork(o, async (network) => {
          const done = await network.dpp.onboard(uri, {
            akm: o.akm as DppAkm,
            ...(o.host !== undefined ? { host: o.host } : {}),
            ...(port !== undefined ? { port } : {}),
            ...(o.ssid !== undefined ? { ssid: o.ssid } : {}),
          });
          const out = {
            serial: done.enrollee.serial,
            akm: done.enrollee.akm,
            curve: done.enrollee.curve,
            configured: done.exchange?.status === 'ok',
            ...(done.exchange ? { mutual: done.exchange.mutual } : {}),
          };
          if (o.json) printJson(out);
          else
            say(
              done.exchange
                ? `device ${out.serial} configured (sta-${out.akm}${out.mutual ? ', mutual' : ''})`
                : `device ${out.serial} added (sta-${out.akm}); it is configured when it initiates to the network's DPP Configurator`,
            );
        });
      },
    );
}
