/**
 * Whether a database error is a unique (or primary key) violation, on SQLite or PostgreSQL:
 * what a repository maps to "already exists" (a replayed nonce, a key certified twice).
 */
const SQLITE_UNIQUE = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY']);
/** SQLSTATE unique_violation. */
const PG_UNIQUE = '23505';

export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  const code = (err as { code: unknown }).code;
  return code === PG_UNIQUE || (typeof code === 'string' && SQLITE_UNIQUE.has(code));
}
