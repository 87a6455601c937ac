/**
 * Read state on two instances (Node and Deno) on one Redis Cluster, with MongoDB and the presence
 * worker (which also copies read positions): a read on one instance reaches the reader's sockets
 * and the receipts' recipients on the other; unread counts over rooms on every shard match a count
 * of the logs; positions reach `parley.reads` and never go back there; and when Redis has lost a
 * room's positions, the instances answer them from MongoDB.
 */
import type { Cluster } from 'ioredis';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { roomKeys } from '../../src/rooms/redis-scripts.ts';
import { type Client, type Server, closeAllClients, connect, eventually, rest, sleep, startServer, uid } from './server.ts';
import { dbName, mongoUrlFor, startWorker, stopAllWorkers } from './workers.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_READS_CLUSTER_PORT'] ?? 7800);
type Item = { room: string; seq: number; lastRead: number; unread: number };
type ReadDoc = { _id: string; user: string; room: string; seq: number };

let servers: Server[] = [];
let redis: Cluster;
let mongo: MongoClient;
let db = '';

beforeAll(async () => {
  const nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  redis = await connectCluster({ nodes: nodes.split(',') });
  mongo = new MongoClient(inject('mongoUrl'), { directConnection: true, serverSelectionTimeoutMS: 5000 });
  db = dbName();
  const url = mongoUrlFor(inject('mongoUrl'), db);
  const env = { REDIS_CLUSTER_NODES: nodes, MONGO_URL: url, HEARTBEAT_MS: '5000', LOG_LEVEL: 'warn', SEND_RATE: '1000', SEND_BURST: '1000' };
  servers = await Promise.all([startServer('node', { ...env, INSTANCE_ID: 'inst-a' }), startServer('deno', { ...env, INSTANCE_ID: 'inst-b' })]);
  await startWorker('presence', 'node', { REDIS_CLUSTER_NODES: nodes, MONGO_URL: url, WORKER_POLL_MS: '50' });
}, 90_000);

afterEach(closeAllClients);

afterAll(async () => {
  await stopAllWorkers('SIGTERM');
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  redis?.disconnect();
  await mongo?.close();
  await down({ basePort: BASE_PORT });
});

const A = (): Server => servers[0] as Server;
const B = (): Server => servers[1] as Server;
const conversations = async (s: Server, user: string): Promise<Item[]> => (await rest(s, 'GET', '/v1/conversations', { user })).json['items'] as Item[];
const postAll = async (c: Client, room: string, n: number, tag: string) => {
  for (let i = 0; i < n; i++) await c.post(room, `${tag}${i}`, `${tag}-${i}`);
};

describe('read state on two instances (Node, Deno) on one Redis Cluster', () => {
  it('reaches the reader\'s sockets on the other instance, and the other user\'s joined socket there as a receipt', async () => {
    const [a, b] = [uid('a'), uid('b')].sort() as [string, string];
    const dm = `dm:${a}:${b}`;
    const pub = uid('pub');
    const aOnA = await connect(A(), a);
    const [aOnB, bOnB] = [await connect(B(), a), await connect(B(), b)];
    for (const c of [aOnA, bOnB]) await c.join(dm);
    await aOnA.join(pub);
    await postAll(bOnB, dm, 3, 'd');
    await postAll(aOnA, pub, 2, 'p');
    aOnA.send({ type: 'read', room: dm, seq: 3 });
    expect(await aOnB.nextOf('read')).toEqual({ type: 'read', room: dm, user: a, seq: 3 }); // not joined, other instance
    expect(await bOnB.nextOf('read')).toEqual({ type: 'read', room: dm, user: a, seq: 3 }); // the receipt
    aOnA.send({ type: 'read', room: pub, seq: 2 });
    expect(await aOnB.nextOf('read', (r) => r.room === pub)).toEqual({ type: 'read', room: pub, user: a, seq: 2 });
    await sleep(150);
    expect(bOnB.all('read').filter((r) => r.room === pub)).toEqual([]);
    expect((await rest(B(), 'GET', `/v1/rooms/${dm}/reads`, { user: b })).json).toEqual({ room: dm, reads: [{ user: a, seq: 3 }, { user: b, seq: 0 }] });
  });

  it('lists unread counts over rooms on every shard that match a count of their logs', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const rooms = Array.from({ length: 24 }, () => uid('r'));
    const [ca, cb] = [await connect(A(), alice), await connect(B(), bob)];
    const authors = new Map<string, string[]>();
    for (const [i, room] of rooms.entries()) {
      await ca.join(room);
      await cb.join(room);
      const list: string[] = [];
      for (let j = 0; j < (i % 5) + 1; j++) {
        const [c, who] = (i + j) % 3 === 0 ? [ca, alice] : [cb, bob];
        await c.post(room, `m${j}`, `${room}-${j}`);
        list.push(who);
      }
      authors.set(room, list);
    }
    for (const room of rooms.filter((_, i) => i % 4 === 0)) ca.send({ type: 'read', room, seq: 2 });
    await ca.heartbeat();
    const items = await conversations(B(), alice);
    expect(items).toHaveLength(rooms.length);
    for (const [i, room] of rooms.entries()) {
      const lastRead = i % 4 === 0 ? Math.min(2, (authors.get(room) ?? []).length) : 0;
      const unread = (authors.get(room) ?? []).filter((from, j) => j + 1 > lastRead && from !== alice).length;
      expect(items.find((it) => it.room === room), room).toMatchObject({ lastRead, unread });
    }
  });

  it('copies positions to MongoDB, never backwards, and answers from there when Redis has lost them', async () => {
    const [alice, bob] = [uid('alice'), uid('bob')];
    const room = uid('room');
    const ca = await connect(A(), alice);
    const cb = await connect(B(), bob);
    await ca.join(room);
    await cb.join(room);
    await postAll(cb, room, 6, 'm');
    ca.send({ type: 'read', room, seq: 4 });
    await ca.nextOf('read');
    ca.send({ type: 'read', room, seq: 2 }); // behind: ignored everywhere
    ca.send({ type: 'read', room, seq: 5 });
    await ca.nextOf('read', (r) => r.seq === 5);
    const reads = mongo.db(db).collection<ReadDoc>('reads');
    await eventually(async () => expect(await reads.findOne({ _id: `${alice} ${room}` })).toEqual({ _id: `${alice} ${room}`, user: alice, room, seq: 5 }), 10_000, 100);

    // Redis loses the room's positions (e.g. a failover before replication): MongoDB answers them.
    await redis.del(roomKeys(room).reads);
    const [item] = (await conversations(B(), alice)).filter((i) => i.room === room);
    expect(item).toMatchObject({ room, lastRead: 5, unread: 1 });
    expect((await (await connect(B(), alice)).join(room)).lastRead).toBe(5);
    expect(await redis.hget(roomKeys(room).reads, alice)).toBe('5'); // put back
    // A position behind the one in MongoDB never lowers it there.
    await redis.del(roomKeys(room).reads);
    await redis.xadd('parley:reads:{p0}', '*', 'user', alice, 'room', room, 'seq', '1');
    await sleep(500);
    expect((await reads.findOne({ _id: `${alice} ${room}` }))?.seq).toBe(5);
  });
});
