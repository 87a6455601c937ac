/**
 * One user's view of one room, kept compact enough for a soak of a million messages: entries arrive
 * from `joined`, live `message` frames and history pages (gap fills); only the contiguous run after
 * `last` is taken, the rest waits in `buffer` until the gap is filled. An entry taken is compared on
 * the spot with the first copy any user took of the same seq (`RoomEntries`, which the checker
 * compares with the log), and folded into `states`, which holds only the messages this view saw
 * with a state (edited, deleted, reactions). What the checker reads: `taken`, `differs`, `states`,
 * `repeats` (a frame that repeated, or came out of order after, an entry the same socket had already
 * delivered), `afterLeft` (frames of a group after its `left`), `resets` (epoch changes) and, for a
 * group, `stamps` (each entry's seq and time, for the removal check).
 */
import type { Message } from '@parley/client/wire';
import { type Entry, foldOne, hasState } from './fold.ts';

/** The first copy of each entry of one room's log that any user took: one per seq, for every view. */
export class RoomEntries {
  readonly first = new Map<number, Message>();
  /** Seqs some view took with another text than the first copy (fine only where the log edited or erased it). */
  readonly textDiffers = new Set<number>();
}

/** Every room's `RoomEntries`, by room and epoch. */
export class SharedEntries {
  readonly #rooms = new Map<string, RoomEntries>();

  of(room: string, epoch: string): RoomEntries {
    const key = `${room}\n${epoch}`;
    let r = this.#rooms.get(key);
    if (!r) this.#rooms.set(key, (r = new RoomEntries()));
    return r;
  }
}

/** The fields that must be the same in every copy of one log entry (text aside). */
function sameIdentity(a: Message, b: Message): boolean {
  return a.from === b.from && a.kind === b.kind && a.target === b.target && a.emoji === b.emoji && a.on === b.on && a.cid === b.cid && a.ts === b.ts;
}

const RECENT = 30;

export class RoomView {
  epoch: string;
  /** The room's seq when this user first joined: the view covers `start + 1 …`. */
  readonly start: number;
  last: number;
  /** Entries taken: `start + 1 … last`, each once, in order. */
  taken = 0;
  /** Entries that differ from the first copy of their seq: how many, and the first few described. */
  differCount = 0;
  readonly differs: string[] = [];
  /** The view's fold: text messages with a state, by seq (a text of `undefined`: as sent, unchanged). */
  readonly states = new Map<number, Entry>();
  /** The seqs of the last text messages taken (what a user reacts to). */
  readonly recentTexts: number[] = [];
  /** For a group: each entry's seq and time, oldest first. */
  readonly stamps: { seq: number; ts: number }[] | undefined;
  readonly buffer = new Map<number, Message>();
  /** The highest seq the server said exists (from `joined`); a fill runs until `last` reaches it. */
  target: number;
  filling = false;
  /** The last seq the current socket delivered: one socket delivers a room in seq order, each once. */
  socketLast = 0;
  /** Frames that repeated or came before an entry the same socket had already delivered. */
  repeats = 0;
  resets = 0;
  /** Removed from the group (`left` with reason `removed`, or a join refused `forbidden`). */
  removed = false;
  /** When the removal reached this user (`left` or the refused join); 0 while it has not. */
  leftAt = 0;
  /** Frames of the room that arrived after the removal. */
  afterLeft = 0;
  /** How the removal came, and the first frame after it: what a violation report names. */
  removedHow = '';
  firstAfterLeft = '';
  readonly #shared: RoomEntries;

  constructor(
    readonly room: string,
    epoch: string,
    seq: number,
    shared: SharedEntries,
  ) {
    this.epoch = epoch;
    this.start = seq;
    this.last = seq;
    this.target = seq;
    this.#shared = shared.of(room, epoch);
    this.stamps = room.startsWith('grp:') ? [] : undefined;
  }

  /** A frame from the server (live or in `joined`); returns true when a gap needs filling. */
  fromSocket(m: Message): boolean {
    if (this.removed) {
      this.afterLeft++;
      return false;
    }
    if (m.epoch !== this.epoch) {
      this.resets++;
      return false;
    }
    if (m.seq <= this.socketLast) this.repeats++;
    this.socketLast = Math.max(this.socketLast, m.seq);
    return this.add(m);
  }

  /** An entry from any source; returns true when a gap remains. */
  add(m: Message): boolean {
    if (m.epoch !== this.epoch || m.seq <= this.last) return this.behind();
    this.buffer.set(m.seq, m);
    this.target = Math.max(this.target, m.seq);
    for (let next = this.buffer.get(this.last + 1); next; next = this.buffer.get(this.last + 1)) {
      this.buffer.delete(next.seq);
      this.last = next.seq;
      this.#take(next);
    }
    return this.behind();
  }

  behind(): boolean {
    return this.last < this.target;
  }

  /** A new socket: seqs it delivers are new again (a resume may legitimately overlap a fill). */
  newSocket(): void {
    this.socketLast = 0;
  }

  #take(e: Message): void {
    this.taken++;
    this.stamps?.push({ seq: e.seq, ts: e.ts });
    const first = this.#shared.first.get(e.seq);
    if (!first) this.#shared.first.set(e.seq, e);
    else {
      if (!sameIdentity(e, first)) {
        this.differCount++;
        if (this.differs.length < 3) this.differs.push(`seq ${e.seq} ${JSON.stringify(e)}, another view took ${JSON.stringify(first)}`);
      }
      if (e.text !== first.text) this.#shared.textDiffers.add(e.seq);
    }
    if (e.kind === undefined) {
      this.recentTexts.push(e.seq);
      if (this.recentTexts.length > RECENT) this.recentTexts.shift();
      if (hasState(e)) foldOne(this.states, e);
      return;
    }
    // A change to a message this view took plain: its text stays as sent until an edit or delete.
    foldOne(this.states, e, (seq) => (seq > this.start ? ({ seq, text: undefined } as unknown as Entry) : undefined));
  }
}
