/**
 * The unit of work over Kysely (core/store.ts), for SQLite and PostgreSQL alike: the
 * repositories are built on the transaction (or the database) the work runs on, so nothing
 * in them can reach past it.
 *
 * SQLite: Kysely's driver runs one statement or one transaction at a time per process, and
 * the embedded database belongs to one process; a row "lock" there is the transaction itself.
 * PostgreSQL: transactions are READ COMMITTED; work that changes a device locks its row first
 * (SELECT ... FOR UPDATE), and constraints decide every race on a key.
 */
import { PostgresAdapter, type Kysely } from 'kysely';
import type { UnitOfWork } from '../../core/store.js';

export type Dialect = 'sqlite' | 'postgres';

function dialectOf(db: Kysely<any>): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

export class KyselyUnitOfWork<DB, R> implements UnitOfWork<R> {
  readonly dialect: Dialect;
  /** The repositories outside any transaction: built once, they hold nothing but the database. */
  readonly #outside: R;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly repositories: (db: Kysely<DB>, dialect: Dialect) => R,
  ) {
    this.dialect = dialectOf(db);
    this.#outside = repositories(db, this.dialect);
  }

  transaction<T>(work: (repos: R) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(this.repositories(trx, this.dialect)));
  }

  run<T>(work: (repos: R) => Promise<T>): Promise<T> {
    return work(this.#outside);
  }
}
