/** The groups contract against the real test Redis Cluster: the groups store and the room log on one connection. */
import { inject } from 'vitest';
import { RedisGroups } from '../../src/groups/redis.ts';
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
