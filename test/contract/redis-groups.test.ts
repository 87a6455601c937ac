/** The groups contract against the real test Redis Cluster: the groups store and the room log on one connection. */
import { describe, expect, inject, it } from 'vitest';
import { RedisGroups } from '../../src/groups/redis.ts';
import { groupKeys } from '../../src/groups/redis-scripts.ts';
import { RedisPresence } from '../../src/presence/redis.ts';
import { roomKeys } from '../../src/rooms/redis-scripts.ts';
import { uid } from './util.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { RedisRoomLog } from '../../src/rooms/redis.ts';
import { groupsContract } from './groups.ts';

const nodes = inject('redisNodes');

groupsContract('redis cluster', async () => {
  const cluster = await connectCluster({ nodes });
  const log = new RedisRoomLog(cluster, { hotWindow: 1000, idempotencyTtlMs: 60_000 });
  const groups = new RedisGroups(cluster);
  return {
    groups,
    log,
    cleanup: async () => {
      await Promise.all([groups.close(), log.close()]);
      await cluster.quit().catch(() => cluster.disconnect());
    },
  };
});

describe('redis groups: keys beside the room\'s other keys', () => {
  it('shares the room\'s hash tag without colliding with its presence or log keys', async () => {
    const cluster = await connectCluster({ nodes });
    try {
      const groups = new RedisGroups(cluster);
      const presence = new RedisPresence(cluster, { ttlMs: 5000 });
      const log = new RedisRoomLog(cluster, { hotWindow: 1000, idempotencyTtlMs: 60_000 });
      const id = uid('g');
      const room = `grp:${id}`;
      await groups.create({ id, title: '', owner: 'olga', members: ['amy'] });
      const conn = { id: uid('c'), user: 'olga', instance: 'i' };
      await presence.connect(conn);
      expect(await presence.join(room, conn)).toEqual({ first: true });
      expect((await log.append(room, { from: 'amy', text: 'hi' })).message.seq).toBe(1);
      expect((await presence.members(room)).map((m) => m.user)).toEqual(['olga']);
      expect((await groups.members(id)).sort()).toEqual(['amy', 'olga']);
      const k = groupKeys(id);
      expect(new Set([k.meta, k.members, k.channel, roomKeys(room).log, roomKeys(room).seq]).size).toBe(5);
      await Promise.all([log.close(), presence.close(), groups.close()]);
    } finally {
      await cluster.quit().catch(() => cluster.disconnect());
    }
  });
});
