/**
 * End-to-end helpers: a real server process (Node or Deno) on a free port, REST calls, and (from
 * client.ts) a small WebSocket test client that records every event, `batch` frames unwrapped.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { closeAllClients } from './client.ts';

export type Runtime = 'node' | 'deno';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One running server process. */
export type Server = {
  runtime: Runtime;
  url: string;
  wsUrl: string;
  pid: number;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process has exited, however that happened. */
  exited: Promise<number | null>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
};

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function command(runtime: Runtime): [string, string[]] {
  // The runtimes are started directly rather than through `npx`, so that signals reach the server itself.
  if (runtime === 'node') return [process.execPath, ['--import', 'tsx', 'src/main.node.ts']];
  return [`${ROOT}node_modules/.bin/deno`, ['run', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', 'src/main.deno.ts']];
}

/** The JWT secret the e2e servers in jwt mode share with the tests that sign their tokens. */
export const JWT_SECRET = 'e2e-secret-0123456789abcdef';

/**
 * Servers a suite starts for itself, each with its own `env`, killed after the suite whatever
 * happens. Call it inside the suite's `describe`.
 */
export function ownServers(runtime: Runtime): (env: Record<string, string>) => Promise<Server> {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
  });
  return async (env) => {
    const s = await startServer(runtime, env);
    servers.push(s);
    return s;
  };
}

/**
 * The one server of a suite: started with `env` before its first test, stopped after its last (it
 * must exit 0), every client closed after each test. Call it inside the suite's `describe`; it
 * returns the running server.
 */
export function suiteServer(runtime: Runtime, env: Record<string, string> = {}): () => Server {
  let server: Server | undefined;
  beforeAll(async () => {
    server = await startServer(runtime, env);
  });
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });
  afterEach(closeAllClients);
  return () => {
    if (!server) throw new Error('the suite server did not start');
    return server;
  };
}

/** Starts a server with `env` on a free port and waits until `GET /health` answers. */
export async function startServer(runtime: Runtime, env: Record<string, string> = {}, timeoutMs = 45_000): Promise<Server> {
  const port = await freePort();
  const [cmd, args] = command(runtime);
  const child: ChildProcess = spawn(cmd, args, {
    cwd: ROOT,
    // No drain grace unless a test asks for it: there is no load balancer to wait for here.
    env: { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), NO_COLOR: '1', DRAIN_GRACE_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const server: Server = {
    runtime,
    url,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    pid: child.pid ?? -1,
    exited,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${runtime} server exited with ${exitCode} before it was healthy:\n${out}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${runtime} server was not healthy within ${timeoutMs} ms:\n${out}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retries `fn` until it stops throwing; rethrows its last error after `timeoutMs`. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs = 5000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(everyMs);
    }
  }
}

/** A REST call with dev-mode (`X-User`) or jwt (`token`) credentials. */
export async function rest(
  server: Server,
  method: string,
  path: string,
  opts: { user?: string; token?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (opts.user) headers['x-user'] = opts.user;
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

let unique = 0;
/** A name no other test uses: `prefix-<n><random>`, valid as a user and as a public room. */
export const uid = (prefix: string) => `${prefix}-${(++unique).toString(36)}${Math.random().toString(36).slice(2, 7)}`;

export * from './client.ts';
