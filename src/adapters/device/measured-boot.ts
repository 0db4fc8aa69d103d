/**
 * The agent's measured boot (NIST IR 8350 Figure 9 step 1): the SHA-256 of the firmware image
 * file the device runs, read afresh at every measurement, so that one changed byte changes
 * what the device attests. On a real device the boot ROM measures the image into a root of
 * trust; here the agent reads the file itself, which is as far as software can go.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
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

/** base64url SHA-256 of a firmware image file, streamed; ERR_CONFIG when it is not a readable file. */
export async function sha256File(file: string, option = 'the firmware image'): Promise<string> {
  const hash = createHash('sha256');
  try {
    if (!statSync(file).isFile()) throw new Error('not a regular file');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', `${option} ${file} is not a readable file`, {
      cause,
      ...(option.startsWith('--')
        ? { details: { hint: `give ${option} the path of the firmware image file` } }
        : {}),
    });
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
