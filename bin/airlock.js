#!/usr/bin/env node
// Runs the CLI from its TypeScript sources, so that `npx airlock` works right after `npm ci`.
//
// The sources are bundled into one JavaScript module with esbuild (the transpiler tsx uses;
// packages stay external), kept under node_modules/.cache/airlock and made again whenever a
// source file changes. Loading the sources through tsx's module hooks took about 2.5 s per
// start, most of it resolving every file of Kysely and the other packages through the hooks;
// the bundle starts in 0.75 to 1.3 s (docs/BENCHMARKS.md, "CLI start-up"). Should bundling fail
// (a read-only tree, say), the sources run through tsx as before.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const cache = path.join(root, 'node_modules', '.cache', 'airlock');

/** What a bundle is made from: every source file's path, size and modification time, and the compiler settings. */
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
  for (const f of ['tsconfig.json', 'package.json']) {
    const s = fs.statSync(path.join(root, f));
    parts.push(`${f}:${s.size}:${s.mtimeMs}`);
  }
  return parts.sort().join('\n');
}

/**
 * The bundle of these very sources: its name is the hash of what it was made from, so a name
 * that exists is a bundle of the current sources, written whole (one file, renamed into place).
 */
async function bundled() {
  try {
    const name = `cli-${createHash('sha256').update(sourceStamp()).digest('hex').slice(0, 32)}.mjs`;
    const bundle = path.join(cache, name);
    if (fs.existsSync(bundle)) {
      // Used now: the sweep below counts an hour from the last start, not from the build.
      const now = new Date();
      fs.utimesSync(bundle, now, now);
      return bundle;
    }
    const { build } = await import('esbuild');
    fs.mkdirSync(cache, { recursive: true });
    // Several processes may start at once: each writes its own file, then renames it into place.
    const tmp = `${bundle}.${process.pid}.tmp`;
    try {
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
      fs.renameSync(tmp, bundle);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    // Bundles of older sources go once no process has started from one for an hour.
    for (const old of fs.readdirSync(cache)) {
      const p = path.join(cache, old);
      if (old.startsWith('cli-') && old !== name && Date.now() - fs.statSync(p).mtimeMs > 3_600_000)
        fs.rmSync(p, { force: true });
    }
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
