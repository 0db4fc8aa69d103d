/**
 * Secrets at rest: AES-256-GCM under a key-encryption key held outside the database.
 * A sealed value is `v1.<iv>.<ciphertext+tag>` in base64url; the associated data names what
 * the secret is, so a sealed value cannot be moved to another row unnoticed.
 */
import * as nodeCrypto from 'node:crypto';
import { AirlockError } from '../../core/errors.js';

export class Sealer {
  readonly #kek: Buffer;

  constructor(kek: Uint8Array) {
    if (kek.length !== 32)
      throw new AirlockError('ERR_CONFIG', 'the key-encryption key must be 32 bytes');
    this.#kek = Buffer.from(kek);
  }

  seal(plaintext: Uint8Array | string, aad: string): string {
    const iv = nodeCrypto.randomBytes(12);
    const c = nodeCrypto.createCipheriv('aes-256-gcm', this.#kek, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([
      c.update(typeof plaintext === 'string' ? Buffer.from(plaintext) : plaintext),
      c.final(),
      c.getAuthTag(),
    ]);
    return `v1.${iv.toString('base64url')}.${ct.toString('base64url')}`;
  }

  open(sealed: string, aad: string): Uint8Array {
    const [v, ivB64, ctB64] = sealed.split('.');
    if (v !== 'v1' || !ivB64 || !ctB64)
      throw new AirlockError('ERR_SECURE_STORE', 'unknown sealed format');
    const iv = Buffer.from(ivB64, 'base64url');
    const ct = Buffer.from(ctB64, 'base64url');
    if (iv.length !== 12 || ct.length < 16) throw new AirlockError('ERR_SECURE_STORE', 'truncated');
    try {
      const d = nodeCrypto.createDecipheriv('aes-256-gcm', this.#kek, iv);
      d.setAAD(Buffer.from(aad));
      d.setAuthTag(ct.subarray(ct.length - 16));
      return new Uint8Array(Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]));
    } catch (cause) {
      throw new AirlockError(
        'ERR_SECURE_STORE',
        'authentication failed (wrong key or tampered data)',
        { cause },
      );
    }
  }

  openText(sealed: string, aad: string): string {
    return Buffer.from(this.open(sealed, aad)).toString('utf8');
  }
}
