/**
 * 802.1X against real FreeRADIUS for a network on PostgreSQL (docs/RADIUS.md): the network
 * starts FreeRADIUS, which reads the view `radius_devices` through rlm_sql_postgresql, and
 * eapol_test (hostap's RADIUS client) authenticates with EAP-TLS. An onboarded device is
 * admitted with its segment's VLAN; decommissioned, it is refused at its next authentication by
 * the same FreeRADIUS process. The database's password (one with the characters that need
 * escaping) is in no file under FreeRADIUS's directory: FreeRADIUS is given it in its
 * environment. Needs root, freeradius, eapol_test, rlm_sql_postgresql and PostgreSQL's server
 * binaries: elsewhere it says `skipped: <reason>` (PostgreSQL missing under
 * AIRLOCK_REQUIRE_POSTGRES=1 fails instead, as in the other PostgreSQL tests).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FreeRadius } from '../../src/adapters/radius/freeradius.js';
import { isAirlockError } from '../../src/core/errors.js';
import { keyStoreOf } from '../../src/roles/shared/context.js';
import { startTestSystem, type TestSystem } from '../support/harness.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import {
  eapolTest,
  freeUdpPort,
  onboardedDevice,
  radiusSkipReason,
  type EapFiles,
} from '../support/radius.js';

const SECRET = 'a-radius-secret-of-the-test';
/** The network's own database user's password: quote, backslash, dollar, braces, spaces. */
const PASSWORD = `it's a \\ "pass" $ENV{PATH} %{x} ${randomBytes(6).toString('hex')}`;

function skipReason(): string | undefined {
  const radius = radiusSkipReason();
  if (radius) return radius;
  if (!fs.existsSync('/usr/lib/freeradius/rlm_sql_postgresql.so'))
    return 'rlm_sql_postgresql is not installed (Debian: apt-get install freeradius-postgresql)';
  return undefined;
}
let skip = skipReason();
let server: PostgresServer | undefined;
if (skip === undefined) {
  const started = await startPostgres();
  if ('skipped' in started) skip = started.skipped;
  else server = started;
}
if (skip) console.log(`skipped: ${skip}`);

/** Every file under `dir`, as text. */
function filesUnder(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isFile()) found.set(file, fs.readFileSync(file, 'latin1'));
  }
  return found;
}

describe.skipIf(skip !== undefined)('802.1X through FreeRADIUS on a PostgreSQL network', () => {
  let sys: TestSystem;
  let radius: FreeRadius;
  let port: number;
  let dir: string;
  let raddb: string;
  let databaseUrl: string;
  beforeAll(async () => {
    // The network's database, owned by a user of its own whose password needs escaping.
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    try {
      await admin.query(`create role radius_owner login password ${pg.escapeLiteral(PASSWORD)}`);
      await admin.query('create database radius_pg owner radius_owner');
    } finally {
      await admin.end();
    }
    const u = new URL(server!.url);
    databaseUrl = `postgres://radius_owner:${encodeURIComponent(PASSWORD)}@${u.host}/radius_pg?sslmode=disable`;
    sys = await startTestSystem({ databaseUrl });
    dir = path.join(sys.dir, 'eap');
    fs.mkdirSync(dir, { mode: 0o700 });
    raddb = path.join(sys.dir, 'raddb');
    port = await freeUdpPort();
    radius = await sys.network.startRadius({
      dir: raddb,
      listen: { address: '127.0.0.1', port },
      clients: ['127.0.0.1'],
      secret: SECRET,
      vlans: { default: 101, quarantine: 999 },
    });
  }, 60_000);
  afterAll(async () => {
    await radius?.stop();
    await sys?.close();
    await server?.stop();
  });

  const authenticate = (files: EapFiles) => eapolTest({ dir, port, secret: SECRET, ...files });
  /** An onboarded device's supplicant files, from its secure store. */
  const onboarded = () => onboardedDevice(sys, dir);

  it("admits an onboarded device with its segment's VLAN; decommissioned, the same FreeRADIUS refuses it", async () => {
    const d = await onboarded();
    // The network is on PostgreSQL, and the view there holds the device.
    expect(sys.network.databaseFile).toMatch(/^postgres:\/\//);
    const row = (await sys.network.store.run((x) => x.radius.devices())).find(
      (x) => x.serial === d.serial,
    );
    expect(row).toMatchObject({ vlan: 101 });
    expect(await authenticate(d.files)).toMatchObject({ ok: true, vlan: '101' });
    // FreeRADIUS's sessions: the network's user, its pool open.
    const admin = new pg.Client({ connectionString: server!.url });
    await admin.connect();
    const sessions = await admin
      .query<{ usename: string }>(
        "select usename from pg_stat_activity where application_name like 'FreeRADIUS%'",
      )
      .finally(() => admin.end());
    expect(sessions.rows.length).toBeGreaterThanOrEqual(4);
    expect(new Set(sessions.rows.map((r) => r.usename))).toEqual(new Set(['radius_owner']));

    const pid = radius.pid;
    await sys.network.decommission(d.serial, 'sold');
    expect((await authenticate(d.files)).ok).toBe(false);
    expect(radius.pid).toBe(pid);
    // Another device still gets in: the refusal was the decommissioned one's.
    const other = await onboarded();
    expect(await authenticate(other.files)).toMatchObject({ ok: true, vlan: '101' });
  });

  it("writes the connection to its sql module and the password to no file: it is in FreeRADIUS's environment", () => {
    const files = filesUnder(raddb);
    const sql = files.get(path.join(raddb, 'mods-enabled', 'sql'))!;
    expect(sql).toContain('driver = "rlm_sql_postgresql"');
    expect(sql).toContain('login = "radius_owner"');
    expect(sql).toContain('password = $ENV{AIRLOCK_RADIUS_DB_PASSWORD}');
    expect(files.size).toBeGreaterThan(100);
    const secretParts = [PASSWORD, PASSWORD.slice(-12), encodeURIComponent(PASSWORD)];
    for (const [file, text] of files)
      for (const part of secretParts) expect(text.includes(part), file).toBe(false);
    // Where it is: FreeRADIUS's environment (escaped for libpq's quoted value).
    const environ = fs.readFileSync(`/proc/${radius.pid}/environ`, 'latin1').split('\0');
    const entry = environ.find((e) => e.startsWith('AIRLOCK_RADIUS_DB_PASSWORD='));
    expect(entry?.endsWith(PASSWORD.slice(-12))).toBe(true);
  });

  it('a wrong password: FreeRADIUS does not start, ERR_CONFIG, and the error holds no password', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    let error: unknown;
    try {
      const r = await FreeRadius.start({
        dir: path.join(sys.dir, 'raddb-wrong'),
        listen: { address: '127.0.0.1', port: await freeUdpPort() },
        clients: ['127.0.0.1'],
        secret: SECRET,
        certificateChainPem: sys.network.domainCaPem(),
        keyPkcs8: await keyStoreOf(sys.network.ctx).exportPkcs8(sys.network.pki.radius.key),
        caPem: sys.network.domainCaPem(),
        database: {
          postgresql: {
            host: '127.0.0.1',
            port: Number(new URL(databaseUrl).port),
            user: 'radius_owner',
            database: 'radius_pg',
            schema: 'airlock_network',
          },
        },
        databasePassword: wrong,
      });
      await r.stop();
    } catch (e) {
      error = e;
    }
    expect(isAirlockError(error) && error.code).toBe('ERR_CONFIG');
    const shown = JSON.stringify({
      message: (error as Error).message,
      details: (error as { details?: unknown }).details,
    });
    expect(shown).toContain('password authentication failed');
    expect(shown).not.toContain(wrong);
  }, 60_000);
});
