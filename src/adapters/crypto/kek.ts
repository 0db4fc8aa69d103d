/**
 * Where a role's key-encryption key comes from: the environment variable named by the
 * caller (base64, 32 bytes), or a key file beside the data, created 0600 on first use. The
 * file is a development default; production keeps the key in a KMS or HSM and passes it in.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as nodeCrypto from 'node:crypto';
import { AirlockError } from '../../core/errors.js';

export interface KekSource {
  readonly kek: Uint8Array;
  readonly origin: 'environment' | 'file' | 'memory';
}

export function loadKek(opts: {
  envVar: string;
  file?: string;
  env?: NodeJS.ProcessEnv;
}): KekSource {
  const env = opts.env ?? process.env;
  const fromEnv = env[opts.envVar];
  if (fromEnv) {
    const kek = Buffer.from(fromEnv, 'base64');
    if (kek.length !== 32)
      throw new AirlockError('ERR_CONFIG', `${opts.envVar} must be 32 bytes, base64`);
    return { kek: new Uint8Array(kek), origin: 'environment' };
  }
  if (!opts.file) return { kek: new Uint8Array(nodeCrypto.randomBytes(32)), origin: 'memory' };
  if (fs.existsSync(opts.file)) {
    const kek = fs.readFileSync(opts.file);
    if (kek.length !== 32) throw new AirlockError('ERR_CONFIG', `${opts.file} must hold 32 bytes`);
    return { kek: new Uint8Array(kek), origin: 'file' };
  }
  fs.mkdirSync(path.dirname(opts.file), { recursive: true, mode: 0o700 });
  const kek = nodeCrypto.randomBytes(32);
  fs.writeFileSync(opts.file, kek, { mode: 0o600, flag: 'wx' });
  return { kek: new Uint8Array(kek), origin: 'file' };
}
