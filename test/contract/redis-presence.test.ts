/**
 * Presence and conversations against a real Redis Cluster (vitest global setup), plus what only a
 * shared backend can show: several chat instances on one cluster.
 */
import type { Cluster } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisConversations } from '../../src/conversations/redis.ts';
import { RedisPresence } from '../../src/presence/redis.ts';
import type { ConnRef, Reaped } from '../../src/presence/types.ts';
import { BackendUnavailable } from '../../src/errors.ts';
import * as PresenceEvents from '../../src/redis/codecs/presence-events.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { MemoryUserStore } from '../../src/users/memory.ts';
import type { UserState } from '../../src/users/types.ts';
import { PresenceWrites } from '../../workers/presence-job.ts';
import { conversationsContract } from './conversations.ts';
import { presenceContract } from './presence.ts';
import { onOwnConnection, withCommand } from './redis-util.ts';
import { sleep, uid } from './util.ts';

const nodes = inject('redisNodes');

presenceContract('redis', async (opts) => {
  const { store: presence, cleanup } = await onOwnConnection(nodes, (redis) => new RedisPresence(redis, opts));
  return { presence, cleanup };
});

conversationsContract('redis', async () => {
  const { store: conversations, cleanup } = await onOwnConnection(nodes, (redis) => new RedisConversations(redis));
  return { conversations, cleanup };
});

describe('RedisPresence: several instances on one cluster', () => {
  const ttlMs = 400;
  let redisA: Cluster;
  let redisB: Cluster;
  let a: RedisPresence;
  let b: RedisPresence;
  const [instA, instB] = [uid('inst-a'), uid('inst-b')];
  const conn = (user: string, instance: string): ConnRef => ({ id: uid('conn'), user, instance });
  const mine = (all: Reaped[], conns: ConnRef[]) => all.filter((r) => conns.some((c) => c.id === r.conn.id));

  beforeAll(async () => {
    [redisA, redisB] = await Promise.all([connectCluster({ nodes }), connectCluster({ nodes })]);
    a = new RedisPresence(redisA, { ttlMs });
    b = new RedisPresence(redisB, { ttlMs });
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    // Not owned by the stores: closing them must leave the connections usable.
    expect(await redisA.ping()).toBe('PONG');
    redisA.disconnect();
    redisB.disconnect();
  });

  it('keeps a user online until the connections on both instances are gone', async () => {
    const alice = uid('alice');
    const [ca, cb] = [conn(alice, instA), conn(alice, instB)];
    expect(await a.connect(ca)).toEqual({ first: true });
    expect(await b.connect(cb)).toEqual({ first: false });
    expect((await a.disconnect(ca)).last).toBe(false);
    expect((await a.status(alice)).status).toBe('online');
    const gone = await b.disconnect(cb);
    expect(gone.last).toBe(true);
    expect(await a.status(alice)).toEqual({ user: alice, status: 'offline', lastSeen: gone.lastSeen });
  });

  it('reaps a stopped instance\'s connections from the others, each exactly once', async () => {
    const room = uid('room');
    const users = Array.from({ length: 20 }, () => uid('u'));
    const dead = users.map((u) => conn(u, instA));
    const live = conn(users[0] ?? '', instB);
    for (const c of dead) {
      await a.connect(c);
      await a.join(room, c);
    }
    await b.connect(live);
    await b.join(room, live);
    // Instance A stops refreshing; B goes on with its own connection for twice the TTL.
    for (let i = 0; i < 8; i++) {
      await sleep(ttlMs / 4);
      await b.refresh([live]);
    }
    const [r1, r2, r3] = await Promise.all([b.reap(), a.reap(), b.reap()]);
    const reaped = mine([...r1, ...r2, ...r3], dead);
    expect(reaped.map((r) => r.conn.id).sort()).toEqual(dead.map((c) => c.id).sort());
    const first = reaped.find((r) => r.conn.id === dead[0]?.id);
    // users[0] is still connected through B.
    expect(first).toMatchObject({ offline: false, leftRooms: [] });
    for (const r of reaped.filter((x) => x !== first)) expect(r).toMatchObject({ offline: true, leftRooms: [room] });
    expect(await b.members(room)).toEqual([{ user: users[0], status: 'online' }]);
    expect(mine(await b.reap(), [...dead, live])).toEqual([]);
  });

  it('does not reap a connection refreshed after it was due but before the reap', async () => {
    const bob = uid('bob');
    const c = conn(bob, instA);
    await a.connect(c);
    await sleep(ttlMs + 100);
    await a.refresh([c]);
    expect(mine(await b.reap(), [c])).toEqual([]);
    expect((await b.status(bob)).status).toBe('online');
  });

  it('writes online and offline events to the user\'s presence stream', async () => {
    const carol = uid('carol');
    const key = PresenceEvents.streamOf(carol);
    const before = Date.now();
    const c = conn(carol, instA);
    await a.connect(c);
    await a.connect(conn(carol, instB)); // not a transition
    // Decoded as the presence worker decodes them: an entry it would not read does not count.
    const events = async () =>
      (await redisA.xrange(key, String(before - 1000), '+')).map(([, fields]) => PresenceEvents.decode(fields)).filter((e) => e?.user === carol);
    expect((await events()).map((e) => e?.status)).toEqual(['online']);
    const [online] = await events();
    expect(online?.ts).toBeGreaterThanOrEqual(before);
    // The second connection expires (its instance died); the first disconnects last.
    await sleep(ttlMs + 100);
    await a.refresh([c]);
    await b.reap();
    const gone = await a.disconnect(c);
    expect(gone.last).toBe(true);
    const all = await events();
    expect(all.map((e) => e?.status)).toEqual(['online', 'offline']);
    expect(all[1]?.ts).toBe(gone.lastSeen);
  });

  it('still writes the offline event when the first write fails, as during a failover, so the worker learns of it', async () => {
    const dave = uid('dave');
    const key = PresenceEvents.streamOf(dave);
    const before = Date.now();
    // The same cluster, but its next offline event write fails the way a moved slot's does.
    let failNext = false;
    const flaky = withCommand(redisA, 'xadd', (xadd) => (...args) => {
      if (!failNext) return xadd(...args);
      failNext = false;
      return Promise.reject(new Error('MOVED 11819 127.0.0.1:1'));
    });
    const p = new RedisPresence(flaky, { ttlMs });
    const c = conn(dave, instA);
    await p.connect(c);
    failNext = true;
    const gone = await p.disconnect(c);
    expect(gone.last).toBe(true);
    const statuses = async () =>
      (await redisA.xrange(key, String(before - 1000), '+')).map(([, f]) => PresenceEvents.decode(f)).filter((e) => e?.user === dave);
    expect((await statuses()).map((e) => e?.status)).toEqual(['online']);
    await sleep(1500);
    const all = await statuses();
    expect(all.map((e) => e?.status)).toEqual(['online', 'offline']);
    expect(all[1]?.ts).toBe(gone.lastSeen);
  });
});

describe('RedisPresence: the worker hears of every way back online (chaos seed 18: connected, offline in MongoDB)', () => {
  const ttlMs = 400;
  let redis: Cluster;
  let a: RedisPresence;
  let b: RedisPresence;
  const conn = (user: string, instance: string): ConnRef => ({ id: uid('conn'), user, instance });

  beforeAll(async () => {
    redis = await connectCluster({ nodes });
    a = new RedisPresence(redis, { ttlMs });
    b = new RedisPresence(redis, { ttlMs });
  });
  afterAll(() => redis.disconnect());

  /** The user's events in its stream, as the worker reads them, and what the worker would store from them. */
  async function stored(user: string, since: number): Promise<{ statuses: string[]; state: UserState | null }> {
    const events = (await redis.xrange(PresenceEvents.streamOf(user), String(since - 1000), '+'))
      .map(([, fields]) => PresenceEvents.decode(fields))
      .filter((e): e is PresenceEvents.PresenceEvent => e?.user === user);
    const users = new MemoryUserStore();
    // One batch per event, in stream order, as a worker that keeps up would apply them.
    for (const e of events) await new PresenceWrites(users, new Registry()).handle([e]);
    return { statuses: events.map((e) => e.status), state: await users.get(user) };
  }

  it('writes online when a refresh brings back a lapsed connection after another one took the user offline', async () => {
    const erin = uid('erin');
    const before = Date.now();
    // `old` on an instance that died; `live` reconnected on B before `old` expired (not a transition).
    const old = conn(erin, uid('inst-dead'));
    const live = conn(erin, uid('inst-b'));
    await a.connect(old);
    expect(await b.connect(live)).toEqual({ first: false });
    // B's refreshes come late (a failover, a busy event loop): both entries lapse, and `old` is
    // removed first: nothing else lives, so that is the user going offline.
    await sleep(ttlMs + 100);
    expect((await a.disconnect(old)).last).toBe(true);
    expect((await b.status(erin)).status).toBe('offline');
    // Then B refreshes `live`, whose entry was still there: the user is online again.
    expect(await b.refresh([live])).toEqual([]);
    expect((await b.status(erin)).status).toBe('online');
    const { statuses, state } = await stored(erin, before);
    expect(statuses).toEqual(['online', 'offline', 'online']);
    expect(state?.status).toBe('online');
    // Once: later refreshes are no transition.
    await b.refresh([live]);
    expect((await stored(erin, before)).statuses).toEqual(['online', 'offline', 'online']);
  });

  it('registers nothing when indexing a connection fails, so the next attempt is the transition the worker hears of', async () => {
    const fay = uid('fay');
    const before = Date.now();
    const first = conn(fay, uid('inst-a'));
    await a.connect(first);
    await a.disconnect(first);
    // The same cluster, but its next index write fails the way a moved slot's does in a failover.
    let failNext = false;
    const flaky = withCommand(redis, 'zadd', (zadd) => (...args) => {
      if (!failNext) return zadd(...args);
      failNext = false;
      return Promise.reject(new Error('MOVED 3300 127.0.0.1:1'));
    });
    const p = new RedisPresence(flaky, { ttlMs });
    failNext = true;
    await expect(p.connect(conn(fay, uid('inst-b')))).rejects.toBeInstanceOf(BackendUnavailable);
    // The client tries again at once (its refused upgrade), well within the TTL.
    expect(await p.connect(conn(fay, uid('inst-b')))).toEqual({ first: true });
    const { statuses, state } = await stored(fay, before);
    expect(statuses).toEqual(['online', 'offline', 'online']);
    expect(state?.status).toBe('online');
  });
});

describe('RedisPresence: an expiry index entry that went missing', () => {
  it('is put back by the next refresh, so the connection is reaped once its instance stops', async () => {
    const ttlMs = 400;
    const redis = await connectCluster({ nodes });
    const a = new RedisPresence(redis, { ttlMs });
    const gus = uid('gus');
    const c: ConnRef = { id: uid('conn'), user: gus, instance: uid('inst') };
    await a.connect(c);
    // Lost in a failover (or claimed by a reaper before a late registration): every shard, since
    // which one holds it is the store's business (`parley:{exp:<k>}`, src/presence/redis.ts).
    for (let k = 0; k < 16; k++) await redis.zrem(`parley:{exp:${k}}`, JSON.stringify([c.id, c.user, c.instance]));
    await a.refresh([c]);
    // The instance stops refreshing: the reaper must find the connection and take the user offline.
    await sleep(ttlMs + 100);
    const reaped = (await a.reap()).filter((r) => r.conn.id === c.id);
    expect(reaped).toMatchObject([{ offline: true }]);
    expect((await a.status(gus)).status).toBe('offline');
    redis.disconnect();
  });
});

describe('Redis stores without a connection', () => {
  it('fail with BackendUnavailable, which the routes turn into 503', async () => {
    const redis = await connectCluster({ nodes });
    redis.disconnect();
    const presence = new RedisPresence(redis, { ttlMs: 1000 });
    const conversations = new RedisConversations(redis);
    await expect(presence.status(uid('alice'))).rejects.toBeInstanceOf(BackendUnavailable);
    await expect(presence.reap()).rejects.toBeInstanceOf(BackendUnavailable);
    await expect(conversations.list(uid('alice'), 10)).rejects.toBeInstanceOf(BackendUnavailable);
  });
});
