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
    const child = execFile('openssl', args, { encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    // openssl may exit before it reads its input (most commands never do): a closed pipe is not an error here.
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input ?? '');
  });
}
