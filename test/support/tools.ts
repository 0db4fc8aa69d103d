/** Whether a program is on the PATH: tests of other software say `skipped:` without it. */
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
