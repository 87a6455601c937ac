/**
 * Edits, deletes and reactions through failures, on the whole stack (two instances on one Redis
 * Cluster, the archive worker, MongoDB): a client that misses a mix of them while its instance is
 * killed ends with the room state of a client that never disconnected; and so does one that comes
 * back after the hot window moved past them, from the archive.
 */
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { type Entry, fold } from './ws-changes.suite.ts';
import { type Client, type Server, closeAllClients, connect, eventually, rest, startServer, uid } from './server.ts';
import { dbName, mongoUrlFor, startWorker, stopAllWorkers } from './workers.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_CHANGES_CLUSTER_PORT'] ?? 7850);
let nodes = '';
let mongo: MongoClient;
const servers: Server[] = [];

beforeAll(async () => {
  nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  mongo = new MongoClient(inject('mongoUrl'), { directConnection: true, serverSelectionTimeoutMS: 5000 });
}, 90_000);

afterEach(async () => {
  closeAllClients();
  await stopAllWorkers('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.stop('SIGKILL')));
});

afterAll(async () => {
  await mongo?.close();
  await down({ basePort: BASE_PORT });
});

const env = (mongoUrl: string, extra: Record<string, string> = {}) => ({
  REDIS_CLUSTER_NODES: nodes,
  MONGO_URL: mongoUrl,
  SEND_RATE: '10000',
  SEND_BURST: '10000',
  LOG_LEVEL: 'warn',
  ...extra,
});

/** What a user sees of a room: each text message's text and state, by seq. */
const view = (state: Map<number, Entry>) =>
  [...state.values()].map(({ seq, from, text, edited, deleted, reactions }) => ({ seq, from, text, edited, deleted, reactions }));

/** Every entry of the room from REST, catching up page by page from `after`. */
async function catchUp(server: Server, user: string, room: string, after = 0): Promise<Entry[]> {
  const out: Entry[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const r = await rest(server, 'GET', `/v1/rooms/${room}/messages?after=${after}&limit=200`, { user });
    expect(r.status).toBe(200);
    const page = r.json as { messages: Entry[]; hasMore: boolean };
    out.push(...page.messages);
    if (!page.hasMore || page.messages.length === 0) return out;
    after = (page.messages.at(-1) as Entry).seq;
  }
  throw new Error('no end to the pages');
}

/** Sends a change frame and waits for its ack. */
async function change(c: Client, frame: Record<string, unknown>): Promise<number> {
  const cid = uid('c');
  c.send({ ...frame, cid });
  const answer = await c.next((e) => (e.type === 'ack' || e.type === 'error') && e.cid === cid, 10_000);
  if (answer.type !== 'ack') throw new Error(`refused: ${JSON.stringify(answer)}`);
  return answer.seq;
}

/** A mix of everything by `c` in `room`, on messages `1..known` and on new ones. */
async function mix(c: Client, room: string, known: number, tag: string): Promise<void> {
  await change(c, { type: 'edit', room, seq: 1, text: `first, edited ${tag}` });
  await change(c, { type: 'react', room, seq: 2, emoji: '🎉', on: true });
  await change(c, { type: 'delete', room, seq: 3 });
  const fresh = await c.post(room, `new ${tag}`, uid('m'));
  await change(c, { type: 'edit', room, seq: fresh.seq, text: `new ${tag}, edited` });
  await change(c, { type: 'react', room, seq: fresh.seq, emoji: '👍', on: true });
  await change(c, { type: 'react', room, seq: 2, emoji: '🎉', on: false });
  await change(c, { type: 'react', room, seq: known, emoji: '❤️', on: true });
  await c.post(room, `last ${tag}`, uid('m'));
}

describe('edits, deletes and reactions through failures', () => {
  it('a client that missed them while its instance was killed ends with the state of one that never left', async () => {
    const url = mongoUrlFor(inject('mongoUrl'), dbName());
    const [steady, doomed] = await Promise.all([startServer('node', env(url)), startServer('node', env(url))]);
    servers.push(steady, doomed);
    const room = uid('room');
    const [author, watcher, victim] = [uid('author'), uid('watcher'), uid('victim')];
    const a = await connect(steady, author);
    const w = await connect(steady, watcher);
    const v = await connect(doomed, victim);
    await a.join(room);
    await w.join(room);
    const joined = await v.join(room);
    for (let i = 0; i < 6; i++) await a.post(room, `m${i}`, `m-${i}`);
    await change(a, { type: 'react', room, seq: 1, emoji: '👍', on: true });
    await v.nextOf('message', (e) => e.seq === 7);
    const seen = fold(v.all('message') as Entry[]);
    const last = (v.all('message').at(-1) as Entry).seq;

    await doomed.stop('SIGKILL');
    await mix(a, room, 6, 'during the crash');
    const back = await connect(steady, victim);
    const resumed = await back.join(room, { epoch: joined.epoch, seq: last });
    expect(resumed.recovered).toBe(true);
    await a.heartbeat();
    const head = (a.all('ack').at(-1) as { seq: number }).seq;
    await w.nextOf('message', (e) => e.seq === head);
    const recovered = fold(resumed.messages as Entry[], seen);
    const never = fold(w.all('message') as Entry[]);
    expect(view(recovered)).toEqual(view(never));
    expect(view(fold(await catchUp(steady, watcher, room)))).toEqual(view(never));
    expect(view(never).find((m) => m.seq === 3)).toMatchObject({ text: '', deleted: true });
  }, 90_000);

  it('a client back after the hot window moved past them gets the same state from the archive', async () => {
    const url = mongoUrlFor(inject('mongoUrl'), dbName());
    const worker = await startWorker('archive', 'node', { REDIS_CLUSTER_NODES: nodes, MONGO_URL: url, WORKER_POLL_MS: '50' });
    const server = await startServer('node', env(url, { HOT_WINDOW: '50' }));
    servers.push(server);
    const room = uid('room');
    const [author, watcher] = [uid('author'), uid('watcher')];
    const a = await connect(server, author);
    const w = await connect(server, watcher);
    await a.join(room);
    await w.join(room);
    await a.post(room, 'a secret', 'm-0');
    for (let i = 1; i < 6; i++) await a.post(room, `m${i}`, `m-${i}`);
    /**
     * Pushes what the room holds out of the hot window (trimmed in whole stream nodes: well past
     * it), in bursts smaller than the window, each archived before the next: nothing is lost.
     */
    const fill = async (tag: string) => {
      for (let burst = 0; burst < 10; burst++) {
        for (let i = 0; i < 40; i++) a.send({ type: 'send', room, text: `${tag} ${burst}.${i}`, cid: `${tag}-${burst}-${i}` });
        const { seq } = await a.nextOf('ack', (e) => e.cid === `${tag}-${burst}-39`, 20_000);
        await eventually(async () => expect((await worker.metrics())['parley_archive_messages_total']).toBeGreaterThanOrEqual(seq), 20_000, 50);
      }
      expect((await worker.metrics())['parley_archive_skipped_total'] ?? 0).toBe(0);
    };
    await fill('filler');
    // Changes to messages only the archive holds: the author is looked up there.
    await mix(a, room, 6, 'after the window');
    await change(a, { type: 'edit', room, seq: 5, text: 'five, edited' });
    await change(a, { type: 'delete', room, seq: 5 });
    await change(a, { type: 'edit', room, seq: 1, text: 'a secret, edited' });
    await change(a, { type: 'delete', room, seq: 1 });
    await a.heartbeat();
    const head = (a.all('ack').at(-1) as { seq: number }).seq;
    await w.nextOf('message', (e) => e.seq === head, 10_000);
    const never = view(fold(w.all('message') as Entry[]));
    // More traffic, so that the changes themselves leave the hot window too.
    await fill('more');

    // A client that saw only the first six messages catches up over REST, from the archive.
    const seen = fold((w.all('message') as Entry[]).filter((m) => m.seq <= 6));
    const upToHead = (state: Map<number, Entry>) => view(state).filter((m) => m.seq <= head);
    expect(upToHead(fold(await catchUp(server, watcher, room, 6), seen))).toEqual(never);
    // A fresh read from the archive shows the same state, and the deleted text is gone from MongoDB.
    expect(upToHead(fold(await catchUp(server, watcher, room)))).toEqual(never);
    const docs = mongo.db(new URL(url).pathname.slice(1)).collection('messages');
    await eventually(async () => expect(await docs.findOne({ room, seq: 1 })).toMatchObject({ text: '', deleted: true }), 15_000, 200);
    expect(await docs.countDocuments({ room, text: { $regex: 'secret|five' } })).toBe(0);
    expect(await docs.findOne({ room, seq: 2 })).toMatchObject({ text: 'm1' });
    expect(await docs.findOne({ room, seq: 6 })).toMatchObject({ reactions: [{ emoji: '❤️', count: 1, users: [author] }] });
  }, 120_000);
});
