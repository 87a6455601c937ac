/**
 * The conversation list of a user in 1,000 rooms on Redis Cluster: one round trip per shard, not one
 * per room. The list relies on ioredis's auto-pipeline: every command sent to one master in the same
 * turn of the event loop goes out in one write, so the per-room scripts must all be sent before the
 * first answer is awaited. Each master's command connection counts its socket writes while the list
 * is built; a change that awaited each room in turn would write once per room.
 */
import type { Cluster } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ConversationService } from '../../src/chat/conversations.ts';
import { ReadService } from '../../src/chat/reads.ts';
import { RedisConversations } from '../../src/conversations/redis.ts';
import { createMetrics } from '../../src/metrics.ts';
import { RedisReadState } from '../../src/reads/redis.ts';
import type { DurableReads } from '../../src/reads/types.ts';
import { RedisRoomLog } from '../../src/rooms/redis.ts';
import { onOwnConnection } from './redis-util.ts';
import { DEFAULT_ROOMLOG_OPTIONS } from './roomlog.ts';
import { Resources, uid } from './util.ts';

const nodes = () => inject('redisNodes');
const ROOMS = 1000;

/** A durable copy that holds no position: every room without one is looked up there and seeded. */
const emptyDurable: DurableReads = {
  apply: async () => undefined,
  get: async (_user, rooms) => rooms.map(() => null),
  ofUsers: async (_room, users) => users.map(() => null),
};

/** Writes to each master's command connection (by `host:port`) while `work` runs. */
async function writesPerMaster<T>(cluster: Cluster, work: () => Promise<T>): Promise<{ result: T; writes: Map<string, number> }> {
  const writes = new Map<string, number>();
  const restore: (() => void)[] = [];
  for (const node of cluster.nodes('master')) {
    const name = `${node.options.host}:${node.options.port}`;
    const stream = node.stream;
    const write = stream.write;
    writes.set(name, 0);
    stream.write = function (this: typeof stream, ...args: Parameters<typeof write>) {
      writes.set(name, (writes.get(name) ?? 0) + 1);
      return write.apply(this, args);
    } as typeof write;
    restore.push(() => {
      stream.write = write;
    });
  }
  try {
    return { result: await work(), writes };
  } finally {
    for (const r of restore) r();
  }
}

describe('conversation list on Redis Cluster', () => {
  const res = new Resources();
  afterEach(() => res.cleanup());

  it(`lists a user's ${ROOMS} rooms in a bounded number of round trips per master, whatever the number of rooms`, async () => {
    // Filled on one connection, listed on another that carries nothing else.
    const filler = res.track(await onOwnConnection(nodes(), (cluster) => new RedisRoomLog(cluster, DEFAULT_ROOMLOG_OPTIONS)));
    const lister = res.track(await onOwnConnection(nodes(), (cluster) => new RedisReadState(cluster)));
    const [alice, bob] = [uid('alice'), uid('bob')];
    const rooms = Array.from({ length: ROOMS }, (_, i) => `${uid('r')}-${i}`);
    const fillerConversations = new RedisConversations(filler.cluster);
    await Promise.all(rooms.map((room, i) => Promise.all(Array.from({ length: 1 + (i % 3) }, (_, j) => filler.store.append(room, { from: bob, text: `m${j}` })))));
    await Promise.all(rooms.map((room) => fillerConversations.add(alice, room)));
    const fillerReads = new RedisReadState(filler.cluster);
    await Promise.all(rooms.filter((_, i) => i % 10 === 0).map((room) => fillerReads.mark(alice, room, 1, { receipts: false })));
    await fillerReads.close();

    const reads = new ReadService(lister.store, emptyDurable, async () => [], createMetrics('test'));
    const service = new ConversationService(new RedisConversations(lister.cluster), reads);
    const masters = lister.cluster.nodes('master');
    await Promise.all(masters.map((m) => m.ping())); // every command connection is open

    // The first list also seeds a "no position" for each room the durable copy does not know.
    const cold = await writesPerMaster(lister.cluster, () => service.list(alice));
    const warm = await writesPerMaster(lister.cluster, () => service.list(alice));

    for (const { result } of [cold, warm]) {
      expect(result).toHaveLength(ROOMS);
      const byRoom = new Map(result.map((item) => [item.room, item]));
      rooms.forEach((room, i) => {
        const n = 1 + (i % 3);
        expect(byRoom.get(room), room).toMatchObject(i % 10 === 0 ? { seq: n, lastRead: 1, unread: n - 1 } : { seq: n, lastRead: 0, unread: n });
      });
    }
    // The user's list (one shard), then one pipeline of per-room scripts per master (the rooms are on
    // every master: each is written to), and on the cold list one pipeline of seeds per master.
    expect([...cold.writes.values()].every((n) => n >= 2 && n <= 3), JSON.stringify([...cold.writes])).toBe(true);
    expect([...warm.writes.values()].every((n) => n >= 1 && n <= 2), JSON.stringify([...warm.writes])).toBe(true);
    expect([...warm.writes.values()].reduce((a, b) => a + b, 0)).toBe(masters.length + 1);
  });
});
