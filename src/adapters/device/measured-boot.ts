/**
 * The agent's measured boot (NIST IR 8350 Figure 9 step 1): the SHA-256 of the firmware image
 * file the device runs, read afresh at every measurement, so that one changed byte changes
 * what the device attests. On a real device the boot ROM measures the image into a root of
 * trust; here the agent reads the file itself, which is as far as software can go.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AirlockError } from '../../core/errors.js';
import type { FirmwareMeasurement, MeasuredBoot } from '../../core/ports.js';

export interface FirmwareImage {
  /** The image file. */
  image: string;
  name: string;
  version: string;
  /** RFC 9711 dbgstat; default 'disabled-permanently' (a production device). */
  debug?: FirmwareMeasurement['debug'];
}

export function fileMeasuredBoot(f: FirmwareImage): MeasuredBoot {
  return {
    async measure() {
      return {
        name: f.name,
        version: f.version,
        digest: await sha256File(f.image),
        debug: f.debug ?? 'disabled-permanently',
      };
    },
  };
}

/** Read this much of an image at a time. */
const CHUNK_BYTES = 1 << 20;

/**
 * base64url SHA-256 of a firmware image file; ERR_CONFIG when it is not a readable file. The
 * file is read in blocking chunks of 1 MiB: hashing takes the thread either way, and a read
 * stream cost five times the CPU of the hash for a 64 KiB image (docs/BENCHMARKS.md).
 */
export async function sha256File(file: string, option = 'the firmware image'): Promise<string> {
  const hash = createHash('sha256');
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let n: number; (n = readSync(fd, chunk, 0, CHUNK_BYTES, null)) > 0;)
      hash.update(chunk.subarray(0, n));
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', `${option} ${file} is not a readable file`, {
      cause,
      ...(option.startsWith('--')
        ? { details: { hint: `give ${option} the path of the firmware image file` } }
        : {}),
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return hash.digest('base64url');
}

/**
 * A file this very agent runs: the module that holds this code (the CLI's bundle when run from
 * it). The demonstration's devices measure it: their "firmware" is the Airlock agent itself.
 */
export function agentImage(): string {
  return fileURLToPath(import.meta.url);
}
