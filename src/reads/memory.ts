/**
 * In-process read state: the embedded default. The room log's append tells it of every message
 * (`appended`, wired in deps.ts), which keeps each room's head and the index of each author's own
 * messages the unread count subtracts (see `types.ts`).
 */
import type { Message } from '@parley/client/wire';
import type { Signal } from '../rooms/types.ts';
import { type MarkResult, type ReadHandler, type ReadState, UNCOUNTED_WINDOW, UNREAD_CAP, UNREAD_WINDOW, type UnreadCount } from './types.ts';

type Room = {
  head: number;
  /** Author → seqs of their text messages, ascending, the last `UNREAD_WINDOW` kept. */
  own: Map<string, number[]>;
  /** Seqs that are not a live text message (edits, deletes, reactions, deleted messages), ascending, the last `UNCOUNTED_WINDOW`. */
  uncounted: number[];
  /** User → position. */
  reads: Map<string, number>;
  /** The last message appended. */
  last: Message | null;
};

export type MemoryReadStateOptions = {
  /** Publishes a receipt on the room's channel (`MemoryRoomLog.signal`). */
  signal: (room: string, event: Signal) => Promise<void>;
};

export class MemoryReadState implements ReadState {
  readonly #rooms = new Map<string, Room>();
  readonly #watchers = new Map<string, Set<ReadHandler>>();
  readonly #signal: MemoryReadStateOptions['signal'];
  #closed = false;

  constructor(opts: MemoryReadStateOptions) {
    this.#signal = opts.signal;
  }

  /**
   * An entry was appended to its room's log (called by the log in the same step): a text message
   * joins its author's index; an edit, delete or reaction is not counted, nor is the message a
   * delete deleted (which leaves its author's index).
   */
  appended(entry: Message, deleted?: { seq: number; from: string }): void {
    const room = this.#room(entry.room);
    room.head = Math.max(room.head, entry.seq);
    room.last = entry;
    if (entry.kind !== undefined) {
      insertTrimmed(room.uncounted, entry.seq, UNCOUNTED_WINDOW);
    } else {
      let own = room.own.get(entry.from);
      if (!own) room.own.set(entry.from, (own = []));
      insertTrimmed(own, entry.seq, UNREAD_WINDOW);
    }
    if (!deleted) return;
    const own = room.own.get(deleted.from);
    const at = own ? countUpTo(own, deleted.seq) - 1 : -1;
    if (own && own[at] === deleted.seq) own.splice(at, 1);
    insertTrimmed(room.uncounted, deleted.seq, UNCOUNTED_WINDOW);
  }

  async mark(user: string, roomName: string, seq: number, opts: { receipts: boolean }): Promise<MarkResult> {
    this.#check();
    const room = this.#rooms.get(roomName);
    if (!room) return { seq: 0, moved: false }; // no message yet: nothing to read
    const want = Math.min(seq, room.head);
    const cur = room.reads.get(user) ?? 0;
    if (want <= cur) return { seq: cur, moved: false };
    room.reads.set(user, want);
    const event = { room: roomName, user, seq: want };
    if (opts.receipts) await this.#signal(roomName, { type: 'read', ...event });
    for (const handler of this.#watchers.get(user) ?? []) {
      try {
        handler(event);
      } catch {
        // Handlers must not throw; one that does must not stop delivery to the others.
      }
    }
    return { seq: want, moved: true };
  }

  async unread(user: string, rooms: readonly string[]): Promise<UnreadCount[]> {
    this.#check();
    return rooms.map((name) => {
      const room = this.#rooms.get(name);
      if (!room) return { lastRead: null, unread: 0, latest: { seq: 0 } };
      const stored = room.reads.get(user);
      const last = Math.min(stored ?? 0, room.head);
      const n = room.head - last - countAfter(room.own.get(user) ?? [], last) - countAfter(room.uncounted, last);
      const latest = room.last ? { seq: room.head, message: room.last } : { seq: room.head };
      return { lastRead: stored ?? null, unread: Math.min(UNREAD_CAP, Math.max(0, n)), latest };
    });
  }

  async positions(roomName: string, users: readonly string[]): Promise<(number | null)[]> {
    this.#check();
    const room = this.#rooms.get(roomName);
    return users.map((u) => room?.reads.get(u) ?? null);
  }

  async seed(entries: readonly { user: string; room: string; seq: number }[]): Promise<void> {
    this.#check();
    for (const e of entries) {
      const room = this.#room(e.room);
      if (!room.reads.has(e.user)) room.reads.set(e.user, e.seq);
    }
  }

  async watch(user: string, handler: ReadHandler): Promise<() => Promise<void>> {
    this.#check();
    let set = this.#watchers.get(user);
    if (!set) this.#watchers.set(user, (set = new Set()));
    set.add(handler);
    const watchers = set;
    return async () => {
      watchers.delete(handler);
      if (watchers.size === 0 && this.#watchers.get(user) === watchers) this.#watchers.delete(user);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#rooms.clear();
    this.#watchers.clear();
  }

  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (!room) this.#rooms.set(name, (room = { head: 0, own: new Map(), uncounted: [], reads: new Map(), last: null }));
    return room;
  }

  #check(): void {
    if (this.#closed) throw new Error('read state is closed');
  }
}

/** How many of the ascending `seqs` are at most `upTo` (binary search). */
function countUpTo(seqs: readonly number[], upTo: number): number {
  let lo = 0;
  let hi = seqs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((seqs[mid] as number) <= upTo) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many of the ascending `seqs` are greater than `after`. */
function countAfter(seqs: readonly number[], after: number): number {
  return seqs.length - countUpTo(seqs, after);
}

/**
 * Inserts `seq` into the ascending `seqs` (at the end, but for a deleted message's), keeping the
 * last `window`; trimmed in steps, like the Redis indexes, so appends stay O(1) amortised.
 */
function insertTrimmed(seqs: number[], seq: number, window: number): void {
  const at = countUpTo(seqs, seq);
  if (seqs[at - 1] === seq) return;
  if (at === seqs.length) seqs.push(seq);
  else seqs.splice(at, 0, seq);
  if (seqs.length > window + 64) seqs.splice(0, seqs.length - window);
}
