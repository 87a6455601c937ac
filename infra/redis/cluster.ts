/**
 * A local Redis Cluster of Debian's `redis-server` processes: 3 masters + 3 replicas on loopback.
 *
 *   npx tsx infra/redis/cluster.ts up|down|status
 *
 * Ports `REDIS_CLUSTER_BASE_PORT` (7000) … +5; data and logs under `.data/redis-<base>/`. `up` is
 * idempotent: a healthy cluster on those ports is reused. It prints `REDIS_CLUSTER_NODES=…` once
 * every node reports `cluster_state:ok` and every replica is in sync.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const NODES = 6;

export type ClusterOptions = { basePort?: number; dataDir?: string; host?: string };
export type Cluster = { nodes: string[]; ports: number[]; dir: string };

function settings(opts: ClusterOptions) {
  const basePort = opts.basePort ?? Number(process.env['REDIS_CLUSTER_BASE_PORT'] ?? 7000);
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort > 65529) {
    throw new Error(`REDIS_CLUSTER_BASE_PORT: expected a port from 1024 to 65529, got ${basePort}`);
  }
  const host = opts.host ?? '127.0.0.1';
  const dir = opts.dataDir ?? join(ROOT, '.data', `redis-${basePort}`);
  const ports = Array.from({ length: NODES }, (_, i) => basePort + i);
  return { basePort, host, dir, ports, nodes: ports.map((p) => `${host}:${p}`) };
}

async function cli(host: string, port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', host, '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

async function alive(host: string, port: number): Promise<boolean> {
  return cli(host, port, 'ping').then((out) => out.trim() === 'PONG', () => false);
}

async function healthy(host: string, ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const info = await cli(host, port, 'cluster', 'info').catch(() => '');
    if (!/cluster_state:ok/.test(info) || !new RegExp(`cluster_known_nodes:${NODES}\\b`).test(info)) return false;
    const repl = await cli(host, port, 'info', 'replication').catch(() => '');
    if (/role:slave/.test(repl) && !/master_link_status:up/.test(repl)) return false;
    if (/role:slave/.test(repl) && /master_sync_in_progress:1/.test(repl)) return false;
  }
  return true;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis cluster: timed out waiting for ${what}`);
}

/** Starts (or reuses) the cluster and waits until it is fully ready. */
export async function up(opts: ClusterOptions = {}): Promise<Cluster> {
  const { host, dir, ports, nodes } = settings(opts);
  await run('redis-server', ['--version']).catch(() => {
    throw new Error('redis-server is not installed: apt-get install -y --no-install-recommends redis-server');
  });
  if ((await Promise.all(ports.map((p) => alive(host, p)))).every(Boolean) && (await healthy(host, ports))) {
    return { nodes, ports, dir };
  }
  await down(opts);
  for (const port of ports) {
    const nodeDir = join(dir, String(port));
    mkdirSync(nodeDir, { recursive: true });
    const args = [
      '--port', String(port), '--bind', host, '--protected-mode', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000',
      '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0',
      '--appendonly', 'no', '--save', '', '--dir', nodeDir,
      '--logfile', join(nodeDir, 'redis.log'), '--pidfile', join(nodeDir, 'redis.pid'), '--daemonize', 'yes',
    ];
    await run('redis-server', args);
  }
  await waitFor('the nodes to answer', async () => (await Promise.all(ports.map((p) => alive(host, p)))).every(Boolean), 10_000);
  await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'], { timeout: 30_000 });
  await waitFor('cluster_state:ok and replicas in sync', () => healthy(host, ports), 30_000);
  writeFileSync(join(dir, 'nodes.txt'), `${nodes.join(',')}\n`);
  return { nodes, ports, dir };
}

/** Stops exactly the processes this script started on those ports and removes their data. */
export async function down(opts: ClusterOptions = {}): Promise<void> {
  const { dir, ports } = settings(opts);
  for (const port of ports) {
    const pidFile = join(dir, String(port), 'redis.pid');
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await new Promise((r) => setTimeout(r, 100));
  rmSync(dir, { recursive: true, force: true });
}

async function status(opts: ClusterOptions = {}): Promise<void> {
  const { host, ports } = settings(opts);
  for (const port of ports) {
    const info = await cli(host, port, 'cluster', 'info').catch(() => 'down');
    const role = /role:(\w+)/.exec(await cli(host, port, 'info', 'replication').catch(() => ''))?.[1] ?? '-';
    console.log(`${host}:${port} ${role} ${/cluster_state:(\w+)/.exec(info)?.[1] ?? 'down'}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const cmd = process.argv[2];
  const main = async () => {
    if (cmd === 'up') console.log(`REDIS_CLUSTER_NODES=${(await up()).nodes.join(',')}`);
    else if (cmd === 'down') await down();
    else if (cmd === 'status') await status();
    else throw new Error('usage: cluster.ts up|down|status');
  };
  main().catch((err: unknown) => {
    console.error(`redis cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
