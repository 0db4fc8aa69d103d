/**
 * A role's named key pairs with their certificates, sealed in its database (KeyRecords).
 */
import type { KeyRecords, UnitOfWork } from '../../core/store.js';
import type { KeyStore, PrivateKeyHandle } from '../../core/ports.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { softwareKeyStore } from '../crypto/software-key-store.js';
import type { Sealer } from '../crypto/seal.js';
import { isUniqueViolation } from './unique-violation.js';

export interface KeyPair {
  readonly key: PrivateKeyHandle;
  readonly cert: Certificate;
}

export class KeyRing {
  constructor(
    private readonly store: UnitOfWork<{ keys: KeyRecords }>,
    /** The table's name: what each sealed key is bound to (with its own name). */
    private readonly table: 'mfg_keys' | 'net_keys' | 'ver_keys',
    private readonly sealer: Sealer,
    /** Where keys are made usable: software keys unless the role was wired with another store. */
    readonly keys: KeyStore = softwareKeyStore,
  ) {}

  async get(name: string): Promise<KeyPair | undefined> {
    const row = await this.store.run((r) => r.keys.get(name));
    if (!row) return undefined;
    const key = await this.keys.importPkcs8(
      this.sealer.open(row.sealedKey, `${this.table}:${name}`),
    );
    return { key, cert: parseCertificate(row.certDer) };
  }

  /**
   * Stores a new pair under `name` and returns it; when another process sharing the database
   * stored one under that name first (two nodes started at once), returns that one instead.
   */
  async put(name: string, pair: KeyPair, at: Date): Promise<KeyPair> {
    const sealedKey = this.sealer.seal(
      await this.keys.exportPkcs8(pair.key),
      `${this.table}:${name}`,
    );
    try {
      await this.store.run((r) => r.keys.put(name, { sealedKey, certDer: pair.cert.der }, at));
      return pair;
    } catch (e) {
      const stored = isUniqueViolation(e) ? await this.get(name) : undefined;
      if (!stored) throw e;
      return stored;
    }
  }
}
