/**
 * A role's named key pairs with their certificates, sealed in its database.
 */
import type { Kysely } from 'kysely';
import type { PrivateKeyHandle } from '../../core/ports.js';
import { parseCertificate, type Certificate } from '../../protocols/x509/certificate.js';
import { exportPkcs8, importPkcs8 } from '../crypto/node-crypto.js';
import type { Sealer } from '../crypto/seal.js';
import type { KeyTable } from './schema.js';

export interface KeyPair {
  readonly key: PrivateKeyHandle;
  readonly cert: Certificate;
}

type KeyDb = Record<'mfg_keys' | 'net_keys', KeyTable>;

export class KeyRing {
  constructor(
    private readonly db: Kysely<any>,
    private readonly table: keyof KeyDb,
    private readonly sealer: Sealer,
  ) {}

  async get(name: string): Promise<KeyPair | undefined> {
    const row = await (this.db as Kysely<KeyDb>).selectFrom(this.table).selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    const key = importPkcs8(this.sealer.open(row.sealed_key, `${this.table}:${name}`));
    return { key, cert: parseCertificate(new Uint8Array(row.cert_der)) };
  }

  async put(name: string, pair: KeyPair, at: Date): Promise<void> {
    await (this.db as Kysely<KeyDb>)
      .insertInto(this.table)
      .values({ name, sealed_key: this.sealer.seal(exportPkcs8(pair.key), `${this.table}:${name}`), cert_der: pair.cert.der, created_at: at.toISOString() })
      .execute();
  }
}
