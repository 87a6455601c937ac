/** The one place that picks implementations, from the validated configuration. */
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';
import { MemoryConversations } from './conversations/memory.ts';
import { MemoryGroups } from './groups/memory.ts';
import { RedisGroups } from './groups/redis.ts';
import { RedisConversations } from './conversations/redis.ts';
import { MemoryPresence } from './presence/memory.ts';
import { RedisPresence } from './presence/redis.ts';
import { MemoryRoomLog } from './rooms/memory.ts';
import { RedisRoomLog } from './rooms/redis.ts';
import { MemoryReadState } from './reads/memory.ts';
import { MongoReads } from './reads/mongo.ts';
import { RedisReadState } from './reads/redis.ts';
import { MongoArchive } from './archive/mongo.ts';
import { log } from './log.ts';
import { MongoLink, redact } from './mongo/connection.ts';
import { connectCluster, watchHealth } from './redis/connection.ts';
import { MongoUserStore } from './users/mongo.ts';
import type { Stores } from './chat/stores.ts';

/**
 * Builds the stores. A backend that is configured but not available is a start-up error, never a
 * silent fall-back to memory.
 */
export async function createStores(config: Config): Promise<Stores> {
  if (config.mongoUrl && !config.redisNodes) {
    // MongoDB is filled by the workers, which read what the Redis stores write.
    throw new ConfigError('MONGO_URL: needs REDIS_CLUSTER_NODES (the workers that fill MongoDB read from Redis)');
  }
  if (config.redisNodes) return redisStores(config, config.redisNodes);
  // The log asks the groups store about membership in the same step as a group room's append, and
  // tells the read state of each message; both publish their events through the log.
  const log: MemoryRoomLog = new MemoryRoomLog({
    hotWindow: config.hotWindow,
    idempotencyTtlMs: config.idempotencyTtlMs,
    roleOf: (room, user) => groups.roleIn(room, user),
    onAppend: (entry, deleted) => reads.appended(entry, deleted),
  });
  const groups = new MemoryGroups(log);
  const reads = new MemoryReadState({ signal: (room, event) => log.signal(room, event) });
  const stores = {
    log,
    reads,
    // Refreshed every half interval by the presence round (app.ts).
    presence: new MemoryPresence({ ttlMs: config.heartbeatMs }),
    conversations: new MemoryConversations(),
    groups,
  };
  return {
    ...stores,
    users: null,
    archive: null,
    durableReads: null,
    backend: 'memory',
    healthy: () => true,
    close: () => closeAll(stores),
    counters: () => ({}),
  };
}

async function closeAll(stores: Pick<Stores, 'log' | 'presence' | 'conversations' | 'groups' | 'reads'>): Promise<void> {
  await Promise.allSettled([stores.log.close(), stores.presence.close(), stores.conversations.close(), stores.groups.close(), stores.reads.close()]);
}

/**
 * Stores on Redis Cluster, sharing one connection. An unreachable cluster at start is a start-up
 * error (`BackendUnavailable`); later outages make `healthy()` false until it is back.
 */
async function redisStores(config: Config, nodes: string[]): Promise<Stores> {
  const cluster = await connectCluster({ nodes });
  const health = watchHealth(cluster);
  const mongo = config.mongoUrl ? await openDurable(config.mongoUrl) : null;
  const stores = {
    log: new RedisRoomLog(cluster, { hotWindow: config.hotWindow, idempotencyTtlMs: config.idempotencyTtlMs }),
    presence: new RedisPresence(cluster, { ttlMs: config.heartbeatMs }),
    conversations: new RedisConversations(cluster),
    groups: new RedisGroups(cluster),
    reads: new RedisReadState(cluster),
  };
  return {
    ...stores,
    users: mongo ? new MongoUserStore(mongo.db) : null,
    archive: mongo ? new MongoArchive(mongo.db) : null,
    durableReads: mongo ? new MongoReads(mongo.db) : null,
    backend: 'redis',
    healthy: health.healthy,
    counters: () => ({
      log_gap_filled: stores.log.stats.gapFilled,
      log_gap_read_failures: stores.log.stats.gapReadFailures,
      log_malformed: stores.log.stats.malformed,
      log_handler_errors: stores.log.stats.handlerErrors,
      archive_feed_failures: stores.log.feedFailures,
      reads_notify_failures: stores.reads.stats.notifyFailures,
      reads_malformed: stores.reads.stats.malformed,
    }),
    close: async () => {
      health.stop();
      await closeAll(stores);
      await Promise.allSettled([cluster.quit().catch(() => cluster.disconnect()), mongo?.close()]);
    },
  };
}

/**
 * The MongoDB connection of the chat instance. It serves only older history and last-seen times, so
 * an unreachable server at start is logged, not fatal: those requests fail fast until it is back.
 */
async function openDurable(url: string): Promise<MongoLink> {
  const link = new MongoLink(url, { appName: 'parley-chat' });
  await link.db().catch((err: unknown) => log.warn('MongoDB unreachable at start; old history and last-seen wait for it', { url: redact(url), err }));
  return link;
}
