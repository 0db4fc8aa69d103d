/**
 * FreeRADIUS 3.2's configuration for Airlock's network (docs/RADIUS.md): Debian's own tree,
 * copied, with its virtual servers replaced by two of Airlock's and its `eap` and `sql` modules
 * by Airlock's.
 *
 * - `airlock`: listens for Access-Requests from the clients named (an 802.1X authenticator:
 *   hostapd, a switch, an access point) and runs EAP; anything that is not EAP is rejected.
 * - EAP-TLS only: the device's certificate must chain to the owner's domain CA, and its common
 *   name must be the EAP identity (`check_cert_cn`), so a device cannot present its certificate
 *   under another device's name. With a CRL, the certificate must not be in the domain CA's CRL
 *   (`check_crl`), which FreeRADIUS re-reads every 300 s at most (CA_RELOAD_SECONDS).
 * - `airlock-device`, run by EAP-TLS once the handshake has verified the certificate: one
 *   query through rlm_sql to the view `radius_devices` in Airlock's database (never its inner
 *   tables) for the certificate's name and serial number. A row admits the device with its
 *   VLAN as RADIUS tunnel attributes (RFC 3580); no row rejects it. So a device onboarded,
 *   moved, quarantined, decommissioned or re-onboarded (its old certificate's serial no longer
 *   matches) takes effect at its next authentication, with no reload.
 *
 * Secrets never reach these files: the RADIUS shared secret, the password of the server's
 * encrypted private key and the password of a PostgreSQL database are read from the environment
 * of FreeRADIUS's process (`$ENV{...}`).
 */
import { AirlockError } from '../../core/errors.js';
import { ipVersion, isAddressOrPrefix } from '../../core/ip.js';

/** The environment variables FreeRADIUS reads its secrets from. */
export const RADIUS_ENV = {
  secret: 'AIRLOCK_RADIUS_SECRET',
  keyPassword: 'AIRLOCK_RADIUS_KEY_PASSWORD',
  /** PostgreSQL's password, escaped for libpq (postgresPassword): rlm_sql quotes it as is. */
  databasePassword: 'AIRLOCK_RADIUS_DB_PASSWORD',
} as const;

/** libpq's sslmode values. */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type PostgresSslMode = (typeof SSL_MODES)[number];

/** Where FreeRADIUS reads the network's database: never its password (that is passed apart). */
export interface PostgresConnection {
  /** A DNS name or an IP address. */
  host: string;
  port: number;
  user: string;
  database: string;
  /** The role's schema, which holds the view (FreeRADIUS's search_path). */
  schema: string;
  sslmode?: PostgresSslMode;
}

/** The network's database: its SQLite file (absolute), or PostgreSQL. */
export type FreeRadiusDatabase = { sqlite: string } | { postgresql: PostgresConnection };

/**
 * A postgres:// (or postgresql://) URL as FreeRADIUS can be given it: the connection, and the
 * password apart, which must only reach FreeRADIUS's environment. Of the URL's parameters only
 * `sslmode` (and `password`) are carried; any other is ERR_CONFIG rather than dropped. No message
 * holds the URL, which may hold the password.
 */
export function postgresFromUrl(
  url: string,
  schema: string,
): { connection: PostgresConnection; password: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new AirlockError('ERR_CONFIG', 'the database URL does not parse');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new AirlockError('ERR_CONFIG', 'the database URL must be a postgres:// URL');
  let sslmode: string | undefined;
  let password: string | undefined;
  for (const [name, value] of u.searchParams) {
    if (name === 'sslmode') sslmode = value;
    else if (name === 'password') password = value;
    else
      throw new AirlockError(
        'ERR_CONFIG',
        `FreeRADIUS cannot be given the database URL's parameter ${JSON.stringify(name.slice(0, 40))}; only sslmode`,
      );
  }
  const decode = (s: string, what: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new AirlockError('ERR_CONFIG', `the database URL's ${what} does not decode`);
    }
  };
  const user = decode(u.username, 'user');
  const database = decode(u.pathname.replace(/^\//, ''), 'database name') || user;
  const connection: PostgresConnection = {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port === '' ? 5432 : Number(u.port),
    user,
    database,
    schema,
    ...(sslmode !== undefined ? { sslmode: sslmode as PostgresSslMode } : {}),
  };
  return { connection, password: password ?? decode(u.password, 'password') };
}

/**
 * The password as FreeRADIUS's environment must hold it: rlm_sql_postgresql writes it into
 * libpq's connection string between single quotes as it is, so `\` and `'` are escaped here.
 */
export function postgresPassword(password: string): string {
  return password.replace(/[\\']/g, '\\$&');
}

export interface FreeRadiusConfigOptions {
  /** The configuration directory being written (absolute). */
  dir: string;
  /** Where FreeRADIUS listens for authentication requests. */
  listen: { address: string; port: number };
  /** The authenticators allowed to ask (an address or prefix each), all with the one secret. */
  clients: readonly string[];
  /** Files in `dir`: the server's certificate chain, its encrypted key, the domain CA. */
  files: { certificate: string; key: string; ca: string };
  /**
   * The CA file holds the domain CA's CRL too: EAP-TLS checks revocation (`check_crl`), and
   * FreeRADIUS re-reads the file every CA_RELOAD_SECONDS. `caPath` is a directory of `dir`
   * (empty): FreeRADIUS 3.2 reloads its store only when `ca_path` is set, and then re-reads
   * `ca_file` and `ca_path` both (src/main/tls.c, tls_new_session and fr_init_x509_store).
   */
  crl?: { caPath: string };
  /** The network's database: its SQLite file, or PostgreSQL (whose password is never here). */
  database: FreeRadiusDatabase;
  /**
   * Instead of the database, a static allowlist in rlm_files' format (absolute path): the
   * benchmark's reference only (bench/connect.ts), the configuration Airlock replaces.
   */
  staticAllowlist?: string;
}

/**
 * How often, at most, FreeRADIUS re-reads its CA file, and so the CRL in it
 * (`ca_path_reload_interval`): 300 s is the least FreeRADIUS 3.2 takes. The reload happens as a
 * new TLS session starts, once the interval has passed; neither a HUP nor `radmin hup eap`
 * reloads it (rlm_eap is not HUP-safe).
 */
export const CA_RELOAD_SECONDS = 300;

/** The eap module's lines that make EAP-TLS check the CRL in the CA file, and re-read it. */
function crlLines(caPath: string): string {
  return `    ca_path = ${quote(caPath)}
    ca_path_reload_interval = ${CA_RELOAD_SECONDS}
    check_crl = yes
    allow_expired_crl = no
`;
}

/**
 * The device's check, after the TLS handshake verified its certificate: one query of the view
 * for its name and certificate serial. A row admits it with its VLAN; no row rejects it.
 */
const SQL_CHECK = `    update control {
      &Tmp-String-0 := "%{sql:SELECT vlan FROM radius_devices WHERE serial = '%{TLS-Client-Cert-Common-Name}' AND certificate_serial = '%{TLS-Client-Cert-Serial}'}"
    }
    if (&control:Tmp-String-0 && &control:Tmp-String-0 != "") {
      update reply {
        &Tunnel-Type := VLAN
        &Tunnel-Medium-Type := IEEE-802
        &Tunnel-Private-Group-Id := "%{control:Tmp-String-0}"
      }
      update control {
        &Auth-Type := Accept
      }
    }
    else {
      update control {
        &Auth-Type := Reject
      }
    }`;

/** The benchmark's reference: the same decision from a static rlm_files allowlist. */
const STATIC_CHECK = `    airlock_static
    if (ok || updated) {
      update control {
        &Auth-Type := Accept
      }
    }
    else {
      update control {
        &Auth-Type := Reject
      }
    }`;

/** The files Airlock writes over Debian's tree, by path relative to `dir`. */
export function freeRadiusFiles(o: FreeRadiusConfigOptions): Record<string, string> {
  const q = quote;
  // Written into the configuration unquoted: each is checked to be what it says.
  if (
    ipVersion(o.listen.address) === 0 ||
    !Number.isInteger(o.listen.port) ||
    o.listen.port < 1 ||
    o.listen.port > 65535
  )
    throw new AirlockError('ERR_CONFIG', 'FreeRADIUS listens at an IP address and a port');
  if (o.clients.length === 0 || !o.clients.every((c) => isAddressOrPrefix(c, false)))
    throw new AirlockError('ERR_CONFIG', "FreeRADIUS's clients are IP addresses or prefixes");
  const connection = sqlConnection(o.database);
  const clients = o.clients
    .map(
      (address, i) => `  client airlock_${i} {
    ipaddr = ${address}
    secret = $ENV{${RADIUS_ENV.secret}}
    require_message_authenticator = yes
  }`,
    )
    .join('\n');
  const site = `# Written by Airlock: docs/RADIUS.md. Changes are overwritten at start.
server airlock {
  listen {
    type = auth
    ipaddr = ${o.listen.address}
    port = ${o.listen.port}
  }
${clients}
  authorize {
    eap {
      ok = return
      updated = return
    }
    reject
  }
  authenticate {
    eap
  }
  post-auth {
    Post-Auth-Type REJECT {
      eap
    }
  }
}

server airlock-device {
  authorize {
${o.staticAllowlist !== undefined ? STATIC_CHECK : SQL_CHECK}
  }
}
`;
  const eap = `# Written by Airlock: EAP-TLS against the owner's domain CA, nothing else.
eap {
  default_eap_type = tls
  timer_expire = 60
  ignore_unknown_eap_types = no
  max_sessions = \${max_requests}
  tls-config tls-common {
    private_key_password = $ENV{${RADIUS_ENV.keyPassword}}
    private_key_file = ${q(o.files.key)}
    certificate_file = ${q(o.files.certificate)}
    ca_file = ${q(o.files.ca)}
${o.crl ? crlLines(o.crl.caPath) : ''}    check_cert_cn = %{User-Name}
    cipher_list = "DEFAULT"
    ecdh_curve = "prime256v1"
    tls_min_version = "1.2"
    tls_max_version = "1.2"
    cache {
      enable = no
    }
    ocsp {
      enable = no
    }
  }
  tls {
    tls = tls-common
    virtual_server = airlock-device
  }
}
`;
  const sqlModule = `# Written by Airlock: the network's database, read through the view radius_devices only.
sql {
${connection}
  read_clients = no
  # As many connections as FreeRADIUS has threads (Debian: 32): a request never waits for one,
  # and never finds none (the check would then reject the device).
  pool {
    start = 4
    min = 4
    max = \${thread[pool].max_servers}
    spare = 8
    uses = 0
    lifetime = 0
    idle_timeout = 60
  }
}
`;
  const staticModule: Record<string, string> =
    o.staticAllowlist === undefined
      ? {}
      : {
          'mods-enabled/airlock_static': `files airlock_static {
  key = "%{TLS-Client-Cert-Common-Name}"
  filename = ${q(o.staticAllowlist)}
}
`,
        };
  return {
    ...staticModule,
    'sites-enabled/airlock': site,
    'mods-enabled/eap': eap,
    'mods-enabled/sql': sqlModule,
  };
}

/**
 * The sql module's connection. SQLite: the network's file (WAL: read while Airlock writes).
 * PostgreSQL: each value checked to be what it says; the password from the environment; each
 * session's search_path the role's schema, its transactions read-only.
 */
function sqlConnection(database: FreeRadiusDatabase): string {
  if ('sqlite' in database)
    return `  dialect = "sqlite"
  driver = "rlm_sql_sqlite"
  sqlite {
    filename = ${quote(database.sqlite)}
    busy_timeout = 1000
  }`;
  const c = database.postgresql;
  if (!isHostName(c.host) && ipVersion(c.host) === 0)
    throw new AirlockError('ERR_CONFIG', "the database's host is not a DNS name or an IP address");
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535)
    throw new AirlockError('ERR_CONFIG', "the database's port is not 1 to 65535");
  // Written between quotes, in FreeRADIUS's configuration and in libpq's connection string.
  const name = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
  if (!name.test(c.user))
    throw new AirlockError('ERR_CONFIG', "the database's user name is not letters, digits, _ . -");
  if (!name.test(c.database))
    throw new AirlockError('ERR_CONFIG', "the database's name is not letters, digits, _ . -");
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(c.schema))
    throw new AirlockError('ERR_CONFIG', "the database's schema is not a plain name");
  if (c.sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(c.sslmode))
    throw new AirlockError(
      'ERR_CONFIG',
      `the database's sslmode is one of ${SSL_MODES.join(', ')}`,
    );
  const sslmode = c.sslmode !== undefined ? ` sslmode='${c.sslmode}'` : '';
  return `  dialect = "postgresql"
  driver = "rlm_sql_postgresql"
  server = "${c.host}"
  port = ${c.port}
  login = "${c.user}"
  password = $ENV{${RADIUS_ENV.databasePassword}}
  # libpq's own parameters: the database, TLS, and each session's schema and read-only transactions.
  radius_db = "dbname='${c.database}'${sslmode} options='-c search_path=${c.schema} -c default_transaction_read_only=on'"
  postgresql {
    send_application_name = yes
  }`;
}

/** A DNS name: labels of letters, digits and hyphens. */
function isHostName(s: string): boolean {
  return (
    s.length <= 253 &&
    /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
      s,
    )
  );
}

/**
 * Debian's radiusd.conf made Airlock's: run as the user that starts it, from `dir`, its pid file
 * and logs in `dir/run`, no proxying.
 */
export function editRadiusdConf(text: string, dir: string): string {
  const replaced = text
    .replace(/^(\s*)user = freerad/m, '$1#user = freerad')
    .replace(/^(\s*)group = freerad/m, '$1#group = freerad')
    .replace(/^raddbdir = .*$/m, `raddbdir = ${quote(dir)}`)
    .replace(/^run_dir = .*$/m, `run_dir = ${quote(`${dir}/run`)}`)
    .replace(/^logdir = .*$/m, `logdir = ${quote(`${dir}/run`)}`)
    .replace(/^(\s*)proxy_requests\s*=\s*yes/m, '$1proxy_requests = no')
    // Every rejection logged, with the device's name: what an administrator asks first.
    .replace(/^#(\s*)auth_reject = no/m, '$1auth_reject = yes');
  for (const needed of ['raddbdir = "', 'run_dir = "', 'logdir = "'])
    if (!replaced.includes(needed))
      throw new AirlockError('ERR_CONFIG', `radiusd.conf: no ${needed.split(' ')[0]} line to set`);
  return replaced;
}

/** A FreeRADIUS double-quoted string; paths Airlock chose, checked to need no escaping. */
function quote(s: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(s))
    throw new AirlockError('ERR_CONFIG', `not a plain path: ${JSON.stringify(s)}`);
  return `"${s}"`;
}
