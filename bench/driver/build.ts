/**
 * Builds the lean load driver (bench/driver/, Go) into .data/bin/parley-driver (ignored by git):
 *
 *   npx tsx bench/driver/build.ts      # prints the binary's path; a no-op when it matches its sources
 *
 * The binary is rebuilt whenever the sources change: a hash of bench/driver/*.go (tests aside), go.mod
 * and go.sum is kept beside it. Its unit tests (the frame scanner, both wire protocols, the histograms):
 * `cd bench/driver && go test ./...` (the bench smoke test runs them too). A cold build fetches one
 * module (gorilla/websocket) through the Go module proxy and takes about 40 s on 2 cores with an empty Go
 * build cache; a rebuild, a second or two.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const SRC = join(ROOT, 'bench', 'driver');
export const DRIVER_BIN = join(ROOT, '.data', 'bin', 'parley-driver');
const STAMP = `${DRIVER_BIN}.sha256`;

/** A hash of the driver's sources. */
function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(SRC).filter((f) => (f.endsWith('.go') && !f.endsWith('_test.go')) || f === 'go.mod' || f === 'go.sum').sort()) {
    h.update(f).update('\0').update(readFileSync(join(SRC, f))).update('\0');
  }
  return h.digest('hex');
}

/** `parley-driver version`'s version, or undefined when the binary is missing or broken. */
export async function driverVersion(bin = DRIVER_BIN): Promise<string | undefined> {
  if (!existsSync(bin)) return undefined;
  try {
    const { stdout } = await run(bin, ['version'], { timeout: 10_000 });
    return /parley-driver (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/** Runs the driver's Go unit tests; resolves with their output, rejects with it when they fail. */
export async function testDriver(): Promise<string> {
  const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
  try {
    const { stdout } = await run(go, ['test', './...'], { cwd: SRC, timeout: 600_000 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`go test (bench/driver) failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}` || e.message}`);
  }
}

/** The path of a driver binary built from the current sources, building it when needed. */
export async function buildDriver(log: (line: string) => void = () => undefined): Promise<string> {
  const hash = sourceHash();
  if (existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === hash && (await driverVersion())) return DRIVER_BIN;
  const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
  mkdirSync(join(ROOT, '.data', 'bin'), { recursive: true });
  const tmp = `${DRIVER_BIN}.${process.pid}`;
  const started = Date.now();
  try {
    await run(go, ['build', '-trimpath', '-o', tmp, '.'], { cwd: SRC, env: { ...process.env, CGO_ENABLED: '0' }, timeout: 600_000, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('go is not installed (needed to build the load driver): install Go ≥ 1.24');
    throw new Error(`go build (bench/driver) failed: ${(e.stderr || e.message).trim().slice(-4000)}`);
  }
  renameSync(tmp, DRIVER_BIN);
  writeFileSync(STAMP, `${hash}\n`);
  const version = await driverVersion();
  if (!version) throw new Error('the built parley-driver does not run');
  log(`parley-driver ${version} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return DRIVER_BIN;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  buildDriver((l) => console.error(l)).then(
    (bin) => console.log(bin),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
