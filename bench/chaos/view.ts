/**
 * One user's view of one room: every entry it was given, in the order it kept them. Entries arrive
 * from `joined`, live `message` frames and history pages (gap fills); only the contiguous run after
 * `last` is kept, the rest waits in `buffer` until the gap is filled. What the checker reads:
 * `entries` (the view), `repeats` (a frame that repeated, or came out of order after, an entry the
 * same socket had already delivered), `afterLeft` (frames of a group after its `left`) and `resets` (epoch changes).
 */
import type { Message } from '@parley/client/wire';

export class RoomView {
  epoch: string;
  /** The room's seq when this user first joined: the view covers `start + 1 …`. */
  readonly start: number;
  last: number;
  readonly entries: Message[] = [];
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

  constructor(
    readonly room: string,
    epoch: string,
    seq: number,
  ) {
    this.epoch = epoch;
    this.start = seq;
    this.last = seq;
    this.target = seq;
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
      this.entries.push(next);
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
}
