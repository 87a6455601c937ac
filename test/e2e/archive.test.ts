/**
 * The archive worker against a real Redis Cluster and the MongoDB-compatible server: history
 * beyond the hot window served over REST from the archive, both workers through a MongoDB outage,
 * and the archive worker on Deno.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { build } from '../../infra/mongo/server.ts';
import { down, up } from '../../infra/redis/cluster.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { type Client, type Server, closeAllClients, connect, eventually, rest, startServer, uid } from './server.ts';
import { type Worker, dbName, mongoUrlFor, pool, startWorker, stopAllWorkers } from './workers.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_ARCHIVE_PORT'] ?? 7950);
const OUTAGE_MONGO_PORT = Number(process.env['PARLEY_TEST_OUTAGE_MONGO_PORT'] ?? 27218);
const HOT_WINDOW = 1000;

let nodes = '';
let redis: Cluster;
let mongo: MongoClient;
const servers: Server[] = [];

beforeAll(async () => {
  nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  redis = await connectCluster({ nodes: nodes.split(',') });
  mongo = new MongoClient(inject('mongoUrl'), { directConnection: true, serverSelectionTimeoutMS: 5000 });
}, 90_000);

afterEach(async () => {
  closeAllClients();
  await stopAllWorkers('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
});

afterAll(async () => {
  redis?.disconnect();
  await mongo?.close();
  await down({ basePort: BASE_PORT });
});

const chatEnv = (mongoUrl: string) => ({
  REDIS_CLUSTER_NODES: nodes,
  MONGO_URL: mongoUrl,
  HOT_WINDOW: String(HOT_WINDOW),
  SEND_RATE: '100000',
  SEND_BURST: '100000',
  LOG_LEVEL: 'warn',
});
const workerEnv = (mongoUrl: string, extra: Record<string, string> = {}) => ({ REDIS_CLUSTER_NODES: nodes, MONGO_URL: mongoUrl, WORKER_POLL_MS: '50', ...extra });

type Msg = { room: string; epoch: string; seq: number; from: string; text: string; ts: number };
type Page = { room: string; epoch: string; messages: Msg[]; hasMore: boolean };

/** Posts `count` messages to `room` over REST, `parallel` at a time; returns text by seq. */
async function postMany(server: Server, room: string, count: number, parallel = 16): Promise<Map<number, string>> {
  const texts = new Map<number, string>();
  const batch = Math.random().toString(36).slice(2, 8); // cids unique per call: a repeated (user, cid) is a resend
  await pool(Array.from({ length: count }, (_, i) => i), parallel, async (i) => {
    const text = `m-${i}-${Math.random().toString(36).slice(2, 6)}`;
    const r = await rest(server, 'POST', `/v1/rooms/${room}/messages`, { user: `poster${i % 7}`, body: { text, cid: `c-${batch}-${i}` } });
    if (r.status !== 201) throw new Error(`post ${i}: ${r.status} ${JSON.stringify(r.json)}`);
    texts.set(r.json['seq'] as number, text);
  });
  return texts;
}

async function page(server: Server, room: string, q: string): Promise<Page> {
  const r = await Promise.race([
    rest(server, 'GET', `/v1/rooms/${room}/messages?${q}`, { user: 'reader' }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`GET ?${q}: no answer within 10 s`)), 10_000)),
  ]);
  if (r.status !== 200) throw new Error(`GET ?${q}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json as unknown as Page;
}

/**
 * Scrolls back from the newest page to seq 1 with `before`, checking each page; returns the
 * messages oldest first.
 */
async function scrollBack(server: Server, room: string, limit: number): Promise<Msg[]> {
  const pages: Page[] = [];
  let p = await page(server, room, `limit=${limit}`);
  pages.push(p);
  for (let guard = 0; p.hasMore && guard < 10_000; guard++) {
    const first = p.messages[0];
    if (!first) throw new Error(`a page with hasMore and no messages: ${JSON.stringify(p)}`);
    p = await page(server, room, `limit=${limit}&before=${first.seq}`);
    pages.push(p);
  }
  pages.forEach((pg, i) => {
    expect(pg.epoch, `page ${i} epoch`).toBe(pages[0]?.epoch);
    expect(pg.hasMore, `page ${i} of ${pages.length}: hasMore`).toBe(i < pages.length - 1);
    if (i < pages.length - 1) expect(pg.messages.length, `page ${i} is full`).toBe(limit);
    for (let k = 1; k < pg.messages.length; k++) expect((pg.messages[k] as Msg).seq).toBe((pg.messages[k - 1] as Msg).seq + 1);
  });
  return pages.reverse().flatMap((pg) => pg.messages);
}

/** Catches up from `after=0` to the head; returns the messages in order. */
async function catchUp(server: Server, room: string, limit: number): Promise<Msg[]> {
  const out: Msg[] = [];
  let after = 0;
  for (let guard = 0; guard < 10_000; guard++) {
    const p = await page(server, room, `limit=${limit}&after=${after}`);
    out.push(...p.messages);
    const last = p.messages[p.messages.length - 1];
    if (!p.hasMore) break;
    if (!last) throw new Error(`a page with hasMore and no messages after ${after}`);
    after = last.seq;
  }
  return out;
}

/** All of 1..n exactly once, in order, with the texts that were posted. */
function expectComplete(messages: Msg[], texts: Map<number, string>, n: number): void {
  const seqs = messages.map((m) => m.seq);
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((s) => !seqs.includes(s));
  expect(missing.slice(0, 20), `${missing.length} missing`).toEqual([]);
  expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  const wrongText = messages.filter((m) => texts.get(m.seq) !== m.text).map((m) => m.seq);
  expect(wrongText.slice(0, 20), `${wrongText.length} with the wrong text`).toEqual([]);
  expect(new Set(messages.map((m) => m.epoch)).size).toBe(1);
}

/**
 * A MongoDB-compatible server of the test's own (port OUTAGE_MONGO_PORT), to stop and start again
 * on the same data.
 */
async function ownMongo(): Promise<{ dir: string; start(): Promise<void>; stop(): Promise<void> }> {
  const bin = await build();
  const dir = mkdtempSync(join(tmpdir(), 'parley-mongo-outage-'));
  mkdirSync(join(dir, 'db'), { recursive: true });
  let mongod: ChildProcess | null = null;
  const start = async () => {
    mongod = spawn(bin, ['-listen', `127.0.0.1:${OUTAGE_MONGO_PORT}`, '-data-dir', join(dir, 'db'), '-log-level', 'warn'], { stdio: 'ignore' });
    await eventually(async () => {
      // A client whose first connection failed stays closed: a new one per attempt.
      const probe = new MongoClient(`mongodb://127.0.0.1:${OUTAGE_MONGO_PORT}/`, { directConnection: true, serverSelectionTimeoutMS: 500 });
      try {
        expect((await probe.db('admin').command({ ping: 1 }))['ok']).toBe(1);
      } finally {
        await probe.close().catch(() => undefined);
      }
    }, 15_000, 100);
  };
  const stop = async () => {
    const p = mongod;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await gone;
  };
  return { dir, start, stop };
}

describe('archive worker', () => {
  it('serves 3,000 messages over REST, most of them from the archive, with a hot window of 1,000', async () => {
    const url = mongoUrlFor(inject('mongoUrl'), dbName());
    const worker = await startWorker('archive', 'node', workerEnv(url));
    const server = await startServer('node', chatEnv(url));
    servers.push(server);
    const room = uid('big');
    const texts = await postMany(server, room, 3000);
    expect([...texts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    // The hot log holds only about the hot window: the older pages can only come from the archive.
    const hot = await redis.xlen(`parley:{${room}}:log`);
    expect(hot).toBeLessThan(2000);
    await eventually(async () => expect(await mongo.db(new URL(url).pathname.slice(1)).collection('messages').countDocuments({ room })).toBe(3000), 15_000, 200);
    const m = await worker.metrics();
    expect(m['parley_archive_messages_total']).toBeGreaterThanOrEqual(3000);
    expect(m['parley_archive_skipped_total'] ?? 0).toBe(0);

    expectComplete(await scrollBack(server, room, 200), texts, 3000);
    expectComplete(await scrollBack(server, room, 77), texts, 3000);
    expectComplete(await catchUp(server, room, 200), texts, 3000);
    expectComplete(await catchUp(server, room, 77), texts, 3000);
  }, 90_000);

  it('runs on Deno', async () => {
    const url = mongoUrlFor(inject('mongoUrl'), dbName());
    const worker = await startWorker('archive', 'deno', workerEnv(url));
    const server = await startServer('node', { ...chatEnv(url), HOT_WINDOW: '50' });
    servers.push(server);
    const room = uid('deno');
    // Bursts smaller than the hot window, each archived before the next: nothing is trimmed unarchived.
    const texts = new Map<number, string>();
    for (let burst = 0; burst < 8; burst++) {
      for (const [seq, text] of await postMany(server, room, 40, 4)) texts.set(seq + 0, text);
      await eventually(async () => expect((await worker.metrics())['parley_archive_messages_total']).toBe(texts.size), 15_000, 100);
    }
    expect(await redis.xlen(`parley:{${room}}:log`)).toBeLessThan(texts.size);
    expect((await worker.metrics())['parley_archive_skipped_total'] ?? 0).toBe(0);
    expectComplete(await scrollBack(server, room, 50), texts, 320);
    expect((await worker.health()).status).toBe(200);
  }, 60_000);

  it('both workers ride out a MongoDB outage while chat keeps working, then catch up', async () => {
    const { dir, start: startMongo, stop: stopMongo } = await ownMongo();
    const name = dbName();
    const url = `mongodb://127.0.0.1:${OUTAGE_MONGO_PORT}/${name}`;
    const check = new MongoClient(url, { directConnection: true, serverSelectionTimeoutMS: 5000 });
    const t0 = Date.now();
    const step = (what: string) => process.env['PARLEY_TEST_VERBOSE'] && console.error(`[outage +${Date.now() - t0} ms] ${what}`);
    try {
      await startMongo();
      const fast = { WORKER_CLAIM_IDLE_MS: '1000', WORKER_CLAIM_EVERY_MS: '500' };
      const presence = await startWorker('presence', 'node', workerEnv(url, fast));
      const archive = await startWorker('archive', 'node', workerEnv(url, fast));
      const server = await startServer('node', chatEnv(url));
      servers.push(server);
      const room = uid('outage');
      const users = Array.from({ length: 30 }, () => uid('o'));
      const cycle = async (from: number, to: number) => {
        await pool(users, 10, async (u) => {
          for (let i = from; i < to; i++) {
            const c = await connect(server, u);
            await c.close();
          }
        });
      };
      const texts = await postMany(server, room, 200);
      await cycle(0, 1);
      expect((await presence.health()).status).toBe(200);
      expect((await archive.health()).status).toBe(200);
      // Both workers have written before the outage (workers that start while MongoDB is down are
      // the next test).
      await eventually(async () => expect(await check.db(name).collection<{ _id: string }>('users').countDocuments({ _id: { $in: users } })).toBe(users.length), 15_000, 200);
      await eventually(async () => expect(await check.db(name).collection('messages').countDocuments({ room })).toBe(200), 15_000, 200);

      step('before the outage: ok');
      await stopMongo();
      step('mongo stopped');
      // Chat goes on: WebSocket sends acknowledged, users come and go, REST posts and recent history work.
      const chatter: Client = await connect(server, uid('chatter'));
      await chatter.join(room);
      const seen503 = { presence: false, archive: false };
      const watch = async () => {
        for (const [k, w] of [['presence', presence], ['archive', archive]] as const) {
          const h = await w.health().catch(() => null);
          if (h?.status === 503 && h.body['status'] === 'degraded') seen503[k] = true;
          step(`${k} health ${h?.status} ${JSON.stringify(h?.body)}`);
        }
      };
      const outageEnds = Date.now() + 8000;
      let n = 0;
      while (Date.now() < outageEnds || !seen503.presence || !seen503.archive) {
        if (Date.now() > outageEnds + 15_000) break;
        const ack = await chatter.post(room, `ws-${n}`, `ws-${n}`);
        texts.set(ack.seq, `ws-${n}`);
        n++;
        step(`round ${n}: ws ack`);
        // Paced so that the whole run stays well inside the hot window (what is trimmed unarchived is lost).
        for (const [seq, text] of await postMany(server, room, 10, 2)) texts.set(seq, text);
        step(`round ${n}: rest posts`);
        await cycle(1, 2);
        step(`round ${n}: users cycled`);
        await watch();
        await new Promise((r) => setTimeout(r, 400));
        step(`round ${n}: ${texts.size} messages, degraded ${JSON.stringify(seen503)}`);
        const recent = await page(server, room, 'limit=50');
        expect(recent.messages.length).toBe(50);
        expect(recent.messages[49]?.seq).toBe(texts.size);
      }
      expect(seen503, 'both workers reported degraded during the outage').toEqual({ presence: true, archive: true });
      const total = texts.size;
      expect(total).toBeLessThan(HOT_WINDOW); // nothing may leave the hot log before it is archived
      await chatter.close();

      await startMongo();
      step('mongo restarted');
      await eventually(async () => {
        const [hp, ha] = await Promise.all([presence.health(), archive.health()]);
        expect({ presence: hp.status, archive: ha.status }, `presence ${JSON.stringify(hp.body)} archive ${JSON.stringify(ha.body)}`).toEqual({ presence: 200, archive: 200 });
      }, 30_000, 200).catch((err: Error) => {
        const tail = (w: Worker) => w.output().trim().split('\n').slice(-6).join('\n');
        throw new Error(`${err.message}\n--- presence worker:\n${tail(presence)}\n--- archive worker:\n${tail(archive)}`);
      });
      step('workers healthy');
      // Archive complete, and served from MongoDB (the REST paging through a short hot window is
      // covered above; here the archive itself must hold every message).
      const messages = check.db(name).collection('messages');
      await eventually(async () => expect(await messages.countDocuments({ room })).toBe(total), 20_000, 250);
      const seqs = (await messages.find({ room }).sort({ seq: 1 }).toArray()).map((d) => d['seq'] as number);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      // Users: every one offline, with the last-seen time Redis stamped.
      await eventually(async () => {
        const docs = new Map((await check.db(name).collection<{ _id: string; status: string; lastSeen: number }>('users').find({ _id: { $in: users } }).toArray()).map((d) => [d._id, d]));
        const wrong: string[] = [];
        for (const u of users) {
          const seen = Number(await redis.get(`parley:{u:${u}}:seen`));
          const d = docs.get(u);
          if (d?.status !== 'offline' || d.lastSeen !== seen) wrong.push(`${u}: ${JSON.stringify(d)} vs seen ${seen}`);
        }
        expect(wrong.slice(0, 10), `${wrong.length} wrong`).toEqual([]);
      }, 20_000, 250);
    } finally {
      await check.close().catch(() => undefined);
      await stopAllWorkers('SIGKILL');
      await stopMongo();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  it('workers and an instance started while MongoDB is down write and read once it is up', async () => {
    const { dir, start: startMongo, stop: stopMongo } = await ownMongo();
    const name = dbName();
    const url = `mongodb://127.0.0.1:${OUTAGE_MONGO_PORT}/${name}`;
    try {
      const [presence, archive, server] = await Promise.all([
        startWorker('presence', 'node', workerEnv(url)),
        startWorker('archive', 'node', workerEnv(url)),
        startServer('node', chatEnv(url)),
      ]);
      servers.push(server);
      const room = uid('late');
      const user = uid('late');
      const texts = await postMany(server, room, 20, 4);
      await (await connect(server, user)).close();
      // Both have events in hand and cannot write them yet.
      await eventually(async () => {
        const [hp, ha] = await Promise.all([presence.health(), archive.health()]);
        expect({ presence: hp.status, archive: ha.status }).toEqual({ presence: 503, archive: 503 });
      }, 30_000, 200);
      await startMongo();
      const check = new MongoClient(url, { directConnection: true, serverSelectionTimeoutMS: 5000 });
      try {
        await eventually(async () => expect(await check.db(name).collection('messages').countDocuments({ room })).toBe(texts.size), 30_000, 250);
        await eventually(async () => {
          const doc = await check.db(name).collection<{ _id: string }>('users').findOne({ _id: user });
          expect(doc).toMatchObject({ status: 'offline', lastSeen: Number(await redis.get(`parley:{u:${user}}:seen`)) });
        }, 30_000, 250);
        // The instance reads MongoDB too: with Redis's copy of the last-seen time gone (it keeps it
        // 30 days), REST answers it from MongoDB.
        const stored = await check.db(name).collection<{ _id: string; lastSeen: number }>('users').findOne({ _id: user });
        await redis.del(`parley:{u:${user}}:seen`);
        const r = await rest(server, 'GET', `/v1/users/${user}/presence`, { user: 'reader' });
        expect(r.json).toEqual({ user, status: 'offline', lastSeen: stored?.lastSeen });
      } finally {
        await check.close().catch(() => undefined);
      }
    } finally {
      await stopAllWorkers('SIGKILL');
      await stopMongo();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
