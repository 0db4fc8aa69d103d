/**
 * The CLI on PostgreSQL (a real server, test/support/postgres-server.ts): `--database-url` and
 * AIRLOCK_DATABASE_URL put a role's records in PostgreSQL, not in the data directory; a second
 * data directory (a second node) with the same database and key-encryption key sees the same
 * network; a database that holds no network is refused, creating nothing; a URL that is not
 * PostgreSQL's is ERR_CONFIG.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, startPostgres, type PostgresServer } from '../support/postgres-server.js';

const exec = promisify(execFile);
const bin = fileURLToPath(new URL('../../bin/airlock.js', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-cli-db-'));

const started = await startPostgres();
const server: PostgresServer | undefined = 'skipped' in started ? undefined : started;
if ('skipped' in started) console.log(`skipped: ${started.skipped}`);

afterAll(async () => {
  fs.rmSync(root, { recursive: true, force: true });
  await server?.stop();
});

async function airlock(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], {
      cwd: root,
      timeout: 60_000,
      env: { ...process.env, AIRLOCK_DATABASE_URL: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('a database URL on the command line', () => {
  it('refuses a URL that is not PostgreSQL, creating nothing', async () => {
    const dir = path.join(root, 'bad-url');
    const r = await airlock(
      {},
      'network',
      'init',
      '--data-dir',
      dir,
      '--database-url',
      'mysql://x/y',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_CONFIG/);
    expect(r.stderr).toMatch(/hint: postgres:\/\//);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('refuses a password in --database-url (the process list shows it), and a mistyped AIRLOCK_DATABASE_URL', async () => {
    const dir = path.join(root, 'password-url');
    const r = await airlock(
      {},
      'network',
      'init',
      '--data-dir',
      dir,
      '--database-url',
      'postgres://u:hunter2@db/airlock',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ERR_CONFIG/);
    expect(r.stderr).toMatch(/PGPASSWORD/);
    expect(r.stderr).not.toMatch(/hunter2/);
    // Never a SQLite file named after the mistyped URL: that would be another network.
    const typo = await airlock(
      { AIRLOCK_DATABASE_URL: 'postgress://db/airlock' },
      'network',
      'init',
      '--data-dir',
      dir,
    );
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/ERR_CONFIG/);
    expect(fs.existsSync(path.join(root, 'postgress:'))).toBe(false);
  });
});

describe.skipIf(!server)('two nodes on one PostgreSQL, through the CLI', () => {
  it('keeps the records in PostgreSQL, shared by a second data directory with the same keys', async () => {
    const url = await createDatabase(server!.url, 'cli_nodes');
    // On the command line without its password, which comes from PGPASSWORD.
    const bare = new URL(url);
    const PGPASSWORD = decodeURIComponent(bare.password);
    bare.password = '';
    const keks = {
      AIRLOCK_NETWORK_KEK: randomBytes(32).toString('base64'),
      AIRLOCK_MANUFACTURER_KEK: randomBytes(32).toString('base64'),
      PGPASSWORD,
    };
    const shared = { ...keks, AIRLOCK_DATABASE_URL: url };
    const node1 = path.join(root, 'node1');
    const node2 = path.join(root, 'node2');

    // No roles in the database yet: a command that only reads is refused, and makes no keys.
    const none = await airlock(shared, 'network', 'devices', '--data-dir', node2, '--json');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/ERR_CONFIG/);
    expect(fs.existsSync(node2)).toBe(false);

    const m = await airlock(
      keks,
      'manufacturer',
      'init',
      '--data-dir',
      node1,
      '--database-url',
      bare.toString(),
    );
    expect(m.code).toBe(0);
    const n = await airlock(
      keks,
      'network',
      'init',
      '--data-dir',
      node1,
      '--database-url',
      bare.toString(),
      '--owner',
      'Shared Site',
    );
    expect(n.code).toBe(0);
    expect(fs.existsSync(path.join(node1, 'network.db'))).toBe(false);
    expect(fs.existsSync(path.join(node1, 'manufacturer.db'))).toBe(false);

    // The second node's own (empty) directory: the same roles, from the database.
    fs.mkdirSync(node2, { recursive: true });
    const devices = await airlock(shared, 'network', 'devices', '--data-dir', node2, '--json');
    expect(devices.code).toBe(0);
    expect(JSON.parse(devices.stdout)).toEqual([]);
    const exported = await airlock(shared, 'network', 'export-declarations', '--data-dir', node2);
    expect(exported.code).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({
      format: 'airlock-declarations/1',
      devices: [],
    });
    expect(fs.readdirSync(node2)).toEqual([]);
  });
});
