/**
 * Presence: live connections per user and per room, online/offline transitions with last-seen
 * times, and expiry of connections whose instance stopped refreshing them.
 * Memory implementation: `memory.ts`; Redis Cluster: `redis.ts`.
 */
import type { Member, PresenceStatus } from '@parley/client/wire';

export type ConnRef = { id: string; user: string; instance: string };

/** `join` of a connection that is not registered (disconnected, or reaped meanwhile). */
export class ConnectionGone extends Error {
  override name = 'ConnectionGone';
  constructor(conn: ConnRef) {
    super(`connection ${conn.id} is not registered`);
  }
}

export type UserPresence = { user: string; status: PresenceStatus; lastSeen?: number };

/** A transition produced by `reap`: a connection that expired without `disconnect`. */
export type Reaped = {
  conn: ConnRef;
  /** Rooms in which the user has no live connection left. */
  leftRooms: string[];
  /** The user has no live connection left anywhere. */
  offline: boolean;
  lastSeen: number;
};

export interface Presence {
  /**
   * Registers a live connection with a TTL. `first` when it is the user's only live connection
   * (the user just came online).
   */
  connect(conn: ConnRef): Promise<{ first: boolean }>;

  /**
   * `connect`, unless the user is barred (see `bar`): then nothing is registered and the answer is
   * how long the bar lasts; or unless the user already has `limit` other live connections on every
   * instance together: then nothing is registered and the answer is null. The checks and the
   * registration are one step (one round trip on Redis), so connections opened at the same moment
   * cannot pass the limit together.
   */
  admit(conn: ConnRef, limit: number): Promise<{ first: boolean } | { barredMs: number } | null>;

  /**
   * Extends the TTL of these live connections (called for every heartbeat round). Connections it
   * does not know stay unknown (a refresh never brings back a disconnected one); it returns them, so
   * that the caller can register again those it knows are still open (their entries can be lost: a
   * Redis failover drops the writes the replica had not received yet, and an outage longer than the
   * TTL lets them expire and be reaped).
   */
  refresh<C extends ConnRef>(conns: readonly C[]): Promise<C[]>;

  /**
   * Removes a connection and its room memberships. `last` when the user has no live connection
   * left (the user went offline at `lastSeen`). Idempotent.
   */
  disconnect(conn: ConnRef): Promise<{ last: boolean; lastSeen: number }>;

  /** Adds the connection to a room. `first` when it is the user's first connection in the room. */
  join(room: string, conn: ConnRef): Promise<{ first: boolean }>;

  /** Removes the connection from a room. `last` when the user has no connection left in it. */
  leave(room: string, conn: ConnRef): Promise<{ last: boolean }>;

  /** Users with a live connection in the room, all `online`, sorted by name. */
  members(room: string): Promise<Member[]>;

  /** How many live connections the user has, on every instance (the per-user connection limit). */
  connections(user: string): Promise<number>;
  /** Bars the user from opening connections for `ms`, on every instance (after abuse). */
  bar(user: string, ms: number): Promise<void>;
  /** A user's status: `online` while any connection lives; else `offline` with the last-seen time if known. */
  status(user: string): Promise<UserPresence>;

  /**
   * Removes connections whose TTL lapsed and reports each, so that the caller can announce the
   * transitions. A connection is reported once, by whichever caller reaps it.
   */
  reap(): Promise<Reaped[]>;

  close(): Promise<void>;
}
