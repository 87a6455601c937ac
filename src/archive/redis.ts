/**
 * The Redis side of the archive: the feed that tells the archive worker which rooms have new
 * messages, and what the worker reads and records per room. Keys:
 *
 * - `parley:archive:{a<n>}` (n < 8) streams of room names, read by the archive workers' consumer
 *   group. A chat instance adds a room after appending to it (coalesced per event-loop turn).
 * - `parley:{<room>}:archived` "<epoch> <seq>": how far the room's log has been copied.
 *
 * The feed is written after the append, not inside it (another slot), so an instance that dies in
 * between leaves a room unannounced until its next message; the worker's periodic scan of all room
 * logs finds those.
 */
import type { Cluster } from 'ioredis';
import { fnv1a } from '../hash.ts';
import { log } from '../log.ts';
import type { Message } from '../protocol.ts';
import { unavailable } from '../redis.ts';
import { runScript, script } from '../redis-script.ts';
import { parseMessage } from '../rooms/redis-parse.ts';
import { FIELD, roomKeys } from '../rooms/redis-scripts.ts';

export const ARCHIVE_PARTITIONS = 8;
/** Feed entries kept per partition; far more than a worker falls behind in normal operation. */
const FEED_MAXLEN = 100_000;
/** A failed feed write is retried after this long (the rooms stay marked meanwhile). */
const FEED_RETRY_MS = 1000;

export const archiveFeedKey = (partition: number): string => `parley:archive:{a${partition}}`;
export const archivePartition = (room: string): number => fnv1a(room) % ARCHIVE_PARTITIONS;
const archivedKey = (room: string): string => `parley:{${room}}:archived`;

/** Announces rooms with new messages to the archive workers; never fails the caller. */
export class ArchiveFeed {
  readonly #redis: Cluster;
  readonly #dirty = new Set<string>();
  #scheduled = false;
  #closed = false;
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

  /** Writes what is marked; later marks are dropped (the worker's scan finds those rooms). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#flush();
    this.#closed = true;
  }

  #schedule(delayMs: number): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      void this.#flush();
    };
    if (delayMs > 0) setTimeout(run, delayMs).unref?.();
    else setImmediate(run);
  }

  async #flush(): Promise<void> {
    if (this.#dirty.size === 0) return;
    const rooms = [...this.#dirty];
    this.#dirty.clear();
    const results = await Promise.allSettled(
      rooms.map((room) => this.#redis.xadd(archiveFeedKey(archivePartition(room)), 'MAXLEN', '~', FEED_MAXLEN, '*', 'room', room)),
    );
    const failed = rooms.filter((_, i) => results[i]?.status === 'rejected');
    if (failed.length === 0) return;
    this.failures += failed.length;
    log.warn('archive feed not written; retrying', { rooms: failed.length });
    for (const room of failed) this.#dirty.add(room);
    this.#schedule(FEED_RETRY_MS);
  }
}

/**
 * Range. KEYS: epoch, log, archived. ARGV: count. Returns {epoch, start, message JSON…}: up to
 * `count` messages of the current epoch from `start` on, where `start` is one past the archived
 * position when it is of this epoch, else 1. An empty epoch ('') means the room has no log.
 */
const RANGE = script(`
local epoch = redis.call('GET', KEYS[1])
if not epoch then return {''} end
local start = 1
local cur = redis.call('GET', KEYS[3])
if cur then
  local e, s = string.match(cur, '^(%S+) (%d+)$')
  if e == epoch then start = tonumber(s) + 1 end
end
local out = {epoch, start}
local entries = redis.call('XRANGE', KEYS[2], string.format('%d', start) .. '-0', '+', 'COUNT', ARGV[1])
for _, e in ipairs(entries) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == '${FIELD}' then out[#out + 1] = f[i + 1] end
  end
end
return out
`);

/** Advance. KEYS: archived. ARGV: epoch, seq. Moves the archived position forward only. */
const ADVANCE = script(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local e, s = string.match(cur, '^(%S+) (%d+)$')
  if e == ARGV[1] and tonumber(s) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return 1
`);

export type Unarchived = {
  epoch: string;
  /** Where copying resumes: one past the archived position of this epoch, else 1. */
  start: number;
  /** Ascending, from `start` on or later when the log no longer holds `start`. */
  messages: Message[];
};

/** What the archive worker reads and records in Redis. */
export class RoomLogSource {
  readonly #redis: Cluster;

  constructor(redis: Cluster) {
    this.#redis = redis;
  }

  /** Up to `count` messages of the room not yet archived; null when the room has no log. */
  async unarchived(room: string, count: number): Promise<Unarchived | null> {
    const k = roomKeys(room);
    const reply = await runScript(this.#redis, RANGE, [k.epoch, k.log, archivedKey(room)], [count]).catch(unavailable);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || reply[0] === '') return null;
    const [epoch, start, ...raw] = reply as [string, number, ...unknown[]];
    const messages: Message[] = [];
    for (const r of raw) {
      const m = parseMessage(r);
      if (m && m.epoch === epoch) messages.push(m);
    }
    return { epoch, start: Number(start), messages };
  }

  /** Records that the room is archived up to `seq` of `epoch` (never moves back). */
  async advance(room: string, epoch: string, seq: number): Promise<void> {
    await runScript(this.#redis, ADVANCE, [archivedKey(room)], [epoch, seq]).catch(unavailable);
  }

  /** Every room with a log, from a scan of every master; calls `onRooms` per batch found. */
  async scanRooms(onRooms: (rooms: string[]) => Promise<void>): Promise<void> {
    for (const node of this.#redis.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', 'parley:{*}:log', 'COUNT', 1000, 'TYPE', 'stream').catch(unavailable);
        cursor = next;
        const rooms = keys.map(roomOfLogKey).filter((r): r is string => r !== null);
        if (rooms.length > 0) await onRooms(rooms);
      } while (cursor !== '0');
    }
  }
}

function roomOfLogKey(key: string): string | null {
  const m = /^parley:\{(.+)\}:log$/.exec(key);
  return m?.[1] ?? null;
}
