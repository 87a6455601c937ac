/**
 * Fault injection on a stack started by infra/stack.ts: processes are killed by their pids and
 * started again the way `stack.ts up` starts them, and `stack.json` is kept up to date so that
 * `stack.ts down` stops the restarted ones too. Each fault resolves once the part it broke is back.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Endpoints } from '../../infra/stack.ts';
import type { FaultKind } from './sizes.ts';
import { INSTANCE_NODE_ARGS } from './truth.ts';
import type { ChaosUser } from './user.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
type Proc = { name: string; kind: string; pid: number; match: string; log: string };
type State = { basePort: number; redisPort: number; mongoPort: number; procs: Proc[] };

export type FaultRecord = { kind: FaultKind; target: string; at: number; backAt?: number; error?: string };

/** The instance that instance faults spare (see `inject`). */
export const WITNESS = 'chat-1';

export class Faults {
  constructor(
    readonly dir: string,
    readonly ep: Endpoints,
    readonly env: Record<string, string>,
    readonly workerEnv: Record<string, string>,
    readonly users: ChaosUser[],
    readonly random: () => number,
  ) {}

  #state(): State {
    return JSON.parse(readFileSync(join(this.dir, 'stack.json'), 'utf8')) as State;
  }

  #pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)] as T;
  }

  /** Injects one fault; resolves with its record once what it broke is back. */
  async inject(kind: FaultKind): Promise<FaultRecord> {
    const rec: FaultRecord = { kind, target: '', at: Date.now() };
    try {
      if (kind === 'instance-kill' || kind === 'instance-drain') {
        // The first instance is never killed or drained: it lives through the whole storm, so the
        // memory check after the quiet period has a process to compare with its pre-storm self.
        const instances = this.#state().procs.filter((x) => x.kind === 'instance');
        const p = this.#pick(instances.length > 1 ? instances.filter((x) => x.name !== WITNESS) : instances);
        rec.target = p.name;
        await this.#restartInstance(p, kind === 'instance-kill' ? 'SIGKILL' : 'SIGTERM');
      } else if (kind === 'presence-kill' || kind === 'archive-kill') {
        const p = this.#pick(this.#state().procs.filter((x) => x.kind === kind.split('-')[0]));
        rec.target = p.name;
        await this.#restartWorker(p);
      } else if (kind === 'redis-failover') rec.target = await this.#failover();
      else if (kind === 'mongo-restart') rec.target = await this.#mongoRestart();
      else rec.target = this.#storm();
    } catch (err) {
      rec.error = (err as Error).message;
    }
    rec.backAt = Date.now();
    return rec;
  }

  async #waitExit(pid: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (alive(pid) && Date.now() < deadline) await sleep(50);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    while (alive(pid)) await sleep(50);
  }

  /** Starts `args` like stack.ts does (detached, its own process group, output to the log) and records the new pid. */
  #spawn(p: Proc, args: string[], env: Record<string, string>): number {
    const fd = openSync(p.log, 'a');
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child.unref();
    const pid = child.pid as number;
    const st = this.#state();
    for (const q of st.procs) if (q.name === p.name) q.pid = pid;
    writeFileSync(join(this.dir, 'stack.json'), `${JSON.stringify(st, null, 2)}\n`);
    return pid;
  }

  #baseEnv(): Record<string, string> {
    return { NO_COLOR: '1', HOST: '127.0.0.1', REDIS_CLUSTER_NODES: this.ep.redis.join(','), MONGO_URL: this.ep.mongo };
  }

  async #restartInstance(p: Proc, sig: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const url = this.ep.instances.find((i) => i.id === p.name)?.url as string;
    process.kill(p.pid, sig);
    await this.#waitExit(p.pid, 30_000);
    const env = { ...this.#baseEnv(), PORT: new URL(url).port, INSTANCE_ID: p.name, ...this.env };
    this.#spawn(p, ['--max-semi-space-size=4', ...INSTANCE_NODE_ARGS, '--import', 'tsx', 'src/main.node.ts'], env);
    await until(() => httpOk(`${url}/ready`), 60_000, `${p.name} ready`);
  }

  async #restartWorker(p: Proc): Promise<void> {
    const url = this.ep.workers.find((w) => w.name === p.name)?.url as string;
    process.kill(p.pid, 'SIGKILL');
    await this.#waitExit(p.pid, 5000);
    const env = { ...this.#baseEnv(), WORKER_PORT: new URL(url).port, WORKER_ID: p.name, HEARTBEAT_MS: this.env['HEARTBEAT_MS'] ?? '30000', ...this.workerEnv };
    this.#spawn(p, ['--import', 'tsx', `workers/${p.kind}.ts`], env);
    await until(() => httpOk(`${url}/health`), 60_000, `${p.name} healthy`);
  }

  /** `kill -9` of one Redis master; back once a replica took over and the killed node rejoined as a replica. */
  async #failover(): Promise<string> {
    const ports = this.ep.redis.map((n) => Number(n.split(':')[1]));
    const masters = clusterNodes(ports).filter((n) => n.flags.includes('master') && !n.flags.includes('fail'));
    const port = this.#pick(masters).port;
    const nodeDir = join(this.dir, 'redis', String(port));
    const pid = Number(readFileSync(join(nodeDir, 'redis.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const others = ports.filter((p) => p !== port);
    await until(async () => clusterInfo(others[0] as number).includes('cluster_state:ok') &&
      clusterNodes(others).filter((n) => n.port !== port && n.flags.includes('master') && !n.flags.includes('fail')).length === 3, 60_000, 'a replica promoted');
    execFileSync('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000',
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0',
      '--appendonly', 'no', '--save', '', '--dir', nodeDir,
      '--logfile', join(nodeDir, 'redis.log'), '--pidfile', join(nodeDir, 'redis.pid'), '--daemonize', 'yes',
    ]);
    await until(async () => redisCli(port, 'info', 'replication').includes('master_link_status:up'), 60_000, `${port} rejoined as a replica`);
    return `redis ${port}`;
  }

  async #mongoRestart(): Promise<string> {
    const mdir = join(this.dir, 'mongo');
    const pid = Number(readFileSync(join(mdir, 'mongo.pid'), 'utf8'));
    process.kill(pid, 'SIGTERM');
    await this.#waitExit(pid, 10_000);
    await sleep(3000); // down for a while, not just a blip
    const port = new URL(this.ep.mongo).port;
    const fd = openSync(join(mdir, 'mongo.log'), 'a');
    const child = spawn(join(ROOT, '.data', 'bin', 'parley-mongo'), ['-listen', `127.0.0.1:${port}`, '-data-dir', join(mdir, 'db'), '-log-level', 'warn'], {
      cwd: ROOT, detached: true, stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    child.unref();
    writeFileSync(join(mdir, 'mongo.pid'), `${child.pid}\n`);
    await until(() => tcpAnswers(Number(port)), 30_000, 'mongo answering');
    return `mongo ${port}`;
  }

  /** Closes the sockets of about half the users at once; they all reconnect and resume. */
  #storm(): string {
    const victims = this.users.filter(() => this.random() < 0.5);
    for (const u of victims) u.drop(true);
    return `${victims.length} users`;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}

async function tcpAnswers(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((done) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), done(true)));
    s.once('error', () => done(false));
  });
}

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 3000 });
}

function clusterInfo(port: number): string {
  return redisCli(port, 'cluster', 'info');
}

/** `CLUSTER NODES` as one live node sees them. */
function clusterNodes(ports: number[]): { port: number; flags: string }[] {
  for (const p of ports) {
    try {
      return redisCli(p, 'cluster', 'nodes').trim().split('\n').map((line) => {
        const [, addr = '', flags = ''] = line.split(' ');
        return { port: Number(addr.split(':')[1]?.split('@')[0]), flags };
      });
    } catch {
      // that node is down: ask the next
    }
  }
  throw new Error('no Redis node answers');
}
