/**
 * End-to-end helpers for the workers (`workers/presence.ts`, `workers/archive.ts`): a real worker
 * process (Node or Deno) on a free port (WORKER_PORT=0, read from its start log line), its
 * `/health` and `/metrics`, and a few Redis/MongoDB helpers the worker tests share.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cluster } from 'ioredis';
import type { Runtime } from './server.ts';
import { sleep } from './server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type WorkerKind = 'presence' | 'archive';

/** One running worker process. */
export type Worker = {
  kind: WorkerKind;
  runtime: Runtime;
  pid: number;
  port: number;
  url: string;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
  /** Everything the process wrote so far. */
  output(): string;
  /** `/metrics` as a sum per metric name (labels summed over; histogram series keep their suffixes). */
  metrics(): Promise<Record<string, number>>;
  /** `/health`: the HTTP status and the JSON body. */
  health(): Promise<{ status: number; body: Record<string, unknown> }>;
};

const running = new Set<Worker>();

function command(kind: WorkerKind, runtime: Runtime): [string, string[]] {
  const entry = `workers/${kind}.ts`;
  // Started directly (not through npx) so that signals reach the worker itself.
  if (runtime === 'node') return [process.execPath, ['--import', 'tsx', entry]];
  return [`${ROOT}node_modules/.bin/deno`, ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', entry]];
}

/** Parses Prometheus text exposition into a sum per metric name. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    const name = m[1] as string;
    out[name] = (out[name] ?? 0) + value;
  }
  return out;
}

/**
 * Starts a worker with `env` (REDIS_CLUSTER_NODES and MONGO_URL at least) and waits for its start
 * line `"msg":"worker started",…,"port":N`.
 */
export async function startWorker(kind: WorkerKind, runtime: Runtime, env: Record<string, string>, timeoutMs = 45_000): Promise<Worker> {
  const [cmd, args] = command(kind, runtime);
  const child: ChildProcess = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', NO_COLOR: '1', WORKER_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let port = 0;
  const onData = (d: Buffer) => {
    out += d.toString();
    if (port === 0) {
      const m = /"msg":"worker started"[^\n]*?"port":(\d+)/.exec(out);
      if (m) port = Number(m[1]);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const worker: Worker = {
    kind,
    runtime,
    pid: child.pid ?? -1,
    port: 0,
    url: '',
    exited,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      running.delete(worker);
      if (exitCode !== undefined) return exitCode;
      try {
        // A stopped (SIGSTOP) process does not act on SIGTERM until continued.
        process.kill(child.pid ?? -1, 'SIGCONT');
      } catch {
        // gone
      }
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    metrics: async () => {
      const res = await fetch(`${worker.url}/metrics`);
      if (!res.ok) throw new Error(`${kind} worker /metrics answered ${res.status}`);
      return parseMetrics(await res.text());
    },
    health: async () => {
      const res = await fetch(`${worker.url}/health`);
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
  };
  running.add(worker);
  const deadline = Date.now() + timeoutMs;
  while (port === 0) {
    if (exitCode !== undefined) {
      running.delete(worker);
      throw new Error(`${runtime} ${kind} worker exited with ${exitCode} before it started:\n${out}`);
    }
    if (Date.now() > deadline) {
      running.delete(worker);
      child.kill('SIGKILL');
      throw new Error(`${runtime} ${kind} worker did not log its start within ${timeoutMs} ms:\n${out}`);
    }
    await sleep(50);
  }
  worker.port = port;
  worker.url = `http://127.0.0.1:${port}`;
  return worker;
}

/** Kills every worker still running (for afterAll/afterEach). */
export async function stopAllWorkers(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  await Promise.all([...running].map((w) => w.stop(signal)));
}

/** A MongoDB database name no other test uses. */
export const dbName = () => `t_${Math.random().toString(36).slice(2, 10)}`;

/** `mongodb://host:port/` + `db` (keeps a query string, if any, after the path). */
export function mongoUrlFor(base: string, db: string): string {
  const u = new URL(base);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Pending and lag of a consumer group over the given streams (XINFO GROUPS). */
export async function groupBacklog(
  redis: Cluster,
  streams: readonly string[],
  group: string,
): Promise<{ pending: number; lag: number; consumers: number }> {
  let pending = 0;
  let lag = 0;
  let consumers = 0;
  for (const s of streams) {
    const groups = (await redis.xinfo('GROUPS', s).catch(() => [] as unknown[])) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info['name'] !== group) continue;
      pending += Number(info['pending'] ?? 0);
      lag += Number(info['lag'] ?? 0) || 0;
      consumers += Number(info['consumers'] ?? 0);
    }
  }
  return { pending, lag, consumers };
}

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}
