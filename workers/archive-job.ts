/**
 * The archive worker's job: reads the archive feed (rooms with new messages,
 * `src/redis/codecs/archive-feed.ts`) with the consumer group `archive` (the reading and
 * acknowledging: `stream-job.ts`), copies each room's log from where the archive left it into the
 * archive (idempotent by room, epoch and seq) and records how far it got. At start and every
 * ARCHIVE_SCAN_MS it also checks every room log in the cluster, for rooms whose announcement was
 * lost (an instance that died between an append and its feed write).
 */
import { Counter, type Registry } from 'prom-client';
import { MongoArchive } from '../src/archive/mongo.ts';
import type { Archive } from '../src/archive/types.ts';
import type { Message } from '@parley/client/wire';
import { log } from '../src/log.ts';
import { type DbSource, ensureIndexes, resolveDb } from '../src/mongo/connection.ts';
import * as Feed from '../src/redis/codecs/archive-feed.ts';
import { RoomLogSource } from '../src/rooms/redis-source.ts';
import type { Job, WorkerContext } from './run.ts';
import { type StreamHandler, type StreamJobSpec, StreamJob } from './stream-job.ts';

/** Messages read from a room log and written to the archive per step. */
const STEP = 1000;
/** Rooms copied at once. */
const PARALLEL_ROOMS = 8;

const SPEC: StreamJobSpec<Feed.FeedEntry> = {
  kind: 'archive',
  group: 'archive',
  codec: Feed,
  entries: 'feed entries',
  coalesce: false,
  metrics: {
    read: { name: 'parley_archive_feed_read_total', help: 'Feed entries read (rooms announced as having new messages)' },
    claimed: { name: 'parley_archive_feed_claimed_total', help: 'Feed entries taken over from consumers presumed dead' },
    malformed: {
      name: 'parley_archive_feed_malformed_total',
      help: 'Feed entries that did not name a room, or trimmed before being read (acknowledged, not copied)',
    },
    lag: { name: 'parley_archive_feed_lag', help: 'Feed entries not yet delivered to any worker' },
    pending: { name: 'parley_archive_feed_pending', help: 'Feed entries delivered and not yet acknowledged' },
    batch: { name: 'parley_archive_batch_seconds', help: 'Time to copy the rooms of one batch' },
  },
};

export function archiveJob(ctx: WorkerContext): Job {
  const copies = new RoomCopies(new RoomLogSource(ctx.redis), new MongoArchive(ctx.db), ctx.db, ctx.config.scanMs, ctx.registry);
  return new StreamJob(ctx, SPEC, copies);
}

/** The archive job's own part: copies the announced rooms, and all rooms on a timer. */
class RoomCopies implements StreamHandler<Feed.FeedEntry> {
  readonly #source: RoomLogSource;
  readonly #archive: Archive;
  readonly #db: DbSource;
  readonly #scanMs: number;
  #nextScan = 0;
  readonly #m;

  constructor(source: RoomLogSource, archive: Archive, db: DbSource, scanMs: number, registry: Registry) {
    this.#source = source;
    this.#archive = archive;
    this.#db = db;
    this.#scanMs = scanMs;
    const registers = [registry];
    this.#m = {
      messages: new Counter({ name: 'parley_archive_messages_total', help: 'Messages copied into the archive', registers }),
      rooms: new Counter({ name: 'parley_archive_rooms_total', help: 'Room copies run (a room announced several times in a batch is copied once)', registers }),
      skipped: new Counter({ name: 'parley_archive_skipped_total', help: 'Messages trimmed from the hot log before they were archived (lost to history)', registers }),
      scans: new Counter({ name: 'parley_archive_scans_total', help: 'Full scans of the room logs', registers }),
    };
  }

  async init(): Promise<void> {
    await ensureIndexes(await resolveDb(this.#db));
  }

  /** The scan of every room log, at start and every ARCHIVE_SCAN_MS (0: only at start). */
  async tick(now: number): Promise<void> {
    if (now < this.#nextScan) return;
    // Set before the scan: a failed scan is retried at the next interval, not at once.
    this.#nextScan = this.#scanMs > 0 ? now + this.#scanMs : Number.POSITIVE_INFINITY;
    const started = Date.now();
    let rooms = 0;
    await this.#source.scanRooms(async (batch) => {
      rooms += batch.length;
      await this.#copyRooms(batch);
    });
    this.#m.scans.inc();
    log.info('scanned room logs', { rooms, ms: Date.now() - started });
  }

  async handle(entries: Feed.FeedEntry[]): Promise<void> {
    await this.#copyRooms([...new Set(entries.map((e) => e.room))]);
  }

  /** Copies rooms, a few at a time; fails if any failed (all are retried: copying is idempotent). */
  async #copyRooms(rooms: readonly string[]): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < rooms.length) {
        const room = rooms[next++] as string;
        await this.#copyRoom(room);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_ROOMS, rooms.length) }, lane));
  }

  /**
   * v1.1: copies the current state of the text messages just archived and of those the step's
   * edits, deletes and reactions changed (archived earlier), from the log's state.
   */
  async #archiveStates(room: string, epoch: string, entries: readonly Message[]): Promise<void> {
    const seqs = new Set<number>();
    for (const m of entries) seqs.add(m.kind === undefined ? m.seq : (m.target as number));
    const states = await this.#source.states(room, epoch, [...seqs]);
    if (states.size > 0) await this.#archive.applyStates(room, epoch, states);
  }

  /** Copies what the room's log holds beyond the archived position, in steps. */
  async #copyRoom(room: string): Promise<void> {
    this.#m.rooms.inc();
    for (;;) {
      const u = await this.#source.unarchived(room, STEP);
      const first = u?.messages[0];
      const last = u?.messages[u.messages.length - 1];
      if (!u || !first || !last) return;
      if (first.seq > u.start) {
        this.#m.skipped.inc(first.seq - u.start);
        log.warn('messages left the hot log before they were archived', { room, epoch: u.epoch, from: u.start, to: first.seq - 1 });
      }
      await this.#archive.put(u.messages);
      await this.#archiveStates(room, u.epoch, u.messages);
      await this.#source.advance(room, u.epoch, last.seq);
      this.#m.messages.inc(u.messages.length);
      if (u.messages.length < STEP) return;
    }
  }
}
