/**
 * The verifier's repositories (core/store.ts) over Kysely: one implementation for SQLite and
 * PostgreSQL. A session is taken for its evidence by one UPDATE that only a waiting, unexpired
 * session matches: two requests racing for one session cannot both take it (on PostgreSQL the
 * second waits for the first's row lock, then finds it no longer waiting). The statements every
 * attestation runs are compiled once per dialect (prepared.ts).
 */
import type { Kysely } from 'kysely';
import type {
  VerifierReferenceValueStore,
  VerifierRepositories,
  VerifierSessionRecord,
  VerifierSessionState,
  VerifierSessions,
  VerifierStore,
} from '../../core/store.js';
import type { VerifierDb } from './schema.js';
import { prepared, type Params } from './prepared.js';
import { KyselyUnitOfWork, type Dialect } from './unit-of-work.js';
import { kyselyKeyRecords } from './key-records.js';

type Db = Kysely<VerifierDb>;

/** The state of a session while the unit of work that took it runs. */
const TAKEN = 'processing';

function record(row: VerifierDb['ver_sessions']): VerifierSessionRecord {
  return {
    id: row.id,
    nonce: row.nonce,
    expiresAt: row.expires_at,
    // A session seen as taken (only ever inside the unit of work that took it) is not waiting.
    state: (row.state === TAKEN ? 'failed' : row.state) as VerifierSessionState,
    evidenceType: row.evidence_type,
    evidence: row.evidence,
    result: row.result,
  };
}

const sql = {
  add: prepared((db: Db, p: Params<'id' | 'nonce' | 'expires' | 'at'>) =>
    db.insertInto('ver_sessions').values({
      id: p.id,
      nonce: p.nonce,
      expires_at: p.expires,
      state: 'waiting',
      evidence_type: null,
      evidence: null,
      result: null,
      created_at: p.at,
    }),
  ),
  addDone: prepared(
    (
      db: Db,
      p: Params<'id' | 'nonce' | 'expires' | 'state' | 'type' | 'evidence' | 'result' | 'at'>,
    ) =>
      db
        .insertInto('ver_sessions')
        .values({
          id: p.id,
          nonce: p.nonce,
          expires_at: p.expires,
          state: p.state,
          evidence_type: p.type,
          evidence: p.evidence,
          result: p.result,
          created_at: p.at,
        })
        .onConflict((oc) => oc.column('id').doNothing()),
  ),
  get: prepared((db: Db, p: Params<'id' | 'at'>) =>
    db.selectFrom('ver_sessions').selectAll().where('id', '=', p.id).where('expires_at', '>', p.at),
  ),
  take: prepared((db: Db, p: Params<'id' | 'at'>) =>
    db
      .updateTable('ver_sessions')
      .set({ state: TAKEN })
      .where('id', '=', p.id)
      .where('state', '=', 'waiting')
      .where('expires_at', '>', p.at)
      .returningAll(),
  ),
  finish: prepared((db: Db, p: Params<'id' | 'state' | 'type' | 'evidence' | 'result'>) =>
    db
      .updateTable('ver_sessions')
      .set({ state: p.state, evidence_type: p.type, evidence: p.evidence, result: p.result })
      .where('id', '=', p.id),
  ),
  sequences: prepared((db: Db) =>
    db.selectFrom('ver_reference_values').select(['party_id', 'sequence']),
  ),
};

function sessions(db: Db): VerifierSessions {
  return {
    async add(s, at) {
      await sql.add.run(db, {
        id: s.id,
        nonce: s.nonce,
        expires: s.expiresAt.toISOString(),
        at: at.toISOString(),
      });
    },
    async addDone(s, at) {
      const r = await sql.addDone.run(db, {
        id: s.id,
        nonce: s.nonce,
        expires: s.expiresAt,
        state: s.state,
        type: s.evidenceType,
        evidence: s.evidence,
        result: s.result,
        at: at.toISOString(),
      });
      return r.numAffectedRows === 1n;
    },
    async get(id, at) {
      const row = await sql.get.first(db, { id, at: at.toISOString() });
      return row && record(row);
    },
    async take(id, at) {
      const row = await sql.take.first(db, { id, at: at.toISOString() });
      return row && { ...record(row), state: 'waiting' };
    },
    async finish(id, o) {
      await sql.finish.run(db, {
        id,
        state: o.state,
        type: o.evidenceType,
        evidence: o.evidence,
        result: o.result,
      });
    },
    async remove(id) {
      const r = await db.deleteFrom('ver_sessions').where('id', '=', id).executeTakeFirst();
      return r.numDeletedRows > 0n;
    },
    async purge(before) {
      const r = await db
        .deleteFrom('ver_sessions')
        .where('expires_at', '<', before.toISOString())
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}

function referenceValues(db: Db): VerifierReferenceValueStore {
  return {
    async sequences() {
      return (await sql.sequences.rows(db, {})).map((r) => ({
        partyId: r.party_id,
        sequence: Number(r.sequence),
      }));
    },
    async get(partyId) {
      const row = await db
        .selectFrom('ver_reference_values')
        .select(['sequence', 'document'])
        .where('party_id', '=', partyId)
        .executeTakeFirst();
      return row && { sequence: Number(row.sequence), document: row.document };
    },
    async putNewer(d, at) {
      const r = await db
        .insertInto('ver_reference_values')
        .values({
          party_id: d.partyId,
          sequence: d.sequence,
          document: d.document,
          updated_at: at.toISOString(),
        })
        .onConflict((oc) =>
          oc
            .column('party_id')
            .doUpdateSet((eb) => ({
              sequence: eb.ref('excluded.sequence'),
              document: eb.ref('excluded.document'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .where('ver_reference_values.sequence', '<', d.sequence),
        )
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    },
  };
}

export function verifierRepositories(db: Db, _dialect: Dialect): VerifierRepositories {
  return {
    sessions: sessions(db),
    referenceValues: referenceValues(db),
    keys: kyselyKeyRecords(db, 'ver_keys'),
  };
}

export function verifierStore(db: Db): VerifierStore & { dialect: Dialect } {
  return new KyselyUnitOfWork(db, verifierRepositories);
}
