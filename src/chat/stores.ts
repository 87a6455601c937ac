/**
 * The stores the chat domain is built on: one implementation of each seam, chosen by `deps.ts`
 * (memory, or Redis Cluster with MongoDB). Only `Chat` calls them.
 */
import type { Archive } from '../archive/types.ts';
import type { Conversations } from '../conversations/types.ts';
import type { Groups } from '../groups/types.ts';
import type { Presence } from '../presence/types.ts';
import type { DurableReads, ReadState } from '../reads/types.ts';
import type { RoomLog } from '../rooms/types.ts';
import type { UserStore } from '../users/types.ts';

export type Stores = {
  log: RoomLog;
  presence: Presence;
  conversations: Conversations;
  /** Private groups' members and roles; shares the group rooms with `log`. */
  groups: Groups;
  /** Read positions and unread counts (v1.1); shares the rooms' head and index with `log`. */
  reads: ReadState;
  /** Durable read positions (MongoDB, filled by the presence worker); null without MONGO_URL. */
  durableReads: DurableReads | null;
  /** Durable last-seen times (MongoDB, filled by the presence worker); null without MONGO_URL. */
  users: UserStore | null;
  /** Durable message history (MongoDB, filled by the archive worker); null without MONGO_URL. */
  archive: Archive | null;
  /** Which backend serves the stores, for logs and /health. */
  backend: 'memory' | 'redis';
  /** False while the backend cannot be reached (`/ready` then answers `degraded`). */
  healthy(): boolean;
  /** Closes every store and the connection they share. */
  close(): Promise<void>;
  /** Counts of what the stores did on their own (e.g. gaps filled), for `/metrics`. */
  counters(): Record<string, number>;
};
