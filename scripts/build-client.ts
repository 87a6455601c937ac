/**
 * Builds the installable @parley/client into packages/client/dist/: ES modules (ES2022) and their
 * `.d.ts`, compiled by tsc from packages/client/src/ with packages/client/tsconfig.build.json.
 * The sources import each other as `./x.ts`; tsc rewrites that to `./x.js` in the JavaScript, and
 * this script does the same in the declarations, so that every consumer's resolver finds them.
 *
 *   npx tsx scripts/build-client.ts        (also: npm run build -w @parley/client; `npm pack` runs it)
 *
 * Inside this repository nothing needs the build: tsconfig.json's `paths` (tsc, tsx, vitest,
 * esbuild) and the Deno workspace map @parley/client to the sources. The demo bundle
 * (scripts/build-demo.ts) and the package's tarball use the build.
 */
import { execFile } from 'node:child_process';
import { readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
export const CLIENT_DIR = join(ROOT, 'packages', 'client');
export const CLIENT_DIST = join(CLIENT_DIR, 'dist');

/**
 * Builds dist/ from scratch (into a temporary folder renamed into place, so that a concurrent
 * reader never sees half a build); resolves with the files written (relative to dist/).
 */
export async function buildClient(): Promise<string[]> {
  const out = `${CLIENT_DIST}.tmp-${process.pid}-${Date.now()}`;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await run(process.execPath, [tsc, '-p', join(CLIENT_DIR, 'tsconfig.build.json'), '--outDir', out], { cwd: CLIENT_DIR, maxBuffer: 16 << 20 });
    const files = (await readdir(out)).sort();
    for (const f of files.filter((f) => f.endsWith('.d.ts'))) {
      const path = join(out, f);
      const text = await readFile(path, 'utf8');
      await writeFile(path, text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2'));
    }
    await rm(CLIENT_DIST, { recursive: true, force: true });
    await rename(out, CLIENT_DIST);
    return files;
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    const e = err as { stdout?: string; message: string };
    throw new Error(`building @parley/client failed:\n${(e.stdout || e.message).trim()}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  buildClient().then(
    (files) => console.error(`built ${files.length} files into ${CLIENT_DIST}`),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
