/**
 * The whole topology as plain local processes: Redis Cluster, the MongoDB-compatible server, N chat
 * instances, the presence and archive workers, HAProxy (one or more processes on one port) and,
 * optionally, nginx in front.
 *
 *   npx tsx infra/stack.ts up [--instances 4] [--presence 1] [--archive 1] [--haproxy 1] [--nginx]
 *                             [--base-port 8000] [--dir .stack] [--env KEY=VALUE]… [--app parley|socketio]
 *   npx tsx infra/stack.ts status [--dir .stack]
 *   npx tsx infra/stack.ts down [--dir .stack]
 *
 * Ports, from the base port B (default 8000, or PARLEY_STACK_BASE_PORT); a stack uses B … B+399 and,
 * for the Redis Cluster bus, B+10020 … B+10025, so two stacks whose base ports differ by at least
 * 400 (and not by exactly 10,000) never collide:
 *
 *   B            the balancer: HAProxy's frontend, shared by every HAProxy process (SO_REUSEPORT)
 *   B+1          nginx (with --nginx)
 *   B+10 + h     HAProxy process h's stats page (h = 0…9), http://127.0.0.1:B+10+h/stats
 *   B+20 … B+25  Redis Cluster (cluster bus on each port + 10000)
 *   B+30         MongoDB-compatible server
 *   B+100 + i    chat instance i (i = 1…99), INSTANCE_ID chat-<i>
 *   B+200 + i    presence worker i (i = 1…49)
 *   B+250 + i    archive worker i (i = 1…49)
 *   B+300 + i    chat instance i's operations port (OPS_PORT: /health, /ready, /metrics), where
 *                HAProxy checks it; parley only (the Socket.IO peer is checked on its own port)
 *
 * Everything lives under the stack dir (default .stack/ at the repository root): `endpoints.json`
 * (the contract in DESIGN.md), `stack.json` (what `down` stops), `logs/<name>.log`, the generated
 * HAProxy server list and runtime sockets (`haproxy/`), nginx's prefix (`nginx/`), and the Redis and
 * MongoDB data (`redis/`, `mongo/`). Every process is started detached, in its own process group.
 *
 * `--app socketio` runs the Socket.IO peer (bench/peers/socketio/) as the chat instances instead, with
 * no workers; everything else (Redis Cluster, MongoDB, HAProxy and its checks) stays the same.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { down as mongoDown, up as mongoUp } from './mongo/server.ts';
import { down as redisDown, up as redisUp } from './redis/cluster.ts';

const ROOT = resolve(import.meta.dirname, '..');
const HAPROXY_CFG = join(ROOT, 'infra', 'haproxy', 'haproxy.cfg');
const NGINX_CONF = join(ROOT, 'infra', 'nginx', 'nginx.conf');
const HOST = '127.0.0.1';
/** What one HAProxy process may hold (infra/haproxy/haproxy.cfg explains the figure). */
const HAPROXY_MAXCONN = 9900;
/** What a chat instance runs, per app; the path is also the `match` for its pid. */
const APP_SCRIPTS = { parley: 'src/main.node.ts', socketio: 'bench/peers/socketio/server.ts' } as const;
/**
 * Node options of each app's instances: parley's as `npm start` and the Docker image run it (a young
 * generation capped at 4 MB per semi-space: README, "Memory"); the peer's are Node's defaults.
 */
const APP_NODE_ARGS: Record<keyof typeof APP_SCRIPTS, string[]> = { parley: ['--max-semi-space-size=4'], socketio: [] };
export type App = keyof typeof APP_SCRIPTS;

export type StackOptions = {
  /** What the chat instances run: parley (default) or the Socket.IO peer, which has no workers. */
  app?: App;
  /** Chat instances (default 4, at most 99). */
  instances?: number;
  /** Presence workers (default 1). */
  presence?: number;
  /** Archive workers (default 1). */
  archive?: number;
  /** HAProxy processes sharing the balancer port (default 1, at most 10). */
  haproxy?: number;
  /** nginx in front of HAProxy (default off). */
  nginx?: boolean;
  /** See the port scheme above (default PARLEY_STACK_BASE_PORT or 8000). */
  basePort?: number;
  /** The stack dir (default `.stack` at the repository root; relative paths are from there). */
  dir?: string;
  /** Extra environment for the chat instances (HEARTBEAT_MS, MAX_CONNECTIONS, DRAIN_BATCH, …). */
  env?: Record<string, string>;
  /** Extra Node options for the chat instances (e.g. `--cpu-prof`, which NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
  /** Extra environment for the workers (HEARTBEAT_MS from `env` is passed on to them as well). */
  workerEnv?: Record<string, string>;
  /** How long `up` waits for everything to become healthy, after Redis and MongoDB (default 90 s). */
  timeoutMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
};

/** `<dir>/endpoints.json`, as DESIGN.md states it, plus a few extra fields. */
export type Endpoints = {
  balancer: string;
  instances: { id: string; url: string; pid: number }[];
  workers: { name: string; pid: number; kind: 'presence' | 'archive'; url: string }[];
  haproxy: { pid: number; stats: string; socket: string }[];
  redis: string[];
  mongo: string;
  nginx?: string;
  basePort: number;
};

type Kind = 'instance' | 'presence' | 'archive' | 'haproxy' | 'nginx';
/** A process the stack started: `match` is a piece of its command line (guards against reused pids). */
type Proc = { name: string; kind: Kind; pid: number; match: string; log: string };
/** `<dir>/stack.json`: what `down` and `status` work from; written as `up` goes. */
type State = { basePort: number; redisPort: number; mongoPort: number; procs: Proc[] };

export type ServerState = { name: string; status: string; sessions: number; check: string };
export type StackStatus = {
  dir: string;
  /** False when no stack was started from this dir. */
  present: boolean;
  processes: { name: string; kind: Kind | 'redis' | 'mongo'; pid: number | null; alive: boolean }[];
  /** Each HAProxy process's view of the `chat` backend (`show stat` on its runtime socket). */
  haproxy: { name: string; pid: number; servers: ServerState[]; error?: string }[];
  /** Every process alive and every server UP in every HAProxy process. */
  healthy: boolean;
};

/** The port scheme (see the top of this file). */
export function portsFor(basePort: number) {
  return {
    balancer: basePort,
    nginx: basePort + 1,
    stats: (h: number) => basePort + 10 + h,
    redis: basePort + 20,
    mongo: basePort + 30,
    instance: (i: number) => basePort + 100 + i,
    presence: (i: number) => basePort + 200 + i,
    archive: (i: number) => basePort + 250 + i,
    ops: (i: number) => basePort + 300 + i,
  };
}

function resolveDir(dir: string | undefined): string {
  const d = dir ?? process.env['PARLEY_STACK_DIR'] ?? '.stack';
  return isAbsolute(d) ? d : join(ROOT, d);
}

function settings(opts: StackOptions) {
  const basePort = opts.basePort ?? Number(process.env['PARLEY_STACK_BASE_PORT'] ?? 8000);
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 10_025 > 65_535) {
    throw new Error(`base port: expected an integer from 1024 to 55510, got ${basePort}`);
  }
  const count = (what: string, v: number | undefined, def: number, min: number, max: number) => {
    const n = v ?? def;
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${what}: expected ${min} to ${max}, got ${v}`);
    return n;
  };
  const app = opts.app ?? 'parley';
  if (!Object.hasOwn(APP_SCRIPTS, app)) throw new Error(`app: expected ${Object.keys(APP_SCRIPTS).join(' or ')}, got ${String(app)}`);
  const peer = app !== 'parley'; // the peer has no presence or archive workers
  return {
    app,
    basePort,
    dir: resolveDir(opts.dir),
    instances: count('instances', opts.instances, 4, 1, 99),
    presence: peer ? 0 : count('presence workers', opts.presence, 1, 0, 49),
    archive: peer ? 0 : count('archive workers', opts.archive, 1, 0, 49),
    haproxy: count('haproxy processes', opts.haproxy, 1, 1, 10),
    nginx: opts.nginx ?? false,
    env: opts.env ?? {},
    nodeArgs: opts.nodeArgs ?? [],
    workerEnv: opts.workerEnv ?? {},
    timeoutMs: opts.timeoutMs ?? 90_000,
    log: opts.log ?? (() => undefined),
    ports: portsFor(basePort),
  };
}

/** `name` from PATH, else from /usr/sbin (where Debian puts haproxy and nginx, not on every user's PATH). */
export function binary(name: string): string {
  for (const d of (process.env['PATH'] ?? '').split(':').filter(Boolean)) if (existsSync(join(d, name))) return join(d, name);
  for (const d of ['/usr/sbin', '/usr/local/sbin']) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} is not installed: apt-get install -y --no-install-recommends ${name}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- processes

/** Alive, not a zombie, and (where /proc tells) still the command we started. */
function alive(pid: number, match?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return false;
    return match === undefined || readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(match);
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

/** Any process left in the process group `pgid` (our children are group leaders). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** SIGTERM, then SIGKILL to the whole group after `graceMs`; also reaps orphans left in its group. */
async function stopProc(p: Proc, graceMs: number): Promise<void> {
  if (alive(p.pid, p.match)) {
    signal(p.pid, 'SIGCONT');
    signal(p.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (alive(p.pid, p.match) && Date.now() < deadline) await sleep(50);
    if (alive(p.pid, p.match)) signal(-p.pid, 'SIGKILL');
    const hard = Date.now() + 3000;
    while (alive(p.pid, p.match) && Date.now() < hard) await sleep(50);
  }
  // nginx workers outlive a killed master; a group id is not reused while the group has members.
  if (!alive(p.pid) && groupAlive(p.pid)) {
    signal(-p.pid, 'SIGTERM');
    await sleep(200);
    signal(-p.pid, 'SIGKILL');
  }
}

type Started = Proc & { exitCode: () => number | null | undefined };

function startProc(name: string, kind: Kind, dir: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, match: string): Started {
  const log = join(dir, 'logs', `${name}.log`);
  const fd = openSync(log, 'w');
  let child;
  try {
    child = spawn(cmd, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let code: number | null | undefined;
  let spawnError: Error | undefined;
  child.on('exit', (c, sig) => (code = c ?? (sig ? -1 : null)));
  child.on('error', (err) => {
    spawnError = err;
    code = -1;
  });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}${spawnError ? `: ${spawnError.message}` : ''}`);
  return { name, kind, pid: child.pid, match, log, exitCode: () => code };
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `check` until it is true; fails early when the process exits. */
async function waitFor(p: Started, what: string, check: () => Promise<boolean>, deadline: number): Promise<void> {
  for (;;) {
    const code = p.exitCode();
    if (code !== undefined) throw new Error(`${p.name} exited (${code}) before ${what}; ${p.log}:\n${tail(p.log)}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${p.name}: timed out waiting for ${what}; ${p.log}:\n${tail(p.log)}`);
    await sleep(100);
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(false));
    srv.listen({ port, host: HOST, exclusive: true }, () => srv.close(() => done(true)));
  });
}

// ---- HAProxy's runtime API

/** One command on a HAProxy runtime socket; resolves with the whole answer. */
export function haproxyCommand(socket: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((done, fail) => {
    const sock = connect(socket);
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      fail(new Error(`${socket}: no answer to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (d: string) => (out += d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      done(out);
    });
  });
}

/** The servers of backend `chat` as one HAProxy process sees them (`show stat` CSV). */
export async function backendState(socket: string): Promise<ServerState[]> {
  const lines = (await haproxyCommand(socket, 'show stat')).split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.replace(/^# /, '').split(',') ?? [];
  const col = (name: string) => header.indexOf(name);
  const [px, sv, st, scur, chk] = ['pxname', 'svname', 'status', 'scur', 'check_status'].map(col) as number[];
  if ([px, sv, st, scur].some((i) => i === undefined || i < 0)) throw new Error(`${socket}: unexpected "show stat" answer: ${lines[0] ?? ''}`);
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((f) => f[px as number] === 'chat' && f[sv as number] !== 'FRONTEND' && f[sv as number] !== 'BACKEND')
    .map((f) => ({
      name: f[sv as number] ?? '',
      status: f[st as number] ?? '',
      sessions: Number(f[scur as number] ?? 0),
      check: chk !== undefined && chk >= 0 ? (f[chk] ?? '') : '',
    }));
}

// ---- state files

const statePath = (dir: string) => join(dir, 'stack.json');
const endpointsPath = (dir: string) => join(dir, 'endpoints.json');
const socketPath = (dir: string, h: number) => join(dir, 'haproxy', `haproxy-${h}.sock`);

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The state file, or one rebuilt from endpoints.json when only that is left. */
function readState(dir: string): State | undefined {
  const state = readJson<State>(statePath(dir));
  if (state) return state;
  const ep = readJson<Endpoints>(endpointsPath(dir));
  if (!ep || typeof ep.balancer !== 'string') return undefined;
  const basePort = ep.basePort ?? Number(new URL(ep.balancer).port);
  const ports = portsFor(basePort);
  const procs: Proc[] = [
    ...(ep.instances ?? []).map((i) => {
      // endpoints.json does not say which app ran: ask the process (parley when it is gone).
      const match = alive(i.pid, APP_SCRIPTS.socketio) ? APP_SCRIPTS.socketio : APP_SCRIPTS.parley;
      return { name: i.id, kind: 'instance' as const, pid: i.pid, match, log: '' };
    }),
    ...(ep.workers ?? []).map((w) => {
      const kind = w.name.startsWith('archive') ? 'archive' as const : 'presence' as const;
      return { name: w.name, kind, pid: w.pid, match: `workers/${kind}.ts`, log: '' };
    }),
    ...(ep.haproxy ?? []).map((h, i) => ({ name: `haproxy-${i + 1}`, kind: 'haproxy' as const, pid: h.pid, match: 'haproxy', log: '' })),
  ];
  return { basePort, redisPort: ports.redis, mongoPort: ports.mongo, procs };
}

function writeState(dir: string, state: State): void {
  writeFileSync(statePath(dir), `${JSON.stringify(state, null, 2)}\n`);
}

// ---- up

/** Starts the whole stack and waits until every piece is healthy; on failure stops what it started. */
export async function up(opts: StackOptions = {}): Promise<Endpoints> {
  const s = settings(opts);
  const { dir, ports, log } = s;
  binary('haproxy');
  if (s.nginx) binary('nginx');

  const previous = readState(dir);
  if (previous) {
    const running = previous.procs.filter((p) => alive(p.pid, p.match));
    if (running.length > 0) {
      throw new Error(`a stack is already running from ${dir} (base port ${previous.basePort}: ${running.map((p) => p.name).join(', ')}); run stack:down first`);
    }
    await down({ dir }); // leftovers of a stack that died (Redis, MongoDB, files)
  }

  const wanted = [
    ports.balancer,
    ...(s.nginx ? [ports.nginx] : []),
    ...Array.from({ length: s.haproxy }, (_, h) => ports.stats(h)),
    ...Array.from({ length: 6 }, (_, k) => [ports.redis + k, ports.redis + k + 10_000]).flat(),
    ports.mongo,
    ...Array.from({ length: s.instances }, (_, i) => ports.instance(i + 1)),
    ...(s.app === 'parley' ? Array.from({ length: s.instances }, (_, i) => ports.ops(i + 1)) : []),
    ...Array.from({ length: s.presence }, (_, i) => ports.presence(i + 1)),
    ...Array.from({ length: s.archive }, (_, i) => ports.archive(i + 1)),
  ];
  const busy: number[] = [];
  for (const port of wanted) if (!(await portFree(port))) busy.push(port);
  if (busy.length > 0) {
    throw new Error(`ports already in use on ${HOST}: ${busy.join(', ')} (another stack on base port ${s.basePort}? choose another with --base-port)`);
  }

  for (const sub of ['logs', 'haproxy', 'nginx/logs', 'nginx/temp']) mkdirSync(join(dir, sub), { recursive: true });
  const socketMax = socketPath(dir, s.haproxy);
  if (Buffer.byteLength(socketMax) > 100) throw new Error(`stack dir path too long for a unix socket: ${socketMax}`);
  rmSync(endpointsPath(dir), { force: true });

  const state: State = { basePort: s.basePort, redisPort: ports.redis, mongoPort: ports.mongo, procs: [] };
  writeState(dir, state);
  const started: Started[] = [];
  const track = (p: Started) => {
    started.push(p);
    state.procs.push({ name: p.name, kind: p.kind, pid: p.pid, match: p.match, log: p.log });
    writeState(dir, state);
    return p;
  };

  try {
    log(`redis cluster on ${ports.redis}-${ports.redis + 5}, mongo on ${ports.mongo} …`);
    const [cluster, mongo] = await Promise.allSettled([
      redisUp({ basePort: ports.redis, dataDir: join(dir, 'redis') }),
      mongoUp({ port: ports.mongo, dataDir: join(dir, 'mongo') }),
    ]);
    if (cluster.status === 'rejected') throw new Error(`redis cluster: ${String((cluster.reason as Error)?.message ?? cluster.reason)}`);
    if (mongo.status === 'rejected') throw new Error(`mongo: ${String((mongo.reason as Error)?.message ?? mongo.reason)}`);
    const redisNodes = cluster.value.nodes;
    const mongoUrl = mongo.value.url;
    const deadline = Date.now() + s.timeoutMs;

    // Chat instances.
    const base = { ...process.env, NO_COLOR: '1', HOST, REDIS_CLUSTER_NODES: redisNodes.join(','), MONGO_URL: mongoUrl };
    const instances = Array.from({ length: s.instances }, (_, k) => {
      const id = `chat-${k + 1}`;
      const port = ports.instance(k + 1);
      // The balancer checks parley on its operations port, whose accept queue a connect storm does not fill.
      const opsPort = s.app === 'parley' ? ports.ops(k + 1) : null;
      const env = { ...base, PORT: String(port), ...(opsPort ? { OPS_PORT: String(opsPort) } : {}), INSTANCE_ID: id, ...s.env };
      const script = APP_SCRIPTS[s.app];
      const p = track(startProc(id, 'instance', dir, process.execPath, [...APP_NODE_ARGS[s.app], ...s.nodeArgs, '--import', 'tsx', script], env, script));
      return { id, port, opsPort, url: `http://${HOST}:${port}`, proc: p };
    });

    // Workers.
    const workerEnv = { ...base, ...(s.env['HEARTBEAT_MS'] ? { HEARTBEAT_MS: s.env['HEARTBEAT_MS'] } : {}), ...s.workerEnv };
    const workers = (['presence', 'archive'] as const).flatMap((kind) =>
      Array.from({ length: kind === 'presence' ? s.presence : s.archive }, (_, k) => {
        const name = `${kind}-${k + 1}`;
        const port = kind === 'presence' ? ports.presence(k + 1) : ports.archive(k + 1);
        const env = { ...workerEnv, WORKER_PORT: String(port), WORKER_ID: name };
        const p = track(startProc(name, kind, dir, process.execPath, ['--import', 'tsx', `workers/${kind}.ts`], env, `workers/${kind}.ts`));
        return { name, kind, url: `http://${HOST}:${port}`, proc: p };
      }),
    );

    log(`${instances.length} chat instance(s) and ${workers.length} worker(s) starting …`);
    await Promise.all([
      ...instances.map((i) => waitFor(i.proc, 'GET /ready answered 200', () => httpOk(`${i.url}/ready`), deadline)),
      ...workers.map((w) => waitFor(w.proc, 'GET /health answered 200', () => httpOk(`${w.url}/health`), deadline)),
    ]);

    // HAProxy, once the instances are ready (its first checks then pass): the committed config plus
    // the generated server list, one process per stats port and runtime socket.
    const serversCfg = join(dir, 'haproxy', 'servers.cfg');
    writeFileSync(serversCfg, [
      '# Generated by infra/stack.ts; the settings of these servers are in infra/haproxy/haproxy.cfg (defaults).',
      'backend chat',
      ...instances.map((i) => `    server ${i.id} ${HOST}:${i.port}${i.opsPort ? ` port ${i.opsPort}` : ''}`),
      '',
    ].join('\n'));
    // Each process enforces the per-server limit on its own: share an instance's MAX_CONNECTIONS among them.
    const maxConnections = Number(s.env['MAX_CONNECTIONS'] ?? process.env['MAX_CONNECTIONS'] ?? 15_000);
    const serverMaxconn = Math.max(1, Math.min(HAPROXY_MAXCONN, Math.floor((Number.isFinite(maxConnections) ? maxConnections : 15_000) / s.haproxy)));
    const haproxyBin = binary('haproxy');
    const haproxies = Array.from({ length: s.haproxy }, (_, h) => {
      const name = `haproxy-${h + 1}`;
      const socket = socketPath(dir, h + 1);
      rmSync(socket, { force: true });
      const env = {
        ...process.env,
        PARLEY_BIND_ADDR: HOST,
        PARLEY_BIND_PORT: String(ports.balancer),
        PARLEY_HAPROXY_STATS_ADDR: HOST,
        PARLEY_HAPROXY_STATS_PORT: String(ports.stats(h)),
        PARLEY_HAPROXY_SOCKET: socket,
        PARLEY_SERVER_MAXCONN: String(serverMaxconn),
      };
      const p = track(startProc(name, 'haproxy', dir, haproxyBin, ['-db', '-f', HAPROXY_CFG, '-f', serversCfg], env, 'haproxy'));
      return { name, socket, stats: `http://${HOST}:${ports.stats(h)}/stats`, proc: p };
    });

    log(`${haproxies.length} haproxy process(es) on ${ports.balancer} starting …`);
    const names = instances.map((i) => i.id);
    await Promise.all(haproxies.map((h) => waitFor(h.proc, `every server of backend chat UP (${h.socket})`, async () => {
      const servers = await backendState(h.socket);
      return names.every((n) => servers.some((sv) => sv.name === n && sv.status === 'UP' && sv.check.startsWith('L7OK')));
    }, deadline)));

    let nginxUrl: string | undefined;
    if (s.nginx) {
      const prefix = join(dir, 'nginx');
      const conf = join(prefix, 'nginx.conf');
      writeFileSync(conf, renderNginx(readFileSync(NGINX_CONF, 'utf8'), ports.nginx, ports.balancer));
      const p = track(startProc('nginx', 'nginx', dir, binary('nginx'), ['-p', `${prefix}/`, '-c', conf, '-e', join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'], { ...process.env }, 'nginx'));
      nginxUrl = `http://${HOST}:${ports.nginx}`;
      await waitFor(p, `GET ${nginxUrl}/ready answered 200`, () => httpOk(`${nginxUrl}/ready`), deadline);
    }

    const endpoints: Endpoints = {
      balancer: `http://${HOST}:${ports.balancer}`,
      instances: instances.map((i) => ({ id: i.id, url: i.url, pid: i.proc.pid })),
      workers: workers.map((w) => ({ name: w.name, pid: w.proc.pid, kind: w.kind, url: w.url })),
      haproxy: haproxies.map((h) => ({ pid: h.proc.pid, stats: h.stats, socket: h.socket })),
      redis: redisNodes,
      mongo: mongoUrl,
      ...(nginxUrl ? { nginx: nginxUrl } : {}),
      basePort: s.basePort,
    };
    writeFileSync(endpointsPath(dir), `${JSON.stringify(endpoints, null, 2)}\n`);
    return endpoints;
  } catch (err) {
    log(`start-up failed, stopping what was started …`);
    await down({ dir }).catch(() => undefined);
    throw err;
  }
}

/** The committed nginx.conf with the two `# stack:` addresses set to this stack's ports. */
export function renderNginx(conf: string, listenPort: number, balancerPort: number): string {
  let n = 0;
  const out = conf
    .replace(/^(\s*listen\s+)\S+?;(\s*# stack: listen)$/m, (_m, a: string, b: string) => (n++, `${a}${HOST}:${listenPort};${b}`))
    .replace(/^(\s*server\s+)\S+(\s[^;\n]*)?;(\s*# stack: balancer)$/m, (_m, a: string, opt: string | undefined, b: string) => (n++, `${a}${HOST}:${balancerPort}${opt ?? ''};${b}`));
  if (n !== 2) throw new Error(`${NGINX_CONF}: expected a "listen …; # stack: listen" and a "server …; # stack: balancer" line`);
  return out;
}

// ---- down

/** Stops exactly what `up` started from `dir`, then removes its runtime files (logs stay). Idempotent. */
export async function down(opts: Pick<StackOptions, 'dir' | 'basePort' | 'log'> = {}): Promise<void> {
  const dir = resolveDir(opts.dir);
  const log = opts.log ?? (() => undefined);
  const state = readState(dir);
  const basePort = state?.basePort ?? opts.basePort ?? Number(process.env['PARLEY_STACK_BASE_PORT'] ?? 8000);
  const ports = portsFor(basePort);
  const procs = state?.procs ?? [];
  const stop = (kinds: Kind[], graceMs: number) => Promise.all(procs.filter((p) => kinds.includes(p.kind)).map((p) => stopProc(p, graceMs)));
  // Front to back: nothing new arrives while the instances drain (SIGTERM closes their sockets in batches).
  await stop(['nginx'], 5000);
  await stop(['haproxy'], 5000);
  await stop(['instance', 'presence', 'archive'], 20_000);
  if (procs.length > 0) log(`stopped ${procs.length} process(es)`);
  // Their own `down`s stop only processes recorded in pid files under these data dirs.
  await Promise.all([
    redisDown({ basePort: state?.redisPort ?? ports.redis, dataDir: join(dir, 'redis') }),
    mongoDown({ port: state?.mongoPort ?? ports.mongo, dataDir: join(dir, 'mongo') }),
  ]);
  for (const f of ['endpoints.json', 'haproxy', 'nginx', 'redis', 'mongo', 'stack.json']) rmSync(join(dir, f), { recursive: true, force: true });
}

// ---- status

function pidFrom(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** What runs, and HAProxy's view of every chat instance. */
export async function status(opts: Pick<StackOptions, 'dir'> = {}): Promise<StackStatus> {
  const dir = resolveDir(opts.dir);
  const state = readState(dir);
  if (!state) return { dir, present: false, processes: [], haproxy: [], healthy: false };
  const processes: StackStatus['processes'] = [];
  for (let k = 0; k < 6; k++) {
    const port = state.redisPort + k;
    const pid = pidFrom(join(dir, 'redis', String(port), 'redis.pid'));
    processes.push({ name: `redis-${port}`, kind: 'redis', pid, alive: pid !== null && alive(pid, 'redis-server') });
  }
  const mongoPid = pidFrom(join(dir, 'mongo', 'mongo.pid'));
  processes.push({ name: `mongo-${state.mongoPort}`, kind: 'mongo', pid: mongoPid, alive: mongoPid !== null && alive(mongoPid, 'parley-mongo') });
  for (const p of state.procs) processes.push({ name: p.name, kind: p.kind, pid: p.pid, alive: alive(p.pid, p.match) });

  const haproxy: StackStatus['haproxy'] = [];
  const hps = state.procs.filter((p) => p.kind === 'haproxy');
  for (const [h, p] of hps.entries()) {
    try {
      haproxy.push({ name: p.name, pid: p.pid, servers: await backendState(socketPath(dir, h + 1)) });
    } catch (err) {
      haproxy.push({ name: p.name, pid: p.pid, servers: [], error: (err as Error).message });
    }
  }
  const healthy = processes.every((p) => p.alive) && haproxy.every((h) => !h.error && h.servers.length > 0 && h.servers.every((sv) => sv.status === 'UP'));
  return { dir, present: true, processes, haproxy, healthy };
}

// ---- CLI

function parseArgs(argv: string[]): StackOptions {
  const opts: StackOptions = {};
  const env: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) as [string, string] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag}: missing value`);
      return v;
    };
    const num = () => {
      const v = value();
      if (!/^\d+$/.test(v)) throw new Error(`${flag}: expected a number, got ${v}`);
      return Number(v);
    };
    switch (flag) {
      case '--app': {
        const app = value();
        if (!Object.hasOwn(APP_SCRIPTS, app)) throw new Error(`--app: expected ${Object.keys(APP_SCRIPTS).join(' or ')}, got ${app}`);
        opts.app = app as App;
        break;
      }
      case '--instances': opts.instances = num(); break;
      case '--presence': opts.presence = num(); break;
      case '--archive': opts.archive = num(); break;
      case '--haproxy': opts.haproxy = num(); break;
      case '--base-port': opts.basePort = num(); break;
      case '--nginx': opts.nginx = true; break;
      case '--no-nginx': opts.nginx = false; break;
      case '--dir': opts.dir = resolve(value()); break;
      case '--env': {
        const kv = value();
        const eq = kv.indexOf('=');
        if (eq < 1) throw new Error(`--env: expected KEY=VALUE, got ${kv}`);
        env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if (Object.keys(env).length > 0) opts.env = env;
  return opts;
}

const USAGE = `usage: stack.ts up [--instances N] [--presence N] [--archive N] [--haproxy N] [--nginx]
                   [--base-port P] [--dir D] [--env KEY=VALUE]… [--app parley|socketio]
       stack.ts status [--dir D]
       stack.ts down [--dir D]`;

function printStatus(st: StackStatus): void {
  if (!st.present) {
    console.log(`no stack in ${st.dir}`);
    return;
  }
  const pad = (v: string, n: number) => v.padEnd(n);
  for (const p of st.processes) console.log(`${pad(p.name, 16)} ${pad(p.kind, 9)} pid ${pad(String(p.pid ?? '-'), 8)} ${p.alive ? 'running' : 'NOT RUNNING'}`);
  for (const h of st.haproxy) {
    if (h.error) {
      console.log(`${h.name} (pid ${h.pid}): runtime socket: ${h.error}`);
      continue;
    }
    console.log(`${h.name} (pid ${h.pid}) backend chat: ${h.servers.map((sv) => `${sv.name} ${sv.status} ${sv.sessions} sess`).join(', ')}`);
  }
  console.log(st.healthy ? 'healthy' : 'NOT healthy');
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [cmd, ...rest] = process.argv.slice(2);
  const main = async (): Promise<number> => {
    const opts = parseArgs(rest);
    if (cmd === 'up') {
      const log = (line: string) => console.error(`stack: ${line}`);
      let stopping = false;
      process.once('SIGINT', () => {
        if (stopping) return;
        stopping = true;
        console.error('stack: interrupted, stopping what was started …');
        void down({ dir: opts.dir }).finally(() => process.exit(130));
      });
      const ep = await up({ ...opts, log });
      const dir = resolveDir(opts.dir);
      const wsPath = opts.app === 'socketio' ? '/socket.io/?EIO=4&transport=websocket&user=<name>' : '/ws?user=<name>';
      console.log(`balancer   ${ep.balancer}   (ws: ${ep.balancer.replace(/^http/, 'ws')}${wsPath})`);
      if (ep.nginx) console.log(`nginx      ${ep.nginx}`);
      for (const h of ep.haproxy) console.log(`haproxy    pid ${h.pid}   stats ${h.stats}`);
      for (const i of ep.instances) console.log(`instance   ${i.id} ${i.url}   pid ${i.pid}`);
      for (const w of ep.workers) console.log(`worker     ${w.name} ${w.url}   pid ${w.pid}`);
      console.log(`redis      ${ep.redis.join(',')}`);
      console.log(`mongo      ${ep.mongo}`);
      console.log(`endpoints  ${endpointsPath(dir)}   logs ${join(dir, 'logs')}/`);
      return 0;
    }
    if (cmd === 'down') {
      await down({ ...opts, log: (line) => console.error(`stack: ${line}`) });
      console.log(`stack in ${resolveDir(opts.dir)} is down`);
      return 0;
    }
    if (cmd === 'status') {
      const st = await status(opts);
      printStatus(st);
      return st.healthy ? 0 : 1;
    }
    console.error(USAGE);
    return 2;
  };
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`stack: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
