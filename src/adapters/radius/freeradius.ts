/**
 * FreeRADIUS run by Airlock (docs/RADIUS.md): its configuration written into a directory of
 * its own (0700), then `freeradius -f -d DIR -l stdout`, ready once it says so. The server's
 * private key is written encrypted (PKCS#8, AES-256-CBC) under a random password; that
 * password, the RADIUS shared secret and PostgreSQL's password reach FreeRADIUS in its
 * environment only, which holds nothing else of Airlock's. Given the domain CA's CRL, it
 * checks revocation, and `updateCrl` replaces the CRL while it runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { AirlockError } from '../../core/errors.js';
import {
  editRadiusdConf,
  freeRadiusFiles,
  postgresPassword,
  RADIUS_ENV,
  type FreeRadiusDatabase,
} from './freeradius-config.js';

export interface FreeRadiusOptions {
  /** The directory the configuration is written to (made, or emptied, here). */
  dir: string;
  listen: { address: string; port: number };
  /** The authenticators allowed to ask: addresses or prefixes. */
  clients: readonly string[];
  /** The RADIUS shared secret of those clients. */
  secret: string;
  /** The server's certificate chain (PEM, leaf first) and its private key (PKCS#8 DER). */
  certificateChainPem: string;
  keyPkcs8: Uint8Array;
  /** The anchors a device's certificate must chain to (PEM): the owner's domain CA. */
  caPem: string;
  /**
   * The domain CA's CRL (one PEM "X509 CRL"). Given, EAP-TLS refuses a certificate it lists
   * (`check_crl`; an expired CRL refuses every one), and `updateCrl` replaces it. It is written
   * into the CA file after the CA; FreeRADIUS re-reads that file at start, then every 300 s at
   * most (freeradius-config.ts, CA_RELOAD_SECONDS).
   */
  crlPem?: string;
  /** The network's database: its SQLite file, or PostgreSQL. */
  database: FreeRadiusDatabase;
  /** PostgreSQL's password: to FreeRADIUS's environment only, never to a file. */
  databasePassword?: string;
  /** A static rlm_files allowlist instead (the benchmark's reference: freeradius-config.ts). */
  staticAllowlist?: string;
  /** Debian's configuration tree, copied first (default /etc/freeradius/3.0). */
  template?: string;
  /** The program (default `freeradius`). */
  binary?: string;
  /** How long it may take to be ready (default 20 s). */
  readyTimeoutMs?: number;
  /** Each line FreeRADIUS logs, once it is ready (default: dropped). It holds no secret. */
  onLog?: (line: string) => void;
}

export class FreeRadius {
  /** The CRL written last, and the writes in order (never an older one over a newer). */
  #crlWrites: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    /** Its CA file and the CA in it, and the CRL there now; none: started without a CRL. */
    private readonly crl: { file: string; caPem: string; pem: string } | undefined,
  ) {}

  /** Writes the configuration and starts FreeRADIUS; resolves once it serves requests. */
  static async start(o: FreeRadiusOptions): Promise<FreeRadius> {
    const dir = path.resolve(o.dir);
    const template = o.template ?? '/etc/freeradius/3.0';
    if (o.secret.length < 16)
      throw new AirlockError('ERR_CONFIG', 'the RADIUS shared secret needs 16 characters or more');
    const files = {
      certificate: path.join(dir, 'airlock-server.pem'),
      key: path.join(dir, 'airlock-server.key'),
      ca: path.join(dir, 'airlock-ca.pem'),
    };
    const caPath = path.join(dir, 'airlock-ca');
    if (o.crlPem !== undefined) checkCrlPem(o.crlPem);
    // Made, and so checked, before anything on disk changes.
    const written = freeRadiusFiles({
      dir,
      listen: o.listen,
      clients: o.clients,
      files,
      ...(o.crlPem !== undefined ? { crl: { caPath } } : {}),
      database: 'sqlite' in o.database ? { sqlite: path.resolve(o.database.sqlite) } : o.database,
      ...(o.staticAllowlist !== undefined ? { staticAllowlist: o.staticAllowlist } : {}),
    });
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(path.dirname(dir), { recursive: true });
    try {
      await fs.cp(template, dir, { recursive: true, verbatimSymlinks: true });
    } catch (cause) {
      throw new AirlockError(
        'ERR_CONFIG',
        `FreeRADIUS's configuration ${template} cannot be read`,
        {
          cause,
          details: { hint: 'install FreeRADIUS 3.2 (Debian: apt-get install freeradius)' },
        },
      );
    }
    await fs.chmod(dir, 0o700);
    await fs.mkdir(path.join(dir, 'run'), { mode: 0o700 });
    const keyPassword = randomBytes(32).toString('base64url');
    const encrypted = createPrivateKey({
      key: Buffer.from(o.keyPkcs8),
      format: 'der',
      type: 'pkcs8',
    }).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: keyPassword });
    await fs.writeFile(files.key, encrypted, { mode: 0o600 });
    await fs.writeFile(files.certificate, o.certificateChainPem, { mode: 0o600 });
    const caPem = o.caPem.endsWith('\n') ? o.caPem : `${o.caPem}\n`;
    await fs.writeFile(files.ca, caPem + (o.crlPem ?? ''), { mode: 0o600 });
    // Empty: there only so that FreeRADIUS reloads its CA store (and so the CRL) at all.
    if (o.crlPem !== undefined) await fs.mkdir(caPath, { mode: 0o700 });
    const conf = path.join(dir, 'radiusd.conf');
    await fs.writeFile(conf, editRadiusdConf(await fs.readFile(conf, 'utf8'), dir));
    // Debian's own sites would listen on every address; the eap and sql modules are replaced.
    for (const f of await fs.readdir(path.join(dir, 'sites-enabled')))
      await fs.rm(path.join(dir, 'sites-enabled', f), { force: true });
    for (const [name, text] of Object.entries(written)) {
      await fs.rm(path.join(dir, name), { force: true });
      await fs.writeFile(path.join(dir, name), text, { mode: 0o600 });
    }

    const child = spawn(o.binary ?? 'freeradius', ['-f', '-d', dir, '-l', 'stdout'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        [RADIUS_ENV.secret]: o.secret,
        [RADIUS_ENV.keyPassword]: keyPassword,
        ...('postgresql' in o.database
          ? { [RADIUS_ENV.databasePassword]: postgresPassword(o.databasePassword ?? '') }
          : {}),
      },
    });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => fail('it was not ready in time'), o.readyTimeoutMs ?? 20_000);
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(
          new AirlockError('ERR_CONFIG', `FreeRADIUS did not start: ${why}`, {
            details: { log: lines.slice(-8).join('\n').slice(0, 2000) },
          }),
        );
      };
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          if (lines.length > 200) lines.shift();
          if (/Ready to process requests/.test(line)) {
            clearTimeout(timer);
            resolve();
          }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (e) => fail(e.message));
      child.once('exit', (code, signal) => fail(`it exited (${code ?? signal})`));
    });
    child.removeAllListeners('exit');
    // Its log keeps flowing, read so that its pipe never fills, and handed on if asked for.
    child.stdout!.removeAllListeners('data');
    child.stderr!.removeAllListeners('data');
    let rest = '';
    const onLog = (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const line of parts) o.onLog?.(line);
    };
    child.stdout!.on('data', onLog);
    child.stderr!.on('data', onLog);
    // FreeRADIUS never outlives the process that runs it, however that process ends: an
    // orphan would go on admitting devices, and hold the port.
    const orphaned = () => child.kill('SIGKILL');
    process.once('exit', orphaned);
    void exited.then(() => process.off('exit', orphaned));
    return new FreeRadius(
      child,
      exited,
      o.crlPem !== undefined ? { file: files.ca, caPem, pem: o.crlPem } : undefined,
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves once FreeRADIUS has exited: stopped, or on its own. */
  whenStopped(): Promise<void> {
    return this.exited;
  }

  /**
   * Replaces the CRL in its CA file (the CA, then `pem`): a new file, mode 0600, renamed over
   * the old one, so FreeRADIUS never reads half of one. FreeRADIUS reads it at its next reload
   * of the CA store, within 300 s (CA_RELOAD_SECONDS); nothing makes it sooner in 3.2. Returns
   * whether the file changed: false when `pem` is the CRL already there, or FreeRADIUS has
   * exited. ERR_CONFIG, nothing changed, for anything but one PEM CRL, or a FreeRADIUS started
   * without one.
   */
  async updateCrl(pem: string): Promise<boolean> {
    const crl = this.crl;
    if (!crl) throw new AirlockError('ERR_CONFIG', 'this FreeRADIUS was started without a CRL');
    checkCrlPem(pem);
    const write = this.#crlWrites.then(async () => {
      if (pem === crl.pem || this.child.exitCode !== null || this.child.signalCode !== null)
        return false;
      const temporary = `${crl.file}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await fs.writeFile(temporary, crl.caPem + pem, { mode: 0o600, flag: 'wx' });
        await fs.rename(temporary, crl.file);
      } catch (cause) {
        await fs.rm(temporary, { force: true });
        throw new AirlockError('ERR_CONFIG', "FreeRADIUS's CA file cannot be written", { cause });
      }
      crl.pem = pem;
      return true;
    });
    this.#crlWrites = write.catch(() => undefined);
    return write;
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** One PEM "X509 CRL" block and nothing else: what may go into FreeRADIUS's CA file. */
function checkCrlPem(pem: string): void {
  if (!/^-----BEGIN X509 CRL-----\n(?:[A-Za-z0-9+/=]{1,76}\n)+-----END X509 CRL-----\n$/.test(pem))
    throw new AirlockError('ERR_CONFIG', 'a CRL for FreeRADIUS is one PEM "X509 CRL" block');
}
