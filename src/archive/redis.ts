/**
 * The Redis side of the archive: the feed that tells the archive workers which rooms have new
 * messages (streams and entries: `src/redis/codecs/archive-feed.ts`). A chat instance's room log
 * announces a room after appending to it (coalesced per event-loop turn). What the worker reads of
 * the room logs, and where it records how far it got, is the room log's business:
 * `src/rooms/redis-source.ts`.
 *
 * The feed is written after the append, not inside it (another slot), so an instance that dies in
 * between leaves a room unannounced until its next message; the worker's periodic scan of all room
 * logs finds those.
 */
import type { Cluster } from 'ioredis';
import { log } from '../log.ts';
import * as Feed from '../redis/codecs/archive-feed.ts';

/** Feed entries kept per partition; far more than a worker falls behind in normal operation. */
const FEED_MAXLEN = 100_000;
/** A failed feed write is retried after this long (the rooms stay marked meanwhile). */
const FEED_RETRY_MS = 1000;

/** Announces rooms with new messages to the archive workers; never fails the caller. */
export class ArchiveFeed {
  readonly #redis: Cluster;
  readonly #dirty = new Set<string>();
  #scheduled = false;
  #closed = false;
  /** The write started by the last scheduled flush (never rejects). */
  #inFlight: Promise<void> = Promise.resolve();
  /** Feed writes that failed (retried); for `/metrics`. */
  failures = 0;

  constructor(redis: Cluster) {
    this.#redis = redis;
  }

  /** Marks a room as having new messages. */
  mark(room: string): void {
    this.#dirty.add(room);
    this.#schedule(0);
  }

  /**
   * Writes what is marked, after any write under way (so that the connection can be closed next);
   * later marks are dropped (the worker's scan finds those rooms).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#inFlight;
    await this.#flush();
    this.#closed = true;
  }

  #schedule(delayMs: number): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#inFlight = this.#flush();
    };
    if (delayMs > 0) setTimeout(run, delayMs).unref?.();
    else setImmediate(run);
  }

  async #flush(): Promise<void> {
    if (this.#dirty.size === 0) return;
    const rooms = [...this.#dirty];
    this.#dirty.clear();
    const results = await Promise.allSettled(
      rooms.map((room) => this.#redis.xadd(Feed.streamOf(room), 'MAXLEN', '~', FEED_MAXLEN, '*', ...Feed.encode({ room }))),
    );
    const failed = rooms.filter((_, i) => results[i]?.status === 'rejected');
    if (failed.length === 0) return;
    this.failures += failed.length;
    log.warn('archive feed not written; retrying', { rooms: failed.length });
    for (const room of failed) this.#dirty.add(room);
    this.#schedule(FEED_RETRY_MS);
  }
}
