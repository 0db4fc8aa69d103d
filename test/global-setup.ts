/**
 * No test leaves a temporary directory behind (they hold keys): after the whole run, any
 * `airlock-*` directory in the system's temporary directory that was not there before fails
 * the run, by name.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

const ours = () => new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('airlock-')));

export default function setup(): () => void {
  const before = ours();
  return () => {
    const left = [...ours()].filter((n) => !before.has(n));
    if (left.length > 0)
      throw new Error(
        `tests left ${left.length} temporary director${left.length === 1 ? 'y' : 'ies'}: ${left.join(', ')}`,
      );
  };
}
