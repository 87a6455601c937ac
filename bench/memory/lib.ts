/** Shared helpers of the memory benchmarks: child processes, ports, RSS, the in-server probe. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
export const PROBE = resolve(HERE, 'probe.mjs');
export const CLIENTS = resolve(HERE, 'clients.ts');
export const DENO = resolve(ROOT, 'node_modules/.bin/deno');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive()) throw new Error('server exited before listening');
    const ok = await new Promise<boolean>((res) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`port ${port} not listening after ${timeoutMs} ms`);
}

/** /proc/<pid>/status fields in bytes (VmRSS, RssAnon, RssFile, VmHWM …). */
export function procStatus(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (m) out[m[1] as string] = Number(m[2]) * 1024;
  }
  return out;
}

export const rss = (pid: number): number => procStatus(pid).VmRSS ?? Number.NaN;

/** Sends one IPC request to a child and waits for the reply of the given type. */
export function ask<T extends { type: string }>(child: ChildProcess, msg: object, type: string, timeoutMs = 60_000): Promise<T> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      rej(new Error(`no ${type} reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (m: T) => {
      if (m?.type !== type) return;
      clearTimeout(timer);
      child.off('message', on);
      res(m);
    };
    child.on('message', on);
    child.send(msg);
  });
}

/** Waits for the next IPC message of `type` from a child (or rejects when it exits first). */
export function next<T extends { type: string }>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => done(new Error(`no ${type} within ${timeoutMs} ms`)), timeoutMs);
    const onMsg = (m: T) => {
      if (m?.type === type) done(null, m);
    };
    const onExit = (code: number | null) => done(new Error(`child exited (${code}) before ${type}`));
    const done = (err: Error | null, m?: T) => {
      clearTimeout(timer);
      child.off('message', onMsg);
      child.off('exit', onExit);
      if (err) rej(err);
      else res(m as T);
    };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

export type Server = { proc: ChildProcess; pid: number; port: number; runtime: 'node' | 'deno'; tail: () => string };

/**
 * Starts a server entry as a direct child: `node --expose-gc --import tsx --import probe.mjs <entry>`
 * (so the child's pid is the listening process) or the deno binary.
 */
export async function startServer(opts: {
  runtime: 'node' | 'deno';
  entry: string;
  env: Record<string, string>;
  nodeFlags?: string[];
}): Promise<Server> {
  const port = await freePort();
  const env = { ...process.env, ...opts.env, PORT: String(port), HOST: '127.0.0.1' };
  const entry = resolve(ROOT, opts.entry);
  const proc =
    opts.runtime === 'node'
      ? spawn(process.execPath, [...(opts.nodeFlags ?? []), '--expose-gc', '--import', 'tsx', '--import', PROBE, entry], {
          cwd: ROOT,
          env,
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        })
      : spawn(DENO, ['run', '-A', entry], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  let exited = false;
  proc.once('exit', () => {
    exited = true;
  });
  try {
    await waitForPort(port, 30_000, () => !exited);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- server output ---\n${log}`);
  }
  return { proc, pid: proc.pid as number, port, runtime: opts.runtime, tail: () => log };
}

export async function stopChild(proc: ChildProcess, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  if (await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)])) return;
  proc.kill('SIGKILL');
  await gone;
}

export type ClientsHandle = { procs: ChildProcess[]; ready: number; failed: number; ms: number };

/** Opens `conns` idle clients from `procs` load-generator processes (split evenly). */
export async function openClients(o: {
  port: number;
  conns: number;
  join: boolean;
  rooms: number;
  procs: number;
  prefix: string;
  batch?: number;
  concurrency?: number;
  timeoutMs: number;
}): Promise<ClientsHandle> {
  const per = Math.ceil(o.conns / o.procs);
  const procs: ChildProcess[] = [];
  const waits: Promise<{ type: string; ready: number; failed: number; ms: number }>[] = [];
  for (let p = 0; p < o.procs; p++) {
    const n = Math.min(per, o.conns - p * per);
    if (n <= 0) break;
    const args = ['--import', 'tsx', CLIENTS, '--url', `ws://127.0.0.1:${o.port}/ws`, '--conns', String(n), '--offset', String(p * per)];
    args.push('--rooms', String(o.rooms), '--prefix', o.prefix, '--batch', String(o.batch ?? 500), '--concurrency', String(o.concurrency ?? 64));
    if (o.join) args.push('--join');
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    procs.push(child);
    waits.push(next(child, 'ready', o.timeoutMs));
  }
  const t0 = Date.now();
  const results = await Promise.all(waits);
  return {
    procs,
    ready: results.reduce((s, r) => s + r.ready, 0),
    failed: results.reduce((s, r) => s + r.failed, 0),
    ms: Date.now() - t0,
  };
}

/** Closes all clients (closing handshake when graceful) and waits for the generators to exit. */
export async function closeClients(h: ClientsHandle, graceful: boolean): Promise<void> {
  await Promise.all(
    h.procs.map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      try {
        p.send({ cmd: graceful ? 'close' : 'terminate' });
      } catch {
        // already gone
      }
      if (!(await Promise.race([gone.then(() => true), sleep(15_000).then(() => false)]))) {
        p.kill('SIGKILL');
        await gone;
      }
    }),
  );
}

/** First value of each metric name in a Prometheus text page. */
export function parseProm(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && !((m[1] as string) in out)) out[m[1] as string] = Number(m[3]);
  }
  return out;
}

export async function scrape(port: number): Promise<Record<string, number> | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    if (!res.ok) return null;
    return parseProm(await res.text());
  } catch {
    return null;
  }
}
