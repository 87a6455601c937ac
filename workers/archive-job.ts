/**
 * The archive worker's job: reads the archive feed (rooms with new messages) with the consumer
 * group `archive`, copies each room's log from where the archive left it into the archive
 * (idempotent by room, epoch and seq), records how far it got, and acknowledges. At start and every
 * ARCHIVE_SCAN_MS it also checks every room log in the cluster, for rooms whose announcement was
 * lost (an instance that died between an append and its feed write).
 */
import { Counter, Gauge, Histogram } from 'prom-client';
import { MongoArchive } from '../src/archive/mongo.ts';
import { ARCHIVE_PARTITIONS, RoomLogSource, archiveFeedKey } from '../src/archive/redis.ts';
import type { Archive } from '../src/archive/types.ts';
import { log } from '../src/log.ts';
import { ensureIndexes, resolveDb } from '../src/mongo.ts';
import { type StreamEntry, GroupReader } from '../src/redis-streams.ts';
import type { Job, WorkerContext } from './run.ts';

export const ARCHIVE_GROUP = 'archive';
/** Messages read from a room log and written to the archive per step. */
const STEP = 1000;
/** Rooms copied at once. */
const PARALLEL_ROOMS = 8;

export class ArchiveJob implements Job {
  readonly #ctx: WorkerContext;
  readonly #reader: GroupReader;
  readonly #source: RoomLogSource;
  readonly #archive: Archive;
  #inHand: StreamEntry[] = [];
  #nextClaim = 0;
  #nextBacklog = 0;
  #nextScan = 0;
  readonly #m;

  constructor(ctx: WorkerContext, archive: Archive = new MongoArchive(ctx.db)) {
    this.#ctx = ctx;
    this.#archive = archive;
    this.#source = new RoomLogSource(ctx.redis);
    const streams = Array.from({ length: ARCHIVE_PARTITIONS }, (_, p) => archiveFeedKey(p));
    this.#reader = new GroupReader(ctx.redis, streams, ARCHIVE_GROUP, ctx.config.workerId);
    const registers = [ctx.registry];
    this.#m = {
      feedRead: new Counter({ name: 'parley_archive_feed_read_total', help: 'Feed entries read (rooms announced as having new messages)', registers }),
      feedClaimed: new Counter({ name: 'parley_archive_feed_claimed_total', help: 'Feed entries taken over from consumers presumed dead', registers }),
      messages: new Counter({ name: 'parley_archive_messages_total', help: 'Messages copied into the archive', registers }),
      rooms: new Counter({ name: 'parley_archive_rooms_total', help: 'Room copies run (a room announced several times in a batch is copied once)', registers }),
      skipped: new Counter({ name: 'parley_archive_skipped_total', help: 'Messages trimmed from the hot log before they were archived (lost to history)', registers }),
      scans: new Counter({ name: 'parley_archive_scans_total', help: 'Full scans of the room logs', registers }),
      lag: new Gauge({ name: 'parley_archive_feed_lag', help: 'Feed entries not yet delivered to any worker', registers }),
      pending: new Gauge({ name: 'parley_archive_feed_pending', help: 'Feed entries delivered and not yet acknowledged', registers }),
      batch: new Histogram({ name: 'parley_archive_batch_seconds', help: 'Time to copy the rooms of one batch', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    };
  }

  async init(): Promise<void> {
    await this.#reader.init();
    await ensureIndexes(await resolveDb(this.#ctx.db));
    this.#inHand = await this.#reader.ownPending(this.#ctx.config.batch);
    this.#m.feedRead.inc(this.#inHand.length);
    await this.#reader.forgetIdleConsumers(24 * 3600_000);
    log.info('archive worker ready', { resumed: this.#inHand.length });
  }

  async round(): Promise<number> {
    const { config } = this.#ctx;
    const now = Date.now();
    if (now >= this.#nextBacklog) {
      this.#nextBacklog = now + 2000;
      const b = await this.#reader.backlog();
      this.#m.lag.set(b.lag);
      this.#m.pending.set(b.pending);
    }
    if (now >= this.#nextScan) {
      // Set before the scan: a failed scan is retried at the next interval, not at once.
      this.#nextScan = config.scanMs > 0 ? now + config.scanMs : Number.POSITIVE_INFINITY;
      await this.#scan();
    }
    if (this.#inHand.length === 0) {
      if (now >= this.#nextClaim) {
        this.#nextClaim = now + config.claimEveryMs;
        const claimed = await this.#reader.claim(config.claimIdleMs, config.batch);
        if (claimed.length > 0) log.info('took over pending feed entries', { count: claimed.length });
        this.#m.feedClaimed.inc(claimed.length);
        this.#take(claimed);
      }
      this.#take(await this.#reader.read(config.batch));
      if (this.#inHand.length === 0) return 0;
    }
    const started = performance.now();
    const entries = this.#inHand;
    const rooms = new Set<string>();
    for (const e of entries) if (e.fields?.['room']) rooms.add(e.fields['room']);
    await this.#copyRooms([...rooms]);
    await this.#reader.ack(entries);
    this.#inHand = [];
    this.#m.batch.observe((performance.now() - started) / 1000);
    return entries.length;
  }

  status(): Record<string, unknown> {
    return { inHand: this.#inHand.length };
  }

  async close(): Promise<void> {}

  #take(entries: StreamEntry[]): void {
    this.#inHand.push(...entries);
    this.#m.feedRead.inc(entries.length);
  }

  async #scan(): Promise<void> {
    const started = Date.now();
    let rooms = 0;
    await this.#source.scanRooms(async (batch) => {
      rooms += batch.length;
      await this.#copyRooms(batch);
    });
    this.#m.scans.inc();
    log.info('scanned room logs', { rooms, ms: Date.now() - started });
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
      await this.#source.advance(room, u.epoch, last.seq);
      this.#m.messages.inc(u.messages.length);
      if (u.messages.length < STEP) return;
    }
  }
}
