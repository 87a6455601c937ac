/**
 * What one join costs Redis Cluster: a public room against groups of several sizes.
 *
 *   npx tsx bench/groups/join-cost.ts [--joins 50] [--sizes 51,501,1000] [--online 5]
 *
 * Starts a 6-node Redis Cluster on 22300-22305 (bus 32300-32305), the MongoDB-compatible server on
 * 22310 and one chat instance (dev auth) on 22311, all in a temp dir, and stops them at the end.
 * For each room kind, `--joins` sockets are opened first; then each joins the room, one after the
 * other, and `INFO commandstats` is read from every master before and after the joins. The same
 * interval with nobody joining is measured too and taken off, so heartbeats do not count. In the
 * groups, `--online` members other than the joiners are connected (and joined elsewhere), so the
 * join lists some members online and the rest from their last-seen time.
 *
 * Prints, per room kind, the calls per join by command (EVALSHA counted as scripts), and the
 * join's latency p50/p99 as the joiner saw it (the `joined` frame).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { down as redisDown, up as redisUp } from '../../infra/redis/cluster.ts';
import { down as mongoDown, up as mongoUp } from '../../infra/mongo/server.ts';
import { now, open, sleep } from '../limits/lib.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BASE = 22_300;
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : def;
};
const joins = Number(opt('joins', '50'));
const sizes = opt('sizes', '51,501,1000').split(',').map(Number);
const onlineOthers = Number(opt('online', '5'));
const dir = mkdtempSync(join(tmpdir(), 'parley-join-cost-'));
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

type Stats = Record<string, number>;

async function commandStats(ports: number[]): Promise<Stats> {
  const total: Stats = {};
  for (const port of ports) {
    const r = new Redis({ port, lazyConnect: true });
    await r.connect();
    if ((await r.role())[0] === 'master') {
      for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        const name = (m[1] as string).toUpperCase();
        if (['INFO', 'ROLE', 'CLUSTER', 'PING', 'CLIENT', 'HELLO', 'COMMAND', 'READONLY'].some((c) => name.startsWith(c))) continue;
        total[name] = (total[name] ?? 0) + Number(m[2]);
      }
    }
    r.disconnect();
  }
  return total;
}

const minus = (a: Stats, b: Stats): Stats => Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - (b[k] ?? 0)]).filter(([, n]) => (n as number) > 0));

async function rest(base: string, user: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'x-user': user, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function connect(ws: string, user: string): Promise<{ ws: WebSocket; next: (type: string) => Promise<Record<string, unknown>> }> {
  const waiting: { type: string; done: (f: Record<string, unknown>) => void }[] = [];
  const r = await open(`${ws}?user=${user}`, (f) => {
    const i = waiting.findIndex((w) => w.type === f.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.done(f);
  });
  if (!('ws' in r)) throw new Error(`connect ${user}: ${r.status} ${r.error}`);
  return { ws: r.ws, next: (type) => new Promise((done) => waiting.push({ type, done })) };
}

async function measure(label: string, ports: number[], http: string, wsUrl: string, room: string, members: string[]): Promise<void> {
  const joiners = members.slice(0, joins);
  const others = members.slice(joins, joins + onlineOthers);
  const idleConns = await Promise.all(others.map((u) => connect(wsUrl, u)));
  const socks = await Promise.all(joiners.map((u) => connect(wsUrl, u)));
  await sleep(500);
  const t0 = now();
  const before = await commandStats(ports);
  const ms: number[] = [];
  for (const s of socks) {
    const t = now();
    const joined = s.next('joined');
    s.ws.send(JSON.stringify({ type: 'join', room }));
    await joined;
    ms.push(now() - t);
  }
  const after = await commandStats(ports);
  // The same interval again with nobody joining: the background (presence refreshes) is taken off.
  await sleep(now() - t0);
  const background = minus(await commandStats(ports), after);
  const used = minus(after, before);
  for (const k of Object.keys(background)) used[k] = Math.max(0, (used[k] ?? 0) - (background[k] ?? 0));
  ms.sort((a, b) => a - b);
  const per = Object.entries(used).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${(n / joins).toFixed(1)}`).join(', ');
  const total = Object.values(used).reduce((t, n) => t + n, 0) / joins;
  console.log(`| ${label} | ${total.toFixed(1)} | ${per} | ${ms[Math.floor(ms.length / 2)]!.toFixed(1)} / ${ms[Math.floor(ms.length * 0.99)]!.toFixed(1)} ms |`);
  for (const s of [...socks, ...idleConns]) s.ws.close();
  await sleep(300);
}

async function main(): Promise<void> {
  const cluster = await redisUp({ basePort: BASE, dataDir: join(dir, 'redis') });
  const mongo = await mongoUp({ port: BASE + 10, dataDir: join(dir, 'mongo') });
  let server: ChildProcess | undefined;
  try {
    const port = BASE + 11;
    server = spawn(process.execPath, ['--import', 'tsx', 'src/main.node.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), REDIS_CLUSTER_NODES: cluster.nodes.join(','), MONGO_URL: mongo.url, LOG_LEVEL: 'warn', JOIN_BURST: '10000', JOIN_RATE: '10000' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const http = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (await fetch(`${http}/ready`).then((r) => r.ok, () => false)) break;
      if (i > 200) throw new Error('the instance did not get ready');
      await sleep(100);
    }
    const wsUrl = `ws://127.0.0.1:${port}/ws`;
    console.log(`\n${joins} joins per room kind, ${onlineOthers} other members online (${new Date().toISOString().slice(0, 10)})\n`);
    console.log('| room | Redis calls per join | by command, per join | join p50 / p99 |');
    console.log('|---|---|---|---|');
    const users = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`);
    await measure('public room', cluster.ports, http, wsUrl, 'lobby', users(joins + onlineOthers, 'p'));
    for (const size of sizes) {
      const members = users(size, `g${size}u`);
      const owner = members[members.length - 1] as string;
      const created = (await rest(http, owner, 'POST', '/v1/groups', { title: `size ${size}`, members: members.slice(0, -1) })) as { room: string };
      await measure(`group of ${size}`, cluster.ports, http, wsUrl, created.room, members);
    }
  } finally {
    server?.kill('SIGTERM');
    await sleep(500);
    await mongoDown({ port: BASE + 10, dataDir: join(dir, 'mongo') }).catch(() => {});
    await redisDown({ basePort: BASE, dataDir: join(dir, 'redis') }).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(String(err instanceof Error ? err.stack : err));
    process.exit(1);
  },
);
