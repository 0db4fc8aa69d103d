/**
 * A throwaway PostgreSQL server for tests and benchmarks, from the distribution's binaries
 * (Debian: /usr/lib/postgresql/<version>/bin; else initdb and pg_ctl on PATH).
 *
 *   const pg = await startPostgres();
 *   if ('skipped' in pg) ... // no PostgreSQL here: say `skipped: ${pg.skipped}`
 *   const url = await createDatabase(pg.url, 'network_test'); // a fresh database, for one test file
 *   ...
 *   await pg.stop();
 *
 * The cluster lives in a temporary directory (os.tmpdir()/airlock-pg-*) that stop() removes:
 * data, log, and the unix socket. PostgreSQL refuses to run as root, so when the tests run as
 * root the directory is given to the `postgres` user (Debian's package creates it) and initdb
 * and pg_ctl run as that user (runuser, or su). The server listens on 127.0.0.1 only, on a free
 * port picked here (never 5432, where a cluster installed by the package may run), and on a
 * socket inside the temporary directory. Over TCP it asks for a password (SCRAM) generated for
 * this cluster, which the returned URL carries; durability is off (fsync, synchronous_commit,
 * full_page_writes), which a cluster thrown away at the end can afford.
 *
 * No vitest here: bench/ uses it too.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/airlock */
  url: string;
  /** Stops the server (immediate shutdown) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const DATABASE = 'airlock';

/**
 * A server, or why there is none. With AIRLOCK_REQUIRE_POSTGRES=1 (CI sets it) there is no
 * "why": a missing server is an error, so that the PostgreSQL tests cannot pass by skipping.
 */
export async function startPostgres(): Promise<PostgresServer | { skipped: string }> {
  const found = await findServer();
  if ('skipped' in found && process.env.AIRLOCK_REQUIRE_POSTGRES === '1')
    throw new Error(`AIRLOCK_REQUIRE_POSTGRES=1, but: ${found.skipped}`);
  return found;
}

async function findServer(): Promise<PostgresServer | { skipped: string }> {
  const bin = findBinaries();
  if (!bin)
    return {
      skipped:
        'PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on PATH (Debian: apt-get install postgresql)',
    };
  let runAs: RunAs | undefined;
  if (process.getuid?.() === 0) {
    const user = systemUser(SUPERUSER);
    if (!user)
      return {
        skipped: `running as root, and there is no '${SUPERUSER}' user to run PostgreSQL as (PostgreSQL refuses to run as root)`,
      };
    const wrapper = findOnPath('runuser') ?? findOnPath('su');
    if (!wrapper)
      return {
        skipped: `running as root, and neither runuser nor su is there to run PostgreSQL as '${SUPERUSER}'`,
      };
    runAs = { ...user, name: SUPERUSER, wrapper };
  }

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-pg-'));
  const data = path.join(dir, 'data');
  const socket = path.join(dir, 'socket');
  const log = path.join(dir, 'server.log');
  const pgCtl = path.join(bin, 'pg_ctl');
  let started = false;
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  // If the process ends without stop() (a crash, a forgotten stop), the server must not outlive it.
  const onExit = () => {
    if (started) {
      try {
        execFileSync(...command(runAs, pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w']), {
          cwd: os.tmpdir(),
          stdio: 'ignore',
        });
      } catch {
        /* already stopped */
      }
    }
    removeDir();
  };
  process.on('exit', onExit);

  try {
    fs.mkdirSync(socket, { mode: 0o700 });
    const password = randomBytes(18).toString('base64url');
    const pwfile = path.join(dir, 'pwfile');
    fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
    if (runAs) for (const p of [dir, socket, pwfile]) fs.chownSync(p, runAs.uid, runAs.gid);

    // Over the socket (in a directory only the server's user may enter): trust; over TCP: the password.
    await run(
      runAs,
      path.join(bin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        SUPERUSER,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        `--pwfile=${pwfile}`,
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      dir,
    );
    fs.rmSync(pwfile);
    fs.appendFileSync(
      path.join(data, 'postgresql.conf'),
      [
        '',
        '# airlock test cluster (test/support/postgres-server.ts)',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${socket}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'shared_buffers = 32MB',
        'max_connections = 100',
        '',
      ].join('\n'),
    );

    // A free port now may be taken before the server binds it (other test files start servers
    // too): then another port.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await run(
          runAs,
          pgCtl,
          ['start', '-D', data, '-l', log, '-w', '-t', '30', '-o', `-p ${port}`],
          dir,
        );
        started = true;
        break;
      } catch (err) {
        const text = readLog(log);
        if (attempt < 5 && /could not bind|address already in use/i.test(text)) continue;
        throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${text}`);
      }
    }

    const admin = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    const url = await createDatabase(admin, DATABASE);
    let stopped: Promise<void> | undefined;
    return {
      url,
      stop: () =>
        (stopped ??= (async () => {
          process.off('exit', onExit);
          try {
            await run(runAs, pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w'], dir);
          } finally {
            removeDir();
          }
        })()),
    };
  } catch (err) {
    process.off('exit', onExit);
    onExit();
    throw err;
  }
}

/**
 * Creates database `name` on the server at `url` (any database of it) and returns the URL of
 * the new one: a test file that takes its own database shares no state with the others.
 */
export async function createDatabase(url: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new TypeError(`not a plain database name: ${name}`);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
  });
  await client.connect();
  try {
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

interface RunAs {
  name: string;
  uid: number;
  gid: number;
  /** runuser or su, by full path. */
  wrapper: string;
}

/** The command line that runs `bin args` as `runAs` (no shell, except su's, with every word quoted). */
function command(runAs: RunAs | undefined, bin: string, args: string[]): [string, string[]] {
  if (!runAs) return [bin, args];
  if (path.basename(runAs.wrapper) === 'runuser')
    return [runAs.wrapper, ['-u', runAs.name, '--', bin, ...args]];
  const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return [runAs.wrapper, [runAs.name, '-s', '/bin/sh', '-c', quoted]];
}

function run(runAs: RunAs | undefined, bin: string, args: string[], cwd: string): Promise<void> {
  const [file, argv] = command(runAs, bin, args);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      argv,
      { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (err)
          reject(
            new Error(
              `${path.basename(bin)} ${args[0] ?? ''} failed: ${err.message}\n${stdout}${stderr}`.trim(),
            ),
          );
        else resolve();
      },
    );
  });
}

/** The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl, else the PATH's. */
function findBinaries(): string | undefined {
  const has = (dir: string) => ['initdb', 'pg_ctl'].every((b) => isExecutable(path.join(dir, b)));
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = fs
      .readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    /* not Debian's layout */
  }
  for (const v of versions) {
    const dir = path.join(root, v, 'bin');
    if (has(dir)) return dir;
  }
  const initdb = findOnPath('initdb');
  return initdb && has(path.dirname(initdb)) ? path.dirname(initdb) : undefined;
}

function findOnPath(cmd: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/sbin',
    '/usr/bin',
    '/bin',
  ];
  return dirs
    .filter(Boolean)
    .map((d) => path.join(d, cmd))
    .find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The uid and gid of a user from /etc/passwd. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  let passwd = '';
  try {
    passwd = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid && gid) return { uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
