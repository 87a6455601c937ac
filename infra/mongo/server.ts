/**
 * The local MongoDB-compatible server: FerretDB v1 (SQLite backend) embedded in the small Go
 * program beside this file, built with the machine's Go.
 *
 *   npx tsx infra/mongo/server.ts up|down|status
 *
 * Port `MONGO_PORT` (27018) on 127.0.0.1; the binary is built into `.data/bin/parley-mongo` when it
 * is missing or older than main.go/go.mod/go.sum; data (SQLite), pid file and log live under
 * `.data/mongo-<port>/`. `up` is idempotent: a healthy server this script started on that port is
 * reused. It prints `MONGO_URL=mongodb://127.0.0.1:<port>/` once the server answers `ping`.
 * `down` stops exactly the process in the pid file and removes the data.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const SRC = resolve(import.meta.dirname);
const BIN = join(ROOT, '.data', 'bin', 'parley-mongo');

export type MongoOptions = { port?: number; dataDir?: string; logLevel?: 'debug' | 'info' | 'warn' | 'error' };
export type Mongo = { url: string; port: number; pid: number; dir: string };

function settings(opts: MongoOptions) {
  const port = opts.port ?? Number(process.env['MONGO_PORT'] ?? 27018);
  if (!Number.isInteger(port) || port < 1024 || port > 65535) {
    throw new Error(`MONGO_PORT: expected a port from 1024 to 65535, got ${port}`);
  }
  const host = '127.0.0.1';
  const dir = opts.dataDir ?? join(ROOT, '.data', `mongo-${port}`);
  return {
    port, host, dir,
    url: `mongodb://${host}:${port}/`,
    pidFile: join(dir, 'mongo.pid'),
    logFile: join(dir, 'mongo.log'),
    dbDir: join(dir, 'db'),
    logLevel: opts.logLevel ?? process.env['MONGO_LOG_LEVEL'] ?? 'info',
  };
}

/** Builds the binary if it is missing or older than its sources; reuses Go's module and build caches. */
export async function build(): Promise<string> {
  const sources = ['main.go', 'go.mod', 'go.sum'].map((f) => statSync(join(SRC, f)).mtimeMs);
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= Math.max(...sources)) return BIN;
  await run('go', ['version']).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT'
      ? 'go is not installed (needed once to build .data/bin/parley-mongo): install Go ≥ 1.24 (Debian 12\'s golang-go is too old)'
      : `go version failed: ${err.message}`);
  });
  mkdirSync(join(ROOT, '.data', 'bin'), { recursive: true });
  const tmp = `${BIN}.tmp-${process.pid}`;
  try {
    await run('go', ['build', '-o', tmp, '.'], { cwd: SRC, timeout: 600_000, maxBuffer: 16 << 20 });
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`go build failed: ${(e.stderr || e.message).trim()}`);
  }
  renameSync(tmp, BIN);
  return BIN;
}

/** A plain TCP probe first: the driver would wait out its server selection timeout on a closed port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect({ host, port, timeout: 1000 });
    const end = (ok: boolean) => { sock.destroy(); done(ok); };
    sock.once('connect', () => end(true)).once('error', () => end(false)).once('timeout', () => end(false));
  });
}

async function ping(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  if (!(await listening(hostname, Number(port)))) return false;
  const client = new MongoClient(url, { directConnection: true, serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    return (await client.db('admin').command({ ping: 1 }))['ok'] === 1;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** True if `pid` is alive and is our binary (guards against a reused pid). */
function ours(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]?.endsWith('parley-mongo') ?? false;
  } catch {
    return true; // no /proc (macOS): trust the pid file
  }
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Starts (or reuses) the server and waits until it answers `ping`. */
export async function up(opts: MongoOptions = {}): Promise<Mongo> {
  const s = settings(opts);
  const running = readPid(s.pidFile);
  if (running && ours(running) && (await ping(s.url))) return { url: s.url, port: s.port, pid: running, dir: s.dir };
  await down(opts);
  if (await ping(s.url)) throw new Error(`port ${s.port} already answers MongoDB but was not started by this script; set MONGO_PORT`);
  const bin = await build();
  mkdirSync(s.dbDir, { recursive: true });
  const log = openSync(s.logFile, 'a');
  const child = spawn(bin, ['-listen', `${s.host}:${s.port}`, '-data-dir', s.dbDir, '-log-level', s.logLevel], {
    cwd: ROOT, detached: true, stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${bin}`);
  writeFileSync(s.pidFile, `${pid}\n`);
  let exited: number | null | undefined;
  child.on('exit', (code) => { exited = code; });
  child.unref();
  const deadline = Date.now() + 15_000;
  while (!(await ping(s.url))) {
    if (exited !== undefined || Date.now() > deadline) {
      const why = exited !== undefined ? `exited with ${exited}` : 'did not answer ping within 15 s';
      const msg = `parley-mongo ${why}; ${s.logFile}:\n${tail(s.logFile)}`;
      await down(opts);
      throw new Error(msg);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: s.url, port: s.port, pid, dir: s.dir };
}

/** Stops exactly the process in the pid file (SIGTERM, then SIGKILL after 5 s) and removes its data. */
export async function down(opts: MongoOptions = {}): Promise<void> {
  const s = settings(opts);
  const pid = readPid(s.pidFile);
  if (pid && ours(pid)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const deadline = Date.now() + 5_000;
    while (ours(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (ours(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  rmSync(s.dir, { recursive: true, force: true });
}

async function status(opts: MongoOptions = {}): Promise<void> {
  const s = settings(opts);
  const pid = readPid(s.pidFile);
  const state = (await ping(s.url)) ? 'up' : 'down';
  console.log(`${s.url} ${state} pid=${pid && ours(pid) ? pid : '-'}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const cmd = process.argv[2];
  const main = async () => {
    if (cmd === 'up') console.log(`MONGO_URL=${(await up()).url}`);
    else if (cmd === 'down') await down();
    else if (cmd === 'status') await status();
    else throw new Error('usage: server.ts up|down|status');
  };
  main().catch((err: unknown) => {
    console.error(`mongo: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
