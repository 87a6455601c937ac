/**
 * Per-room message delivery: in seq order, each message once, gaps filled from history.
 *
 * Messages may arrive from three sources (live frames, `joined` replies, history pages) in any
 * order. All of them go through `push`; only the contiguous run after `last` is delivered, the rest
 * waits in a buffer while a history fill closes the gap.
 */
import type { Message } from './wire.ts';
import type { FetchAfter } from './rest.ts';
import { ClientError } from './types.ts';

export type RoomStreamDeps = {
  fetchAfter: FetchAfter;
  /** Called for each message, in seq order, exactly once per (epoch, seq). */
  deliver(message: Message): void;
  /** The log got a new epoch outside of a `joined` reply (live frame or history page). */
  reset(epoch: string, previousEpoch: string, messages: Message[]): void;
  error(err: ClientError): void;
};

export class RoomStream {
  #epoch: string;
  #last: number;
  // Highest seq known to exist (from `joined`); a fill runs until `last` reaches it.
  #target: number;
  readonly #buffer = new Map<number, Message>();
  #filling = false;
  // Bumped on reset and dispose so that a fill in flight drops its now-stale answer.
  #generation = 0;

  constructor(
    readonly room: string,
    epoch: string,
    last: number,
    private readonly deps: RoomStreamDeps,
  ) {
    this.#epoch = epoch;
    this.#last = last;
    this.#target = last;
  }

  /** The position of the last delivered message: what to resume `since`. */
  get position(): { epoch: string; seq: number } {
    return { epoch: this.#epoch, seq: this.#last };
  }

  /** Accepts a message from any source; delivers it when its turn comes, drops it if seen. */
  push(m: Message): void {
    if (m.epoch !== this.#epoch) {
      const previous = this.#epoch;
      this.restart(m.epoch, m.seq);
      this.deps.reset(m.epoch, previous, [m]);
      return;
    }
    if (m.seq <= this.#last || this.#buffer.has(m.seq)) return;
    this.#buffer.set(m.seq, m);
    this.#target = Math.max(this.#target, m.seq);
    this.#drain();
    if (this.#behind()) void this.#fill();
  }

  /** The room holds messages up to `seq` (a `joined` reply said so): fill up to there. */
  catchUp(seq: number): void {
    this.#target = Math.max(this.#target, seq);
    if (this.#behind()) void this.#fill();
  }

  /** Forgets everything and continues in `epoch` after `seq`; a fill in flight is abandoned. */
  restart(epoch: string, seq: number): void {
    this.#generation++;
    this.#filling = false;
    this.#buffer.clear();
    this.#epoch = epoch;
    this.#last = seq;
    this.#target = seq;
  }

  /** Stops delivering: the room was left. */
  dispose(): void {
    this.#generation++;
    this.#buffer.clear();
  }

  #behind(): boolean {
    return this.#last < this.#target;
  }

  #drain(): void {
    for (let next = this.#buffer.get(this.#last + 1); next; next = this.#buffer.get(this.#last + 1)) {
      this.#buffer.delete(next.seq);
      this.#last = next.seq;
      this.deps.deliver(next);
    }
  }

  async #fill(): Promise<void> {
    if (this.#filling) return;
    this.#filling = true;
    const generation = this.#generation;
    try {
      while (this.#behind()) {
        const before = this.#last;
        const page = await this.deps.fetchAfter(this.room, this.#last);
        if (generation !== this.#generation) return;
        if (page.epoch !== this.#epoch) {
          const previous = this.#epoch;
          const tail = page.messages.at(-1)?.seq ?? 0;
          this.restart(page.epoch, tail);
          this.deps.reset(page.epoch, previous, page.messages);
          return;
        }
        for (const m of page.messages) if (m.seq > this.#last) this.#buffer.set(m.seq, m);
        this.#drain();
        // No progress: the log no longer holds the hole; stop rather than loop on it.
        if (this.#last === before) break;
        // The log has nothing after this page and no live message waits beyond a hole.
        if (!page.hasMore && this.#buffer.size === 0) break;
      }
    } catch (err) {
      if (generation === this.#generation) {
        this.deps.error(err instanceof ClientError ? err : new ClientError('history_failed', String(err)));
      }
    } finally {
      if (generation === this.#generation) {
        this.#filling = false;
        this.#skipGap();
      }
    }
  }

  /**
   * The gap could not be filled: deliver what is buffered, in order, rather than hold the room's
   * live messages back forever. The `error` event (if any) told the application.
   */
  #skipGap(): void {
    const rest = [...this.#buffer.values()].sort((a, b) => a.seq - b.seq);
    this.#buffer.clear();
    for (const m of rest) {
      this.#last = m.seq;
      this.deps.deliver(m);
    }
    // A target beyond everything the log gave cannot be reached now; the next push moves it again.
    this.#target = this.#last;
  }
}
