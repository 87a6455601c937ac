/**
 * The presence worker against a real Redis Cluster and the MongoDB-compatible server: users'
 * online/offline transitions end up in `users` (each test in its own database), through crashes,
 * with two workers at once, with out-of-order, duplicate and malformed events, and on Deno.
 */
import type { Cluster } from 'ioredis';
import { type Collection, MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { PARTITIONS as PRESENCE_PARTITIONS, partitionOf as presencePartition, streamKey as presenceStreamKey } from '../../src/redis/codecs/presence-events.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { type Client, type Server, closeAllClients, connect, eventually, rest, sleep, startServer, uid } from './server.ts';
import { type Worker, dbName, groupBacklog, mongoUrlFor, pool, startWorker, stopAllWorkers } from './workers.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_PRESENCE_WORKER_PORT'] ?? 7900);
const GROUP = 'presence';
const STREAMS = Array.from({ length: PRESENCE_PARTITIONS }, (_, p) => presenceStreamKey(p));

type UserDoc = { _id: string; status: 'online' | 'offline'; lastSeen: number; updatedAt: number };

let nodes = '';
let redis: Cluster;
let mongo: MongoClient;
const servers: Server[] = [];

beforeAll(async () => {
  nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  redis = await connectCluster({ nodes: nodes.split(',') });
  mongo = new MongoClient(inject('mongoUrl'), { directConnection: true, serverSelectionTimeoutMS: 5000 });
  const env = { REDIS_CLUSTER_NODES: nodes, LOG_LEVEL: 'warn' };
  servers.push(...(await Promise.all([startServer('node', { ...env, INSTANCE_ID: uid('a') }), startServer('node', { ...env, INSTANCE_ID: uid('b') })])));
}, 90_000);

afterEach(async () => {
  closeAllClients();
  // Let a worker still running take the offline events of the sockets just closed, so that the next
  // test (sharing the consumer group) starts from an empty backlog.
  await eventually(expectDrained, 5000, 100).catch(() => undefined);
  // SIGTERM, so that the workers give their partition leases back: a killed worker's leases would hold
  // the next test's workers off for up to WORKER_LEASE_MS (10 s), as long as its waits for partitions.
  await stopAllWorkers('SIGTERM');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  redis?.disconnect();
  await mongo?.close();
  await down({ basePort: BASE_PORT });
});

/** A fresh database for one test: its URL (for the worker) and its `users` collection. */
function database(): { url: string; users: Collection<UserDoc> } {
  const name = dbName();
  return { url: mongoUrlFor(inject('mongoUrl'), name), users: mongo.db(name).collection<UserDoc>('users') };
}

const workerEnv = (url: string, extra: Record<string, string> = {}) => ({
  REDIS_CLUSTER_NODES: nodes,
  MONGO_URL: url,
  WORKER_POLL_MS: '50',
  ...extra,
});

/** What Redis (the source of truth) says about a user: the REST route's answer and the stamps. */
async function truth(user: string): Promise<{ status: string; lastSeen?: number; at: number }> {
  const r = await rest(servers[0] as Server, 'GET', `/v1/users/${encodeURIComponent(user)}/presence`, { user: 'observer' });
  expect(r.status).toBe(200);
  const at = Number(await redis.get(`parley:{u:${user}}:at`));
  return { status: r.json['status'] as string, ...(r.json['lastSeen'] === undefined ? {} : { lastSeen: r.json['lastSeen'] as number }), at };
}

/**
 * Every user's document matches Redis: the same status, and `lastSeen` the stamped time of the
 * last transition (the last offline's last-seen time for an offline user).
 */
async function expectMatchesRedis(users: Collection<UserDoc>, names: readonly string[]): Promise<void> {
  const docs = new Map((await users.find({ _id: { $in: [...names] } }).toArray()).map((d) => [d._id, d]));
  const wrong: string[] = [];
  await pool(names, 20, async (u) => {
    const t = await truth(u);
    const d = docs.get(u);
    const want = t.status === 'offline' ? t.lastSeen : t.at;
    if (!d || d.status !== t.status || d.lastSeen !== want) wrong.push(`${u}: mongo ${JSON.stringify(d ?? null)} redis ${JSON.stringify(t)}`);
  });
  expect(wrong.slice(0, 10), `${wrong.length} of ${names.length} users differ`).toEqual([]);
}

/** Entries ever added to the presence streams (XINFO STREAM entries-added, summed). */
async function eventsAdded(): Promise<number> {
  let n = 0;
  for (const s of STREAMS) {
    const info = (await redis.xinfo('STREAM', s).catch(() => [])) as unknown[];
    for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === 'entries-added') n += Number(info[i + 1]);
  }
  return n;
}

/** The group has nothing pending and nothing undelivered. */
async function expectDrained(): Promise<void> {
  expect(await groupBacklog(redis, STREAMS, GROUP)).toMatchObject({ pending: 0, lag: 0 });
}

describe('presence worker', () => {
  it('puts 500 users who connected and disconnected across 2 instances into MongoDB with the right status and lastSeen', async () => {
    const db = database();
    const worker = await startWorker('presence', 'node', workerEnv(db.url));
    const users = Array.from({ length: 500 }, () => uid('u'));
    // Every 5th user stays online (after a first connection that is closed); the others end offline.
    const stayOnline = (i: number) => i % 5 === 0;
    const closedAt = new Map<string, { from: number; to: number }>();
    const startedAt = Date.now();
    const added = await eventsAdded();
    const kept: Client[] = [];
    await pool(users, 50, async (u, i) => {
      const server = servers[i % 2] as Server;
      const c = await connect(server, u);
      const from = Date.now();
      await c.close();
      closedAt.set(u, { from, to: Date.now() });
      if (stayOnline(i)) kept.push(await connect(servers[(i + 1) % 2] as Server, u));
    });
    const doneAt = Date.now();

    // "Within seconds": 15 s on this 2-core box, with the worker's own view in the failure message.
    await eventually(async () => {
      const n = await db.users.countDocuments({ _id: { $in: users } });
      if (n !== 500) {
        const m = await worker.metrics().catch(() => ({}) as Record<string, number>);
        const pick = Object.fromEntries(Object.entries(m).filter(([k]) => /^parley_worker_(events|lag|pending|batch_seconds_(sum|count))/.test(k)));
        expect.fail(`${n} of 500 users in MongoDB after ${Date.now() - doneAt} ms; worker ${JSON.stringify(pick)}; backlog ${JSON.stringify(await groupBacklog(redis, STREAMS, GROUP))}`);
      }
    }, 15_000, 200);
    await eventually(async () => {
      const docs = new Map((await db.users.find({ _id: { $in: users } }).toArray()).map((d) => [d._id, d]));
      const wrong: string[] = [];
      users.forEach((u, i) => {
        const d = docs.get(u);
        const want = stayOnline(i) ? 'online' : 'offline';
        if (d?.status !== want) wrong.push(`${u}: want ${want}, got ${JSON.stringify(d)}`);
        else if (want === 'offline') {
          // The server stamps lastSeen when it handles the close: between the client's close and
          // (within a second of) the moment the close completed.
          const c = closedAt.get(u) as { from: number; to: number };
          if (d.lastSeen < c.from - 50 || d.lastSeen > c.to + 1000) wrong.push(`${u}: lastSeen ${d.lastSeen} vs close ${c.from}..${c.to}`);
        } else if (d.lastSeen < startedAt || d.lastSeen > doneAt + 1000) {
          // Online since its first connection, or since the reconnection when the server had
          // handled the close before it (expectMatchesRedis below checks which).
          wrong.push(`${u}: online since ${d.lastSeen}, outside ${startedAt}..${doneAt}`);
        }
      });
      if (wrong.length > 0) {
        // Evidence for a failure: what Redis says and what the user's partition stream holds.
        for (const w of wrong.slice(0, 3)) {
          const u = w.slice(0, w.indexOf(':'));
          const entries = (await redis.xrange(presenceStreamKey(presencePartition(u)), '-', '+')).filter(([, f]) => f[1] === u);
          wrong.push(`  ${u}: redis ${JSON.stringify(await truth(u))} stream ${JSON.stringify(entries)}`);
        }
      }
      expect(wrong.slice(0, 13), `${wrong.length} wrong`).toEqual([]);
    }, 10_000, 250);
    await expectMatchesRedis(db.users, users);
    const m = await worker.metrics();
    // Every event written was read once (500 online + 500 offline + up to 100 online again: fewer
    // when a reconnection reached the server before it had handled the close), none malformed.
    const written = (await eventsAdded()) - added;
    expect(written).toBeGreaterThanOrEqual(1000);
    expect(m['parley_worker_events_read_total']).toBe(written);
    expect(m['parley_worker_events_malformed_total']).toBe(0);
    await eventually(expectDrained, 5000, 100);
    for (const c of kept) await c.close();
  }, 90_000);

  it('loses nothing when the worker is killed mid-flow: same WORKER_ID resumes at once, a new one claims', async () => {
    const db = database();
    const users = Array.from({ length: 24 }, () => uid('k'));
    // Continuous traffic: each user connects and disconnects over and over, on alternating instances.
    let flowing = true;
    let cycles = 0;
    const flow = pool(users, users.length, async (u, i) => {
      for (let n = 0; flowing; n++) {
        const c = await connect(servers[(i + n) % 2] as Server, u);
        await sleep(5 + Math.random() * 30);
        await c.close();
        cycles++;
      }
    });
    // A long coalescing window keeps read, unacknowledged entries in the worker's hands.
    const holding = { WORKER_COALESCE_MS: '1500', WORKER_ID: 'crashy' };
    const killHolding = async (w: Worker) => {
      await eventually(async () => expect(Number((await w.health()).body['inHand'])).toBeGreaterThan(0), 10_000, 20);
      await w.stop('SIGKILL');
      const b = await groupBacklog(redis, STREAMS, GROUP);
      expect(b.pending, 'the killed worker left entries pending').toBeGreaterThan(0);
      return b.pending;
    };
    try {
      const w1 = await startWorker('presence', 'node', workerEnv(db.url, holding));
      await killHolding(w1);

      // Same name, default claim idle time (30 s): only resuming its own pending entries clears them.
      const w2 = await startWorker('presence', 'node', workerEnv(db.url, holding));
      await eventually(() => expect(w2.output()).toMatch(/"msg":"presence worker ready".*"resumed":[1-9]/), 5000, 20);
      await killHolding(w2);

      // A new name that claims what the dead consumer left, quickly.
      const w3 = await startWorker('presence', 'node', workerEnv(db.url, { WORKER_ID: 'fresh', WORKER_CLAIM_IDLE_MS: '300', WORKER_CLAIM_EVERY_MS: '200' }));
      await eventually(async () => expect((await w3.metrics())['parley_worker_events_claimed_total']).toBeGreaterThan(0), 10_000, 100);
      await sleep(500);
      flowing = false;
      await flow;
      expect(cycles).toBeGreaterThan(40);
      expect((await w3.metrics())['parley_worker_events_claimed_total']).toBeGreaterThan(0);
      await eventually(expectDrained, 10_000, 100);
      await eventually(() => expectMatchesRedis(db.users, users), 10_000, 250);
      expect(await db.users.countDocuments({ _id: { $in: users }, status: 'offline' })).toBe(users.length);
    } finally {
      flowing = false;
      await flow.catch(() => undefined);
    }
  }, 90_000);

  it('two workers at once share the work and reach the same state', async () => {
    const db = database();
    const [a, b] = await Promise.all([
      startWorker('presence', 'node', workerEnv(db.url, { WORKER_ID: 'twin-a' })),
      startWorker('presence', 'node', workerEnv(db.url, { WORKER_ID: 'twin-b' })),
    ]);
    // The first to start takes all 8 partitions and gives half back once it sees the other: wait for
    // that, or on a slow machine the first one may have read everything before sharing.
    for (const w of [a, b]) await eventually(async () => expect((await w.health()).body['partitions']).toBe(4), 10_000, 100);
    const users = Array.from({ length: 200 }, () => uid('t'));
    const added = await eventsAdded();
    const kept: Client[] = [];
    await pool(users, 40, async (u, i) => {
      for (let n = 0; n < 2; n++) {
        const c = await connect(servers[(i + n) % 2] as Server, u);
        if (n === 1 && i % 4 === 0) kept.push(c);
        else await c.close();
      }
    });
    await eventually(expectDrained, 10_000, 100);
    await eventually(() => expectMatchesRedis(db.users, users), 10_000, 250);
    expect(await db.users.countDocuments({ _id: { $in: users }, status: 'online' })).toBe(50);
    const [ma, mb] = await Promise.all([a.metrics(), b.metrics()]);
    expect(ma['parley_worker_events_read_total']).toBeGreaterThan(0);
    expect(mb['parley_worker_events_read_total']).toBeGreaterThan(0);
    // Every event written (at most 200 × (online, offline, online) + 150 × offline) read by exactly one of them.
    const written = (await eventsAdded()) - added;
    expect(written).toBeGreaterThanOrEqual(350);
    expect(written).toBeLessThanOrEqual(750);
    expect((ma['parley_worker_events_read_total'] ?? 0) + (mb['parley_worker_events_read_total'] ?? 0)).toBe(written);
    for (const c of kept) await c.close();
  }, 60_000);

  it('never moves a user backwards on out-of-order or duplicate events, and acknowledges malformed ones', async () => {
    const db = database();
    const worker = await startWorker('presence', 'node', workerEnv(db.url));
    const user = uid('ooo');
    const stream = presenceStreamKey(presencePartition(user));
    const add = (fields: Record<string, string>) => redis.xadd(stream, '*', ...Object.entries(fields).flat()) as Promise<string>;
    /** Waits until the group has delivered `id` and acknowledged everything on the stream. */
    const handled = async (id: string) =>
      eventually(async () => {
        const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
        const g = groups.map((x) => Object.fromEntries(Array.from({ length: x.length / 2 }, (_, i) => [x[2 * i], x[2 * i + 1]]))).find((x) => x['name'] === GROUP);
        const [ms, sq] = String(g?.['last-delivered-id'] ?? '0-0').split('-').map(Number) as [number, number];
        const [ims, isq] = id.split('-').map(Number) as [number, number];
        expect(ms > ims || (ms === ims && sq >= isq), `delivered ${String(g?.['last-delivered-id'])} < ${id}`).toBe(true);
        expect(Number(g?.['pending'])).toBe(0);
      }, 15_000, 20);
    const doc = () => db.users.findOne({ _id: user });
    const T = Date.now() - 60_000;

    await handled(await add({ user, status: 'offline', ts: String(T + 2000) }));
    expect(await doc()).toMatchObject({ status: 'offline', lastSeen: T + 2000, updatedAt: T + 2000 });
    // Older, in a later batch.
    await handled(await add({ user, status: 'online', ts: String(T + 1000) }));
    expect(await doc()).toMatchObject({ status: 'offline', lastSeen: T + 2000 });
    // Duplicates of each, in separate batches.
    await handled(await add({ user, status: 'offline', ts: String(T + 2000) }));
    await handled(await add({ user, status: 'online', ts: String(T + 1000) }));
    expect(await doc()).toMatchObject({ status: 'offline', lastSeen: T + 2000 });
    // Same time as the stored state, other status: not newer, so not applied.
    await handled(await add({ user, status: 'online', ts: String(T + 2000) }));
    expect(await doc()).toMatchObject({ status: 'offline', lastSeen: T + 2000 });
    // Newer first, older second, written together (most likely one batch): the newer one wins.
    const pipe = redis.multi();
    pipe.xadd(stream, '*', 'user', user, 'status', 'online', 'ts', String(T + 4000));
    pipe.xadd(stream, '*', 'user', user, 'status', 'offline', 'ts', String(T + 3000));
    const ids = ((await pipe.exec()) ?? []).map(([, id]) => String(id));
    await handled(ids[1] as string);
    expect(await doc()).toMatchObject({ status: 'online', lastSeen: T + 4000 });
    expect(await db.users.countDocuments({ _id: user })).toBe(1);

    // Malformed: acknowledged, counted, not stuck, and nothing written.
    const before = await worker.metrics();
    await add({ user, status: 'away', ts: String(T + 5000) });
    await add({ user, status: 'offline' });
    await add({ status: 'offline', ts: String(T + 5000) });
    const last = await add({ user, status: 'offline', ts: 'soon' });
    await handled(last);
    expect(await doc()).toMatchObject({ status: 'online', lastSeen: T + 4000 });
    const after = await worker.metrics();
    expect((after['parley_worker_events_malformed_total'] ?? 0) - (before['parley_worker_events_malformed_total'] ?? 0)).toBe(4);
    // And the stream is not stuck behind them.
    await handled(await add({ user, status: 'offline', ts: String(T + 6000) }));
    expect(await doc()).toMatchObject({ status: 'offline', lastSeen: T + 6000 });
    await eventually(expectDrained, 5000, 100);
  }, 60_000);

  it('on SIGTERM finishes, exits 0 and gives its partitions back at once', async () => {
    const db = database();
    // Leases that would take 60 s to expire: the other worker gets the partitions only if they are given back.
    const slow = { WORKER_LEASE_MS: '60000' };
    const a = await startWorker('presence', 'node', workerEnv(db.url, { ...slow, WORKER_ID: 'term-a' }));
    await eventually(async () => expect((await a.health()).body['partitions']).toBe(8), 10_000, 100);
    const b = await startWorker('presence', 'node', workerEnv(db.url, { ...slow, WORKER_ID: 'term-b' }));
    await eventually(async () => expect((await b.health()).body['partitions']).toBe(4), 10_000, 100);
    const users = Array.from({ length: 100 }, () => uid('term'));
    await pool(users, 20, async (u, i) => (await connect(servers[i % 2] as Server, u)).close());
    const stoppedAt = Date.now();
    expect(await a.stop('SIGTERM')).toBe(0);
    await eventually(async () => expect((await b.health()).body['partitions']).toBe(8), 10_000, 100);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    await eventually(expectDrained, 10_000, 100);
    await eventually(() => expectMatchesRedis(db.users, users), 10_000, 250);
    // Stopped the same way, so that its 60-second leases do not hold up the next test.
    expect(await b.stop('SIGTERM')).toBe(0);
  }, 60_000);

  it('runs on Deno', async () => {
    const db = database();
    const worker = await startWorker('presence', 'deno', workerEnv(db.url));
    const users = Array.from({ length: 30 }, () => uid('d'));
    const added = await eventsAdded();
    const kept: Client[] = [];
    await pool(users, 10, async (u, i) => {
      const c = await connect(servers[i % 2] as Server, u);
      if (i % 3 === 0) kept.push(c);
      else await c.close();
    });
    await eventually(() => expectMatchesRedis(db.users, users), 15_000, 250);
    expect(await db.users.countDocuments({ _id: { $in: users }, status: 'online' })).toBe(10);
    expect((await worker.health()).status).toBe(200);
    const written = (await eventsAdded()) - added;
    expect(written).toBeGreaterThanOrEqual(30);
    expect((await worker.metrics())['parley_worker_events_read_total']).toBe(written);
    for (const c of kept) await c.close();
  }, 60_000);
});
