/**
 * A private key kept in the device's secure store (base64 PKCS#8 in its JSON records), read
 * into the key store. A key that does not read is the store's fault, and says so.
 */
import { AirlockError, isAirlockError } from '../../core/errors.js';
import { fromBase64 } from '../../core/bytes.js';
import type { KeyStore, PrivateKeyHandle } from '../../core/ports.js';

export async function importStoredKey(
  keys: KeyStore,
  base64: string,
  what: string,
): Promise<PrivateKeyHandle> {
  const pkcs8 = fromBase64(base64);
  if (!pkcs8) throw new AirlockError('ERR_SECURE_STORE', `${what} is corrupt`);
  try {
    return await keys.importPkcs8(pkcs8);
  } catch (cause) {
    if (isAirlockError(cause, 'ERR_KEY_MALFORMED'))
      throw new AirlockError('ERR_SECURE_STORE', `${what} is corrupt`, { cause });
    throw cause;
  }
}
