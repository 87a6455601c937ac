/**
 * Worker throughput: how fast the presence worker writes users' transitions into MongoDB, and how
 * fast the archive worker copies room logs into it, on the local stack (6-node Redis Cluster and
 * the FerretDB-based MongoDB-compatible server, both started here on their own ports).
 *
 *   npx tsx bench/workers/throughput.ts [--users 5000] [--per-user 1] [--rooms 20] [--messages 5000]
 *                                       [--repeat 3] [--only presence|archive]
 *
 * Presence: `--users` × `--per-user` events (alternating online/offline, ending offline) are put
 * on the presence streams first, as chat instances write them; then one worker is started and the
 * time from its "ready" log line until the consumer group has nothing left (lag 0, pending 0) is
 * measured. With `--per-user 1` every event is one write; with more, events of one user read in
 * one batch fold into one write. Then every user's document is checked.
 * Archive: `--rooms` × `--messages` are appended through the room log (announcing the rooms on
 * the archive feed, as instances do), then one worker is started and timed until the archive holds
 * them all; then every room is checked to hold seqs 1..N exactly.
 * Each repeat uses a fresh database. The worker is a child process (Node, tsx), as in production.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { down as mongoDown, up as mongoUp } from '../../infra/mongo/server.ts';
import { down as redisDown, up as redisUp } from '../../infra/redis/cluster.ts';
import type { Cluster } from 'ioredis';
import { connectMongo } from '../../src/mongo/connection.ts';
import { PARTITIONS as PRESENCE_PARTITIONS, partitionOf as presencePartition, streamKey as presenceStreamKey } from '../../src/redis/codecs/presence-events.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { RedisRoomLog } from '../../src/rooms/redis.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REDIS_PORT = 7650;
const MONGO_PORT = 27650;

type Opts = { users: number; perUser: number; rooms: number; messages: number; repeat: number; only: string };

function parseArgs(argv: string[]): Opts {
  const o: Opts = { users: 5000, perUser: 1, rooms: 20, messages: 5000, repeat: 3, only: '' };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`${k}: missing value`);
    if (k === '--users') o.users = Number(v);
    else if (k === '--per-user') o.perUser = Number(v);
    else if (k === '--rooms') o.rooms = Number(v);
    else if (k === '--messages') o.messages = Number(v);
    else if (k === '--repeat') o.repeat = Number(v);
    else if (k === '--only') o.only = v;
    else throw new Error(`unknown option ${k}`);
  }
  return o;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Starts a worker; resolves with the process once it logged that it is ready. */
function startWorker(kind: 'presence' | 'archive', env: Record<string, string>): Promise<{ child: ChildProcess; readyAt: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `workers/${kind}.ts`], {
    cwd: ROOT,
    env: { ...process.env, WORKER_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolveReady, reject) => {
    let buf = '';
    child.stderr?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('worker ready')) resolveReady({ child, readyAt: performance.now() });
    });
    child.once('exit', (code) => reject(new Error(`${kind} worker exited (${code}): ${buf.slice(-500)}`)));
  });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Puts `status` at `ts` for every user on the presence streams, as chat instances write them. */
async function fillPresence(redis: Cluster, users: readonly string[], status: string, ts: number): Promise<void> {
  for (let i = 0; i < users.length; i += 1000) {
    await Promise.all(
      users.slice(i, i + 1000).map((u) => redis.xadd(presenceStreamKey(presencePartition(u)), '*', 'user', u, 'status', status, 'ts', String(ts))),
    );
  }
}

/** Starts a presence worker and times it from ready until the group has nothing left. */
async function drainPresence(redis: Cluster, nodes: string[], url: string, id: string): Promise<number> {
  const streams = Array.from({ length: PRESENCE_PARTITIONS }, (_, p) => presenceStreamKey(p));
  const { child, readyAt } = await startWorker('presence', { REDIS_CLUSTER_NODES: nodes.join(','), MONGO_URL: url, WORKER_ID: id });
  for (;;) {
    let left = 0;
    for (const s of streams) {
      for (const g of (await redis.xinfo('GROUPS', s)) as unknown[][]) {
        const info: Record<string, unknown> = {};
        for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
        left += Number(info['lag'] ?? 0) + Number(info['pending'] ?? 0);
      }
    }
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - readyAt) / 1000;
  await stopWorker(child);
  return seconds;
}

/**
 * Two phases on a fresh database: users seen for the first time (`--per-user` events each, ending
 * offline; their documents are inserted), then one more transition (`online`) for every user, now
 * stored (their documents are updated under the time guard).
 */
async function presenceRun(o: Opts, nodes: string[], mongoUrl: string, run: number) {
  const redis = await connectCluster({ nodes });
  await Promise.all(Array.from({ length: PRESENCE_PARTITIONS }, (_, p) => redis.del(presenceStreamKey(p))));
  const t0 = 1_800_000_000_000 + run * 10_000_000;
  const users = Array.from({ length: o.users }, (_, i) => `bench${run}-u${i}`);
  for (let k = 0; k < o.perUser; k++) await fillPresence(redis, users, (o.perUser - 1 - k) % 2 === 0 ? 'offline' : 'online', t0 + k * 1000);
  const db = `bench_presence_${run}_${Date.now()}`;
  const url = `${mongoUrl}${db}`;
  const firstSeconds = await drainPresence(redis, nodes, url, `bench-${run}`);
  const lastAt = t0 + o.perUser * 1000;
  await fillPresence(redis, users, 'online', lastAt);
  const updateSeconds = await drainPresence(redis, nodes, url, `bench-${run}`);
  const client = await connectMongo(url);
  const docs = await client.db(db).collection('users').find({}).toArray();
  const wrong = docs.filter((d) => d['status'] !== 'online' || d['updatedAt'] !== lastAt).length + (o.users - docs.length);
  await client.db(db).dropDatabase();
  await client.close();
  await redis.quit();
  return {
    firstEventsPerSecond: (o.users * o.perUser) / firstSeconds,
    firstUsersPerSecond: o.users / firstSeconds,
    updatesPerSecond: o.users / updateSeconds,
    firstSeconds,
    updateSeconds,
    wrong,
  };
}

async function archiveRun(o: Opts, nodes: string[], mongoUrl: string, run: number) {
  const redis = await connectCluster({ nodes });
  const log = new RedisRoomLog(redis, { hotWindow: o.messages * 2, idempotencyTtlMs: 60_000 });
  const rooms = Array.from({ length: o.rooms }, (_, i) => `bench${run}-${Date.now().toString(36)}-r${i}`);
  for (const room of rooms) {
    for (let i = 0; i < o.messages; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, o.messages - i) }, (_, k) => log.append(room, { from: 'bench', text: `message ${i + k} ${'x'.repeat(60)}` })));
    }
  }
  await log.close();
  const total = o.rooms * o.messages;
  const db = `bench_archive_${run}_${Date.now()}`;
  const client = await connectMongo(`${mongoUrl}${db}`);
  const messages = client.db(db).collection('messages');
  const { child, readyAt } = await startWorker('archive', { REDIS_CLUSTER_NODES: nodes.join(','), MONGO_URL: `${mongoUrl}${db}`, WORKER_ID: `bench-${run}`, ARCHIVE_SCAN_MS: '0' });
  let doneAt = 0;
  while (!doneAt) {
    if ((await messages.estimatedDocumentCount()) >= total) doneAt = performance.now();
    else await new Promise((r) => setTimeout(r, 50));
  }
  await stopWorker(child);
  let wrong = 0;
  for (const room of rooms) {
    const seqs = (await messages.find({ room }, { projection: { seq: 1 } }).toArray()).map((d) => d['seq'] as number).sort((a, b) => a - b);
    if (seqs.length !== o.messages || seqs.some((s, i) => s !== i + 1)) wrong++;
  }
  await client.db(db).dropDatabase();
  await client.close();
  await redis.quit();
  const seconds = (doneAt - readyAt) / 1000;
  return { seconds, messages: total, messagesPerSecond: total / seconds, wrongRooms: wrong };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const cluster = await redisUp({ basePort: REDIS_PORT });
  const mongo = await mongoUp({ port: MONGO_PORT });
  try {
    if (o.only !== 'archive') {
      const runs = [];
      for (let r = 0; r < o.repeat; r++) {
        const res = await presenceRun(o, cluster.nodes, mongo.url, r);
        console.log(
          `presence run ${r + 1}: new users ${o.users}×${o.perUser} events in ${res.firstSeconds.toFixed(2)} s = ${res.firstEventsPerSecond.toFixed(0)} events/s (${res.firstUsersPerSecond.toFixed(0)} users/s); ` +
            `stored users ${o.users} events in ${res.updateSeconds.toFixed(2)} s = ${res.updatesPerSecond.toFixed(0)} events/s; wrong ${res.wrong}`,
        );
        runs.push(res);
      }
      console.log(
        `presence median (${o.users} users): new users ${median(runs.map((r) => r.firstEventsPerSecond)).toFixed(0)} events/s, ` +
          `stored users ${median(runs.map((r) => r.updatesPerSecond)).toFixed(0)} events/s (one update each)`,
      );
    }
    if (o.only !== 'presence') {
      const runs = [];
      for (let r = 0; r < o.repeat; r++) {
        const res = await archiveRun(o, cluster.nodes, mongo.url, r);
        console.log(`archive run ${r + 1}: ${res.messages} messages in ${res.seconds.toFixed(2)} s = ${res.messagesPerSecond.toFixed(0)} messages/s, wrong rooms ${res.wrongRooms}`);
        runs.push(res);
      }
      console.log(`archive median: ${median(runs.map((r) => r.messagesPerSecond)).toFixed(0)} messages/s (${o.rooms} rooms × ${o.messages})`);
    }
  } finally {
    await mongoDown({ port: MONGO_PORT });
    await redisDown({ basePort: REDIS_PORT });
  }
}

await main();
