/** Running the other software that tests use: whether it is there (tests say `skipped:` without it), and openssl. */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Runs openssl with `args` (and `input` on its stdin); its stdout, or the error it failed with. */
export function openssl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { encoding: 'utf8' }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
    // openssl may exit before it reads its input (most commands never do): a closed pipe is not an error here.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input ?? '');
  });
}

/**
 * curl over TLS 1.2 exactly (--tlsv1.2 --tls-max 1.2) with a client certificate, as a pledge
 * built from standard tools; the body lands in a file under `dir`.
 */
export async function curlTls12(
  dir: string,
  url: string,
  args: string[],
  cert: { cert: string; key: string },
) {
  const out = path.join(dir, `body-${Math.random().toString(36).slice(2)}`);
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      'curl',
      [
        '-sS',
        '--tlsv1.2',
        '--tls-max',
        '1.2',
        '--cert',
        cert.cert,
        '--key',
        cert.key,
        '-o',
        out,
        '-w',
        '%{http_code}|%{content_type}',
        ...args,
        url,
      ],
      { encoding: 'utf8' },
      (err, so) => (err ? reject(err) : resolve(so)),
    );
  });
  const [status, contentType] = stdout.trim().split('|');
  return {
    status: Number(status),
    contentType: contentType ?? '',
    body: fs.readFileSync(out),
    bodyFile: out,
  };
}
