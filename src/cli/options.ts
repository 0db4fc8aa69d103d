/**
 * Command-line values, checked before anything is created: ports, URLs, directories and
 * names. Each refusal is ERR_CONFIG with a hint naming the option to change. `run` wraps a
 * command so that a refused or failed command leaves behind no directory it created.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AirlockError } from '../core/errors.js';
import { fail, isSafeText } from './output.js';
import type { EcPublicJwk } from '../adapters/http/verifier-client.js';
import { readVerifierTrustFile } from '../roles/verifier/trust.js';

function refuse(message: string, hint: string): AirlockError {
  return new AirlockError('ERR_CONFIG', message, { details: { hint } });
}

/** A TCP port, 0 (any free port) to 65535. */
export function parsePort(value: string, option: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || !Number.isInteger(n) || n > 65_535)
    throw refuse(
      `${option} ${JSON.stringify(value)} is not a port`,
      `give ${option} a whole number from 0 to 65535`,
    );
  return n;
}

/** An https URL with no credentials, query or fragment; returned without a trailing slash. */
export function parseHttpsUrl(value: string, option: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw refuse(
      `${option} ${JSON.stringify(value)} is not a URL`,
      `give ${option} an https URL, e.g. https://127.0.0.1:8443`,
    );
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.search || u.hash)
    throw refuse(
      `${option} must be a plain https URL`,
      `give ${option} an https URL, e.g. https://127.0.0.1:8443`,
    );
  return u.href.replace(/\/$/, '');
}

/** A display name given on the command line: 1 to 128 characters, none of them control or bidirectional characters. */
export function parseName(value: string, option: string): string {
  if (
    [...value].length < 1 ||
    [...value].length > 128 ||
    !isSafeText(value) ||
    value.trim() !== value
  ) {
    throw refuse(
      `${option} must be 1 to 128 characters with no control or bidirectional characters and no surrounding spaces`,
      `choose another ${option}`,
    );
  }
  return value;
}

/** The absolute path of a directory option; refused if something that is not a directory is there. */
export function directoryPath(value: string, option: string): string {
  const dir = path.resolve(value);
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir, { throwIfNoEntry: false });
  } catch {
    st = undefined; // ENOTDIR: something on the way is a file
    if (!fs.statSync(path.dirname(dir), { throwIfNoEntry: false })?.isDirectory())
      throw refuse(
        `${option} ${dir} is not a directory`,
        `give ${option} a directory (or a path where one can be made)`,
      );
  }
  if (st && !st.isDirectory())
    throw refuse(
      `${option} ${dir} is not a directory`,
      `give ${option} a directory (or a path where one can be made)`,
    );
  return dir;
}

/** An output directory: absent or empty. */
export function emptyDirectoryPath(value: string, option: string): string {
  const dir = directoryPath(value, option);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0)
    throw refuse(`${option} ${dir} is not empty`, `give ${option} a new or empty directory`);
  return dir;
}

/** A listen failure as ERR_CONFIG when the port is taken, naming the option that changes it. */
export function portError(e: unknown, option: (port: number | undefined) => string): unknown {
  const err = e as NodeJS.ErrnoException & { port?: number };
  if (err?.code === 'EADDRINUSE')
    return refuse(
      `port ${err.port ?? ''} is in use`.replace(/ {2}/, ' '),
      `choose another port with ${option(err.port)}`,
    );
  if (err?.code === 'EACCES')
    return refuse(
      `port ${err.port ?? ''} may not be used by this user`,
      `choose another port with ${option(err.port)}`,
    );
  if (err?.code === 'EADDRNOTAVAIL')
    return refuse("the address to listen on is not this machine's", 'choose another with --host');
  return e;
}

/** Directories a command created, removed again if it fails. */
export class Created {
  readonly #dirs: string[] = [];

  /** `dir`, remembering to remove it on failure if it does not exist yet (from its first missing ancestor). */
  track(dir: string): string {
    let top: string | undefined;
    for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) top = d;
    if (top) this.#dirs.push(top);
    return dir;
  }

  removeAll(): void {
    for (const d of this.#dirs.reverse()) fs.rmSync(d, { recursive: true, force: true });
  }
}

/** Runs a command; on failure removes the directories it created, prints the error and exits 1. */
export async function run(fn: (created: Created) => Promise<void>): Promise<void> {
  const created = new Created();
  try {
    await fn(created);
  } catch (e) {
    try {
      created.removeAll();
    } finally {
      fail(e);
    }
  }
}

/** What `--database-url` says in --help. */
export const DATABASE_URL_HELP =
  "the role's records in PostgreSQL: postgres://user@host/db, the password in PGPASSWORD or ~/.pgpass (default: AIRLOCK_DATABASE_URL; else SQLite in the data directory)";

/**
 * `--database-url`, checked: a postgres:// URL, or ERR_CONFIG. Absent: nothing (AIRLOCK_DATABASE_URL,
 * else SQLite). A password in it is visible to every local user in the process list: it is
 * refused, and belongs in PGPASSWORD, ~/.pgpass or AIRLOCK_DATABASE_URL.
 */
export function databaseUrlOption(value: string | undefined): { databaseUrl?: string } {
  if (value === undefined) return {};
  const hint = 'postgres://user@host:5432/database, with the password in PGPASSWORD or ~/.pgpass';
  if (!/^postgres(ql)?:\/\/\S+$/i.test(value))
    throw new AirlockError('ERR_CONFIG', '--database-url must be a postgres:// URL', {
      details: { hint },
    });
  let password = false;
  try {
    const u = new URL(value);
    password = u.password !== '' || u.searchParams.has('password');
  } catch {
    throw new AirlockError('ERR_CONFIG', '--database-url is not a URL', { details: { hint } });
  }
  if (password)
    throw new AirlockError(
      'ERR_CONFIG',
      '--database-url may not carry a password: the process list shows it',
      { details: { hint } },
    );
  return { databaseUrl: value };
}

/** A JSON file given on the command line; ERR_CONFIG when it cannot be read or parsed. */
export function readJsonFile(file: string, what = 'a JSON file'): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', `${file} is not a readable JSON file`, {
      cause,
      details: { hint: `give the path of ${what}` },
    });
  }
}

/** A text file given on the command line; ERR_CONFIG when it cannot be read. */
export function readTextFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new AirlockError('ERR_CONFIG', `${file} cannot be read`, {
      cause,
      details: { hint: 'give the path of a readable file' },
    });
  }
}

/**
 * The verifier `--verifier-url` and `--verifier-trust` name (both, or neither: ERR_CONFIG),
 * its trust file read (`airlock verifier trust-bundle`).
 */
export function namedVerifier(o: { verifierUrl?: string; verifierTrust?: string }): {
  url?: string;
  trust?: { tlsCaPem: string; earKey: EcPublicJwk };
} {
  if ((o.verifierUrl === undefined) !== (o.verifierTrust === undefined))
    throw new AirlockError('ERR_CONFIG', '--verifier-url and --verifier-trust go together');
  if (o.verifierUrl === undefined || o.verifierTrust === undefined) return {};
  return {
    url: parseHttpsUrl(o.verifierUrl, '--verifier-url'),
    trust: readVerifierTrustFile(readJsonFile(o.verifierTrust, 'a verifier trust file')),
  };
}
