/**
 * The room log: an ordered, gapless, per-room message log with publish/subscribe.
 * Memory implementation: `memory.ts`; Redis Cluster: `redis.ts`.
 */
import type { Message, PresenceStatus, Reaction } from '@parley/client/wire';

/** A position in a room: `seq` 0 means "before the first message". */
export type Position = { epoch: string; seq: number };

/** A room's latest seq and, unless it is empty, its last message. */
export type Latest = { seq: number; message?: Message };

export type AppendInput = { from: string; text: string; cid?: string };

/** Thrown by `append` in a group room when `from` is not a member (checked in the same step as the append). */
export class NotAGroupMember extends Error {
  override name = 'NotAGroupMember';
}

/** v1.1: an edit, delete or reaction of the text message at `target`, appended as an entry of its own. */
export type Change =
  | { kind: 'edit'; target: number; text: string }
  | { kind: 'delete'; target: number }
  | { kind: 'reaction'; target: number; emoji: string; on: boolean };

export type ChangeInput = Change & {
  from: string;
  cid?: string;
  /** The target's author, found in the archive after an `in_archive` answer. */
  archivedAuthor?: string;
  /** The target's cid, found there too: a delete blanks the idempotency record it may still have. */
  archivedCid?: string;
};

/**
 * What `change` did: `appended` (the entry, published), `duplicate` (the entry first appended with
 * this cid), or `unchanged` (nothing appended: the reaction was already in that state, or the
 * message already deleted; `seq` is the entry that set that state, 0 for a reaction never added).
 * Refusals: `not_found` (no text message at `target` in the current epoch, or a deleted one),
 * `forbidden` (not the author, nor a group's owner or admin for a delete), `too_many_reactions`.
 */
export type ChangeResult =
  | { outcome: 'appended' | 'duplicate'; message: Message }
  | { outcome: 'unchanged'; epoch: string; seq: number; ts: number }
  | { outcome: 'in_archive'; epoch: string }
  | { outcome: 'not_found' | 'forbidden' | 'too_many_reactions' };

/**
 * A text message's state, folded from the edits, deletes and reactions that target it (only
 * messages with at least one have one). `rev` is the seq of the latest of them.
 */
export type MessageState = {
  from: string;
  rev: number;
  text?: string;
  edited?: number;
  deleted?: true;
  reactions?: Reaction[];
  /** Seqs of the edit entries: a delete blanks their text too. */
  edits?: number[];
};

export type AppendResult = {
  message: Message;
  /** True when `(room, from, cid)` was appended before: `message` is the original, nothing was published. */
  duplicate: boolean;
};

export type ReadQuery = {
  /**
   * Only messages with `seq > after`. With `after` alone the page starts right after it (catching
   * up); otherwise the page is the newest `limit` of the range (scrolling back).
   */
  after?: number;
  /** Only messages with `seq < before`. */
  before?: number;
  /** 1.. the implementation's page limit. */
  limit: number;
};

export type ReadResult = Position & {
  /** Ascending `seq`, gapless within the page; text messages show their state (`MessageState`). */
  messages: Message[];
  /**
   * With `after` (and no `before`): more messages exist after the page.
   * Otherwise: older messages within the query's range exist before the page in this log.
   */
  hasMore: boolean;
  /** Smallest seq still held by the log (`seq + 1` when it holds none). */
  oldest: number;
};

/** Events delivered to a room's subscribers, on every instance. */
export type RoomEvent =
  | { type: 'message'; message: Message }
  | { type: 'typing'; room: string; user: string }
  | { type: 'presence'; room: string; user: string; status: PresenceStatus; lastSeen?: number }
  /**
   * A group's membership changed (`role` null: removed). Published by the groups store in the same
   * step as the change (src/groups/), so it is ordered with the room's messages.
   */
  | MemberEvent
  /** v1.1: a read receipt of a direct room or group (src/reads/), published in the same step as the write. */
  | { type: 'read'; room: string; user: string; seq: number }
  | RosterEvent;

export type MemberEvent = { type: 'member'; room: string; user: string; role: 'member' | 'admin' | null; by: string };

/**
 * A group's members as they are at the room's latest message, delivered by a subscription that may
 * have lost events (its shard subscriber re-subscribed after a failover, or pub/sub skipped
 * messages), before the messages it catches up with. A `member` event with `role` null that pub/sub
 * lost would have taken the removed user's sockets out of the room: whoever is not in `users` is
 * out now. Never published; never sent to clients.
 */
export type RosterEvent = { type: 'roster'; room: string; users: string[] };

/** Ephemeral events: published at most once, never stored. */
export type Signal = Exclude<RoomEvent, { type: 'message' } | RosterEvent>;

/** Called for each event of a subscribed room; must not throw. */
export type RoomHandler = (event: RoomEvent) => void;

export interface RoomLog {
  /**
   * Appends a message with the next `seq` of the room and publishes it to the room's subscribers,
   * atomically: publish order is seq order. Idempotent by `(room, from, cid)` for the idempotency
   * window: a repeat returns the first result with `duplicate: true` and publishes nothing.
   * Throws `BackendUnavailable` when the backend cannot be reached. In a group room (`grp:<id>`),
   * throws `NotAGroupMember` unless `from` is a member, checked atomically with the append.
   */
  append(room: string, input: AppendInput): Promise<AppendResult>;

  /**
   * v1.1: appends an edit, delete or reaction of an earlier text message, checking in the same step
   * that the target is a live text message of the current epoch, the author rule (a delete in a
   * group room also by its owner and admins) and the reaction limits, and updates the target's
   * state with it. A delete also blanks the stored text of the message and of its edits. Idempotent
   * by `(room, from, cid)` like `append`, and published like it. A target that neither the hot log
   * nor an earlier change holds answers `in_archive`: the caller looks it up there and asks again
   * with `archivedAuthor`. Throws `NotAGroupMember` and `BackendUnavailable` like `append`.
   */
  change(room: string, input: ChangeInput): Promise<ChangeResult>;

  /** v1.1: the state of each of `seqs` (text messages) in `room`'s current epoch `epoch`, where one exists. */
  states(room: string, epoch: string, seqs: readonly number[]): Promise<Map<number, MessageState>>;

  /** The room's epoch and latest seq; creates the epoch of a room that has none. */
  head(room: string): Promise<Position>;

  /**
   * Each room's latest seq and last message (none in an empty room), in the order asked: one batched
   * read for all of them. A room without a log answers seq 0, and is not created.
   */
  latest(rooms: readonly string[]): Promise<Latest[]>;
  /** Reads a page of messages by position; see `ReadQuery`. */
  read(room: string, query: ReadQuery): Promise<ReadResult>;

  /**
   * Publishes an ephemeral event to the room's subscribers (typing, presence). May drop it. In a
   * group room, `typing` throws `NotAGroupMember` unless the user is a member, checked in the same
   * step as the publication.
   */
  signal(room: string, event: Signal): Promise<void>;

  /**
   * Delivers every later event of `room` to `handler`, messages in seq order. One subscription per
   * call; the returned function ends it. The caller (the hub) keeps one subscription per room.
   */
  subscribe(room: string, handler: RoomHandler): Promise<() => Promise<void>>;

  /** Releases the backend; later calls throw. */
  close(): Promise<void>;
}
