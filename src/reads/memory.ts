/**
 * In-process read state: the embedded default. The room log's append tells it of every message
 * (`appended`, wired in deps.ts), which keeps each room's head and the indexes the unread count
 * subtracts (see `types.ts`), each a sorted array of its window and a bitmap of what left it.
 */
import type { Message } from '@parley/client/wire';
import type { Signal } from '../rooms/types.ts';
import { SeqBits } from './seq-bits.ts';
import { DEFAULT_WINDOWS, type IndexWindows, type MarkResult, type ReadHandler, type ReadState, UNREAD_CAP, type UnreadCount } from './types.ts';

type Room = {
  head: number;
  /** Author → seqs of their text messages, ascending, the last `windows.own` kept. */
  own: Map<string, number[]>;
  /** Author → their text messages that left `own`, above their position when they left. */
  ownBits: Map<string, SeqBits>;
  /** Seqs that are not a live text message (edits, deletes, reactions, deleted messages), ascending, the last `windows.uncounted`. */
  uncounted: number[];
  /** Those that left `uncounted`. */
  uncountedBits: SeqBits;
  /** User → position. */
  reads: Map<string, number>;
  /** The last message appended. */
  last: Message | null;
};

export type MemoryReadStateOptions = {
  /** Publishes a receipt on the room's channel (`MemoryRoomLog.signal`). */
  signal: (room: string, event: Signal) => Promise<void>;
  /** The indexes' windows (default `DEFAULT_WINDOWS`). */
  windows?: IndexWindows;
};

export class MemoryReadState implements ReadState {
  readonly #rooms = new Map<string, Room>();
  readonly #watchers = new Map<string, Set<ReadHandler>>();
  readonly #signal: MemoryReadStateOptions['signal'];
  readonly #windows: IndexWindows;
  #closed = false;

  constructor(opts: MemoryReadStateOptions) {
    this.#signal = opts.signal;
    this.#windows = opts.windows ?? DEFAULT_WINDOWS;
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
      this.#uncount(room, entry.seq);
    } else {
      let own = room.own.get(entry.from);
      if (!own) room.own.set(entry.from, (own = []));
      const left = insertTrimmed(own, entry.seq, this.#windows.own);
      if (left.length > 0) {
        // Only seqs above the author's position can ever count for them again.
        const position = room.reads.get(entry.from) ?? 0;
        let bits = room.ownBits.get(entry.from);
        if (!bits) room.ownBits.set(entry.from, (bits = new SeqBits()));
        bits.dropUpTo(position);
        for (const seq of left) if (seq > position) bits.add(seq);
      }
    }
    if (!deleted) return;
    const own = room.own.get(deleted.from);
    const at = own ? countUpTo(own, deleted.seq) - 1 : -1;
    if (own && own[at] === deleted.seq) own.splice(at, 1);
    else room.ownBits.get(deleted.from)?.remove(deleted.seq);
    this.#uncount(room, deleted.seq);
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
      // The bitmaps hold nothing after a position within the windows: there they cost O(1).
      const own = countAfter(room.own.get(user) ?? [], last) + (room.ownBits.get(user)?.countAbove(last) ?? 0);
      const n = room.head - last - own - countAfter(room.uncounted, last) - room.uncountedBits.countAbove(last);
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
    if (!room) {
      room = { head: 0, own: new Map(), ownBits: new Map(), uncounted: [], uncountedBits: new SeqBits(0), reads: new Map(), last: null };
      this.#rooms.set(name, room);
    }
    return room;
  }

  /** `seq` is not a live text message: into the uncounted index, what leaves it into its bitmap. */
  #uncount(room: Room, seq: number): void {
    for (const left of insertTrimmed(room.uncounted, seq, this.#windows.uncounted)) room.uncountedBits.add(left);
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
 * last `window`; trimmed in steps, like the Redis indexes, so appends stay O(1) amortised. Returns
 * the seqs trimmed.
 */
function insertTrimmed(seqs: number[], seq: number, window: number): number[] {
  const at = countUpTo(seqs, seq);
  if (seqs[at - 1] === seq) return [];
  if (at === seqs.length) seqs.push(seq);
  else seqs.splice(at, 0, seq);
  return seqs.length > window + 64 ? seqs.splice(0, seqs.length - window) : [];
}
