/**
 * FreeRADIUS's configuration text (src/adapters/radius/freeradius-config.ts, docs/RADIUS.md)
 * for a network on PostgreSQL: the connection from the database URL, each value checked before
 * it is written, and the password in no file (FreeRADIUS reads it from its environment). The
 * real FreeRADIUS reading it: test/e2e/radius-postgres.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  freeRadiusFiles,
  postgresFromUrl,
  postgresPassword,
  RADIUS_ENV,
  type FreeRadiusConfigOptions,
  type PostgresConnection,
} from '../../src/adapters/radius/freeradius-config.js';
import { isAirlockError } from '../../src/core/errors.js';
import { codeOf } from '../support/errors.js';

const PASSWORD = `it's a \\ "pass" $ENV{PATH} %{x}`;

const base: Omit<FreeRadiusConfigOptions, 'database'> = {
  dir: '/var/lib/airlock/raddb',
  listen: { address: '127.0.0.1', port: 1812 },
  clients: ['127.0.0.1'],
  files: {
    certificate: '/var/lib/airlock/raddb/airlock-server.pem',
    key: '/var/lib/airlock/raddb/airlock-server.key',
    ca: '/var/lib/airlock/raddb/airlock-ca.pem',
  },
};

const pg: PostgresConnection = {
  host: 'db.example.net',
  port: 5433,
  user: 'airlock',
  database: 'airlock',
  schema: 'airlock_network',
  sslmode: 'verify-full',
};

const sqlOf = (postgresql: PostgresConnection) =>
  freeRadiusFiles({ ...base, database: { postgresql } })['mods-enabled/sql']!;

describe('postgresFromUrl', () => {
  it('takes the connection from the URL and the password apart', () => {
    const url = `postgresql://airlock:${encodeURIComponent(PASSWORD)}@db.example.net:5433/fleet?sslmode=require`;
    expect(postgresFromUrl(url, 'airlock_network')).toEqual({
      connection: {
        host: 'db.example.net',
        port: 5433,
        user: 'airlock',
        database: 'fleet',
        schema: 'airlock_network',
        sslmode: 'require',
      },
      password: PASSWORD,
    });
    // The defaults: port 5432, the database named after the user; an IPv6 address unbracketed.
    expect(postgresFromUrl('postgres://u@[::1]', 's').connection).toEqual({
      host: '::1',
      port: 5432,
      user: 'u',
      database: 'u',
      schema: 's',
    });
    expect(postgresFromUrl('postgres://u@h/d?password=p%27w', 's').password).toBe("p'w");
  });

  it('refuses a parameter it cannot carry, naming it and never the password', () => {
    let error: unknown;
    try {
      postgresFromUrl(`postgres://u:${encodeURIComponent(PASSWORD)}@h/d?sslrootcert=/x`, 's');
    } catch (e) {
      error = e;
    }
    expect(isAirlockError(error) && error.code).toBe('ERR_CONFIG');
    expect((error as Error).message).toContain('sslrootcert');
    expect(JSON.stringify(error)).not.toContain('pass');
    expect((error as Error).message).not.toContain('pass');
    expect(codeOf(() => postgresFromUrl('mysql://u@h/d', 's'))).toBe('ERR_CONFIG');
    expect(codeOf(() => postgresFromUrl('not a url', 's'))).toBe('ERR_CONFIG');
  });

  it("escapes the password for libpq's quoted value", () => {
    expect(postgresPassword(`a'b\\c"d`)).toBe(`a\\'b\\\\c"d`);
  });
});

describe('the sql module on PostgreSQL', () => {
  it("connects with the URL's values, its password from the environment only", () => {
    const files = freeRadiusFiles({ ...base, database: { postgresql: pg } });
    const sql = files['mods-enabled/sql']!;
    expect(sql).toContain('dialect = "postgresql"');
    expect(sql).toContain('driver = "rlm_sql_postgresql"');
    expect(sql).toContain('server = "db.example.net"');
    expect(sql).toContain('port = 5433');
    expect(sql).toContain('login = "airlock"');
    expect(sql).toContain(`password = $ENV{${RADIUS_ENV.databasePassword}}`);
    expect(RADIUS_ENV.databasePassword).toBe('AIRLOCK_RADIUS_DB_PASSWORD');
    expect(sql).toContain(
      `radius_db = "dbname='airlock' sslmode='verify-full' options='-c search_path=airlock_network -c default_transaction_read_only=on'"`,
    );
    // The pool and the check are those of SQLite.
    expect(sql).toContain('max = ${thread[pool].max_servers}');
    const sqlite = freeRadiusFiles({
      ...base,
      database: { sqlite: '/var/lib/airlock/network.db' },
    });
    expect(sqlite['mods-enabled/sql']).toContain('dialect = "sqlite"');
    expect(files['sites-enabled/airlock']).toBe(sqlite['sites-enabled/airlock']);
    expect(files['sites-enabled/airlock']).toContain('SELECT vlan FROM radius_devices');
    // No password in any file: there is none to write.
    for (const text of Object.values(files)) expect(text).not.toMatch(/pass"|it's/);
    // No sslmode in the URL: none written (libpq's default).
    const { sslmode: _, ...noSslmode } = pg;
    expect(sqlOf(noSslmode)).not.toContain('sslmode');
    expect(sqlOf({ ...pg, host: '10.0.0.5' })).toContain('server = "10.0.0.5"');
    expect(sqlOf({ ...pg, host: 'fd00::5' })).toContain('server = "fd00::5"');
  });

  it.each<[string, Partial<PostgresConnection>]>([
    ['a host with a quote', { host: 'db"; exec' }],
    ['a host with a space', { host: 'db example' }],
    ['a host with a slash (a socket directory)', { host: '/var/run/postgresql' }],
    ['a host percent-encoded', { host: 'db%2Fx' }],
    ['an empty host', { host: '' }],
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['a port not an integer', { port: 5432.5 }],
    ['a user with a quote', { user: "air'lock" }],
    ['a user with a space', { user: 'air lock' }],
    ['a database with =', { database: 'a=b' }],
    ['a database with $', { database: '${x}' }],
    ['a schema with a space', { schema: 'airlock network' }],
    ['an sslmode libpq does not know', { sslmode: 'always' as PostgresConnection['sslmode'] }],
  ])('refuses %s: ERR_CONFIG', (_, change) => {
    expect(codeOf(() => sqlOf({ ...pg, ...change }))).toBe('ERR_CONFIG');
  });
});
