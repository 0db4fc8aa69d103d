/**
 * Queries built once and compiled once, then run with values: Kysely compiles a query every
 * time it is built, which on the onboarding path cost about as much as SQLite running it
 * (docs/BENCHMARKS.md). A prepared query is written with Kysely as usual, with a named
 * placeholder (`p.serial` below) where a value goes; the first run compiles it for that
 * database's dialect and remembers the SQL text and where each named value goes, and every
 * run binds the values in that order.
 *
 *   const selectState = prepared((db: Kysely<NetworkDb>, p: Params<'serial'>) =>
 *     db.selectFrom('net_devices').select('state').where('serial', '=', p.serial));
 *   const rows = await selectState.rows(trx, { serial });
 *
 * Only values can be parameters (not identifiers, and not lists: an `in` list is as long as it
 * was when compiled). A value not given when running is an error, never a silent null.
 */
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';

const PARAM = Symbol('prepared parameter');

interface Placeholder {
  readonly [PARAM]: string;
}

/** The named placeholders a prepared query is built with. */
export type Params<K extends string> = { readonly [P in K]: never };

function isPlaceholder(v: unknown): v is Placeholder {
  return typeof v === 'object' && v !== null && PARAM in v;
}

const placeholders = new Proxy({} as Record<string, Placeholder>, {
  get: (_t, name) => (typeof name === 'string' ? Object.freeze({ [PARAM]: name }) : undefined),
});

interface Compiled {
  sql: string;
  /** For each bound parameter: the name of a value, or a constant compiled into the query. */
  slots: Array<{ name: string } | { value: unknown }>;
}

export interface PreparedQuery<K extends string, Row> {
  /** Runs the query on `db` (a database or a transaction), with `values` bound by name. */
  run(db: Kysely<any>, values: { readonly [P in K]: unknown }): Promise<QueryResult<Row>>;
  /** The rows it returns. */
  rows(db: Kysely<any>, values: { readonly [P in K]: unknown }): Promise<Row[]>;
  /** The first row it returns, if any. */
  first(db: Kysely<any>, values: { readonly [P in K]: unknown }): Promise<Row | undefined>;
}

type RowOf<Q> = Q extends Compilable<infer R> ? R : never;

export function prepared<DB, K extends string, Q extends Compilable<any>>(
  build: (db: Kysely<DB>, p: Params<K>) => Q,
): PreparedQuery<K, RowOf<Q>> {
  // One compilation per dialect: a transaction shares its database's adapter.
  const byAdapter = new WeakMap<object, Compiled>();
  const compiled = (db: Kysely<any>): Compiled => {
    const adapter = db.getExecutor().adapter;
    let c = byAdapter.get(adapter);
    if (!c) {
      const q = build(db as Kysely<DB>, placeholders as unknown as Params<K>).compile();
      c = {
        sql: q.sql,
        slots: q.parameters.map((v) => (isPlaceholder(v) ? { name: v[PARAM] } : { value: v })),
      };
      byAdapter.set(adapter, c);
    }
    return c;
  };
  const run = async (
    db: Kysely<any>,
    values: Record<string, unknown>,
  ): Promise<QueryResult<RowOf<Q>>> => {
    const c = compiled(db);
    const parameters = c.slots.map((s) => {
      if (!('name' in s)) return s.value;
      const v = values[s.name];
      if (v === undefined) throw new TypeError(`prepared query: no value for ${s.name}`);
      return v;
    });
    return db.executeQuery<RowOf<Q>>(CompiledQuery.raw(c.sql, parameters));
  };
  return {
    run,
    rows: async (db, values) => (await run(db, values)).rows,
    first: async (db, values) => (await run(db, values)).rows[0],
  };
}
