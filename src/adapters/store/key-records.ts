/**
 * A role's named key pairs (core/store.ts KeyRecords): the private key sealed, with its
 * certificate, in the role's `*_keys` table.
 */
import type { Kysely } from 'kysely';
import type { KeyRecords } from '../../core/store.js';
import type { KeyTable } from './schema.js';

type KeyDb = Record<'mfg_keys' | 'net_keys' | 'ver_keys', KeyTable>;

export function kyselyKeyRecords(db: Kysely<any>, table: keyof KeyDb): KeyRecords {
  const keys = db as Kysely<KeyDb>;
  return {
    async get(name) {
      const row = await keys
        .selectFrom(table)
        .select(['sealed_key', 'cert_der'])
        .where('name', '=', name)
        .executeTakeFirst();
      return row && { sealedKey: row.sealed_key, certDer: new Uint8Array(row.cert_der) };
    },
    async put(name, k, at) {
      await keys
        .insertInto(table)
        .values({
          name,
          sealed_key: k.sealedKey,
          cert_der: k.certDer,
          created_at: at.toISOString(),
        })
        .execute();
    },
  };
}
