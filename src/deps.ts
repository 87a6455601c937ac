/** The one place that picks implementations, from the validated configuration. */
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';
import { MemoryConversations } from './conversations/memory.ts';
import type { Conversations } from './conversations/types.ts';
import { MemoryPresence } from './presence/memory.ts';
import type { Presence } from './presence/types.ts';
import { MemoryRoomLog } from './rooms/memory.ts';
import type { RoomLog } from './rooms/types.ts';

export type Stores = {
  log: RoomLog;
  presence: Presence;
  conversations: Conversations;
  /** Which backend serves the stores, for logs and /health. */
  backend: 'memory';
};

/** A connection not refreshed for this many heartbeat intervals is reaped. */
export const PRESENCE_TTL_INTERVALS = 2;

/**
 * Builds the stores. A backend that is configured but not available is a start-up error, never a
 * silent fall-back to memory.
 */
export async function createStores(config: Config): Promise<Stores> {
  if (config.redisNodes) {
    throw new ConfigError('REDIS_CLUSTER_NODES: the Redis Cluster backend is not part of this build; unset it to run embedded');
  }
  if (config.mongoUrl) {
    throw new ConfigError('MONGO_URL: the MongoDB backend is not part of this build; unset it to run embedded');
  }
  return {
    log: new MemoryRoomLog({ hotWindow: config.hotWindow, idempotencyTtlMs: config.idempotencyTtlMs }),
    presence: new MemoryPresence({ ttlMs: PRESENCE_TTL_INTERVALS * config.heartbeatMs + 1000 }),
    conversations: new MemoryConversations(),
    backend: 'memory',
  };
}
