#!/usr/bin/env node
// Runs the CLI from its TypeScript sources, so that `npx airlock` works right after `npm ci`.
//
// The sources are bundled into one JavaScript module with esbuild (the transpiler tsx uses;
// packages stay external), kept under node_modules/.cache/airlock and made again whenever a
// source file changes. Loading the sources through tsx's module hooks took about 2.5 s per
// start, most of it resolving every file of Kysely and the other packages through the hooks;
// the bundle starts in about 0.5 s (docs/BENCHMARKS.md, "CLI start-up"). Should bundling fail
// (a read-only tree, say), the sources run through tsx as before.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const cache = path.join(root, 'node_modules', '.cache', 'airlock');
const bundle = path.join(cache, 'cli.mjs');
const stampFile = path.join(cache, 'cli.stamp');

/** What the bundle was made from: every source file's path, size and modification time. */
function sourceStamp() {
  const parts = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && p.endsWith('.ts')) {
        const s = fs.statSync(p);
        parts.push(`${path.relative(src, p)}:${s.size}:${s.mtimeMs}`);
      }
    }
  };
  walk(src);
  return parts.sort().join('\n');
}

async function bundled() {
  try {
    const stamp = sourceStamp();
    if (
      fs.existsSync(bundle) &&
      fs.existsSync(stampFile) &&
      fs.readFileSync(stampFile, 'utf8') === stamp
    )
      return bundle;
    const { build } = await import('esbuild');
    fs.mkdirSync(cache, { recursive: true });
    // Several processes may start at once: each writes its own files, then renames them into place.
    const tmp = `${bundle}.${process.pid}.tmp`;
    await build({
      entryPoints: [path.join(src, 'cli', 'main.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile: tmp,
      logLevel: 'silent',
    });
    fs.writeFileSync(`${stampFile}.${process.pid}.tmp`, stamp);
    fs.renameSync(tmp, bundle);
    fs.renameSync(`${stampFile}.${process.pid}.tmp`, stampFile);
    return bundle;
  } catch {
    return undefined;
  }
}

const file = await bundled();
if (file) {
  await import(pathToFileURL(file).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
