/**
 * The KeyStore port with software keys: node:crypto key objects in this process, made and
 * read by node-crypto.ts (generateP256Key, importPkcs8, exportPkcs8). Whatever a caller
 * gets back is an opaque handle; a PKCS#11 token or a TPM can replace this store without
 * touching the roles or the onboarding steps.
 */
import { AirlockError } from '../../core/errors.js';
import type { KeyStore, PrivateKeyHandle } from '../../core/ports.js';
import { exportPkcs8, generateP256Key, importPkcs8 } from './node-crypto.js';

export class SoftwareKeyStore implements KeyStore {
  async generateP256(): Promise<PrivateKeyHandle> {
    return generateP256Key();
  }

  async importPkcs8(der: Uint8Array): Promise<PrivateKeyHandle> {
    try {
      return importPkcs8(der);
    } catch (cause) {
      throw new AirlockError('ERR_KEY_MALFORMED', 'not a PKCS#8 private key', { cause });
    }
  }

  async exportPkcs8(key: PrivateKeyHandle): Promise<Uint8Array> {
    try {
      return exportPkcs8(key);
    } catch (cause) {
      throw new AirlockError('ERR_KEY_MALFORMED', 'not a key of this store', { cause });
    }
  }
}

/** The one software key store: it holds no state of its own, so every role may share it. */
export const softwareKeyStore: KeyStore = new SoftwareKeyStore();
