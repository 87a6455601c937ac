/**
 * Builds k6 from its Go module, pinned, into .data/bin/k6 (ignored by git):
 *
 *   npx tsx bench/k6/build.ts          # prints the binary's path; a no-op when that version is there
 *
 * k6 is not packaged for Debian, so it is built with the machine's Go (`go install` with GOBIN into a
 * temporary folder, then moved into place). A cold build downloads ~100 modules and takes about 1.5 min
 * on 2 cores; Go's build cache makes a rebuild take seconds.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
/** The pinned release (the last v1.x on the Go module proxy when the scenarios were written). */
export const K6_VERSION = 'v1.8.1';
export const K6_BIN = join(ROOT, '.data', 'bin', 'k6');

/** `k6 version`'s first word after "k6", or undefined when the binary is missing or broken. */
export async function k6Version(bin = K6_BIN): Promise<string | undefined> {
  if (!existsSync(bin)) return undefined;
  try {
    const { stdout } = await run(bin, ['version'], { timeout: 10_000 });
    return /k6 (v\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** The path of a k6 binary of the pinned version, building it when needed. */
export async function buildK6(log: (line: string) => void = () => undefined): Promise<string> {
  if ((await k6Version()) === K6_VERSION) return K6_BIN;
  const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
  await run(go, ['version']).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? 'go is not installed (needed once to build k6): install Go ≥ 1.24' : `go version failed: ${err.message}`);
  });
  const tmp = join(ROOT, '.data', `k6-build-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  log(`building k6 ${K6_VERSION} with go install (about 1.5 min when cold) …`);
  const started = Date.now();
  try {
    await run(go, ['install', '-trimpath', `go.k6.io/k6@${K6_VERSION}`], {
      env: { ...process.env, GOBIN: tmp, CGO_ENABLED: '0' },
      timeout: 900_000,
      maxBuffer: 64 << 20,
    });
    mkdirSync(join(ROOT, '.data', 'bin'), { recursive: true });
    renameSync(join(tmp, 'k6'), K6_BIN);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go install go.k6.io/k6@${K6_VERSION} failed: ${(e.stderr || e.message).trim().slice(-4000)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const version = await k6Version();
  if (version !== K6_VERSION) throw new Error(`built k6 reports ${version ?? 'nothing'}, expected ${K6_VERSION}`);
  log(`k6 ${version} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return K6_BIN;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  buildK6((l) => console.error(l)).then(
    (bin) => console.log(bin),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
