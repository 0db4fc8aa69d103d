/**
 * A device's secure store on disk: a 0700 directory of AES-256-GCM sealed entries (0600).
 * The sealing key stands in for a hardware-bound key: it is a 0600 file in the same
 * directory unless AIRLOCK_DEVICE_KEK provides it. Real devices keep it in a secure element.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { AirlockError } from '../../core/errors.js';
import type { SecureStore } from '../../core/ports.js';
import { loadKek } from '../crypto/kek.js';
import { Sealer } from '../crypto/seal.js';

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

export class FileSecureStore implements SecureStore {
  private constructor(
    readonly dir: string,
    private readonly sealer: Sealer,
  ) {}

  /** Opens the store in `dir`; `create: false` refuses a directory that is not a store yet. */
  static async open(dir: string, opts: { create?: boolean } = {}): Promise<FileSecureStore> {
    if (opts.create === false) {
      const exists = await fs.stat(dir).then(
        (st) => st.isDirectory(),
        () => false,
      );
      if (!exists) throw new AirlockError('ERR_SECURE_STORE', `no secure store at ${dir}`);
    }
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.chmod(dir, 0o700);
    const { kek } = loadKek({ envVar: 'AIRLOCK_DEVICE_KEK', file: path.join(dir, 'store.kek') });
    return new FileSecureStore(dir, new Sealer(kek));
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    let sealed: string;
    try {
      sealed = await fs.readFile(this.#file(name), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AirlockError('ERR_SECURE_STORE', name, { cause: e });
    }
    return this.sealer.open(sealed, `secure-store:${name}`);
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    const file = this.#file(name);
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, this.sealer.seal(data, `secure-store:${name}`), { mode: 0o600 });
    await fs.rename(tmp, file);
  }

  async erase(name: string): Promise<void> {
    await fs.rm(this.#file(name), { force: true });
  }

  async names(): Promise<string[]> {
    return (await fs.readdir(this.dir))
      .filter((f) => f.endsWith('.sealed'))
      .map((f) => f.slice(0, -'.sealed'.length));
  }

  #file(name: string): string {
    if (!NAME.test(name)) throw new AirlockError('ERR_SECURE_STORE', 'bad entry name');
    return path.join(this.dir, `${name}.sealed`);
  }
}
