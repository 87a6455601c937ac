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
  backend: 'memory' | 'redis';
  /** False while the backend cannot be reached (`/ready` then answers `degraded`). */
  healthy(): boolean;
  /** Closes every store and the connection they share. */
  close(): Promise<void>;
};


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
  const stores = {
    log: new MemoryRoomLog({ hotWindow: config.hotWindow, idempotencyTtlMs: config.idempotencyTtlMs }),
    // Refreshed every half interval by the presence round (app.ts).
    presence: new MemoryPresence({ ttlMs: config.heartbeatMs }),
    conversations: new MemoryConversations(),
  };
  return {
    ...stores,
    backend: 'memory',
    healthy: () => true,
    close: () => closeAll(stores),
  };
}

async function closeAll(stores: Pick<Stores, 'log' | 'presence' | 'conversations'>): Promise<void> {
  await Promise.allSettled([stores.log.close(), stores.presence.close(), stores.conversations.close()]);
}
