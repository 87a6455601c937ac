/**
 * Read state: how far each user has read each room, and how many messages of the others they have
 * not read yet. Memory implementation: `memory.ts`; Redis Cluster: `redis.ts`; the durable copy
 * (MongoDB, filled by the presence worker from the reads streams): `mongo.ts`.
 *
 * Unread counts come from counters and an index kept by the room log's append, never from reading
 * the log: for a user u whose last read position in a room is S,
 *
 *     unread = (head − S) − |own(u) ∩ (S, head]| − |uncounted ∩ (S, head]|
 *
 * where `head` is the room's latest seq, `own(u)` the seqs of u's own text messages (the log's
 * append adds each one), and `uncounted` the seqs that are not a live text message: every edit,
 * delete and reaction appended to the log goes there, and a delete also puts the deleted message's
 * seq there and takes it out of its author's `own`, which decrements the count of every reader
 * behind it and of nobody else. Each term is one counter read or one range count: O(log n).
 *
 * Each index is a sorted set of its last `window` seqs (`IndexWindows`). What a step of appends
 * pushes out of it moves into a bitmap of the same seqs (one bit per seq of the span it covers;
 * `own(u)` keeps only seqs above u's position, which never moves back), so the count stays exact
 * however far behind the position is. A spilled seq has a window's worth of the index above it, so
 * only a position more than a window behind the head can have spilled seqs after it: the bitmaps are
 * read only then, and the common count costs what it did.
 */

import type { Latest } from '../rooms/types.ts';

/** The unread count is exact up to this and says this beyond (docs/protocol.md). */
export const UNREAD_CAP = 1000;

/** Own text messages kept per author and room in the sorted index; older ones are in its bitmap. */
export const UNREAD_WINDOW = 2000;

/** Seqs of a room that are not a live text message kept in the sorted index; older ones are in its bitmap. */
export const UNCOUNTED_WINDOW = 20_000;

/**
 * The windows of the two indexes. The room log's append (which fills them) and the read state (which
 * counts with them) must be given the same; tests lower them to go past them quickly.
 */
export type IndexWindows = { own: number; uncounted: number };

export const DEFAULT_WINDOWS: IndexWindows = { own: UNREAD_WINDOW, uncounted: UNCOUNTED_WINDOW };

/** What `mark` did: `seq` is the stored position afterwards; `moved` when it went forward. */
export type MarkResult = { seq: number; moved: boolean };

/**
 * A user's position in a room (`null`: none stored), the unread count from it (or from 0), and the
 * room's latest seq and last message (as `RoomLog.latest` answers them): everything the conversation
 * list shows of a room, so that it reads each room once.
 */
export type UnreadCount = { lastRead: number | null; unread: number; latest: Latest };

/** A `read` event, as every connection of the user (and, as a receipt, other members) gets it. */
export type ReadEvent = { room: string; user: string; seq: number };

/** Called for each read event of a watched user; must not throw. */
export type ReadHandler = (event: ReadEvent) => void;

export interface ReadState {
  /**
   * Records that `user` has read `room` up to `seq`, clamped to the room's latest seq, as the
   * maximum of this and the stored position (a lower seq changes nothing). When it moved: with
   * `receipts` publishes `{type:"read"}` on the room's channel in the same step as the write (so
   * it is ordered with the room's messages); tells `user`'s watchers on every instance; and
   * queues the position for the durable copy. Throws `BackendUnavailable`.
   */
  mark(user: string, room: string, seq: number, opts: { receipts: boolean }): Promise<MarkResult>;

  /**
   * For each room, in the order asked: the user's position (`null` when none is stored), the unread
   * count from it (from 0 without one) capped at `UNREAD_CAP`, and the room's latest seq and last
   * message. One batched round: one round trip per shard, whatever the number of rooms; a room
   * without a log answers seq 0 and is not created.
   */
  unread(user: string, rooms: readonly string[]): Promise<UnreadCount[]>;

  /** Each user's position in `room`, in the order asked (`null`: none stored). One round trip. */
  positions(room: string, users: readonly string[]): Promise<(number | null)[]>;

  /**
   * Stores positions found in the durable copy where none is stored, never moving one backwards,
   * publishing nothing. `seq` 0 records that there is none, so that the next look-up stays here.
   */
  seed(entries: readonly { user: string; room: string; seq: number }[]): Promise<void>;

  /**
   * Delivers every later read event of `user`, from any instance, to `handler` (the session layer
   * keeps one per user with local connections). The returned function ends it.
   */
  watch(user: string, handler: ReadHandler): Promise<() => Promise<void>>;

  /** Releases the backend; later calls throw. */
  close(): Promise<void>;
}

/** The durable copy of read positions (MongoDB `reads`: `{user, room, seq}`, unique on both). */
export interface DurableReads {
  /** Writes positions, each only where it is ahead of the stored one. Idempotent; any order. */
  apply(entries: readonly ReadEvent[]): Promise<void>;
  /** The stored position of `user` in each room, in the order asked (`null`: none). */
  get(user: string, rooms: readonly string[]): Promise<(number | null)[]>;
  /** The stored position of each user in `room`, in the order asked (`null`: none). */
  ofUsers(room: string, users: readonly string[]): Promise<(number | null)[]>;
}
