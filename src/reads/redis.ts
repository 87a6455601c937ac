/**
 * Read state on Redis Cluster. Everything the unread count needs lives under the room's hash tag
 * (`roomKeys` in src/rooms/redis-scripts.ts), so one script per room answers it, together with the
 * room's last message (the conversation list reads each room once):
 *
 * - `parley:{<room>}:reads` hash user → position;
 * - `parley:{<room>}:seq` the room's head, `parley:{<room>}:own:<user>` and `parley:{<room>}:uncounted`
 *   (see `types.ts`), kept by the room log's append script, and what left them past their windows
 *   (`redis-index.ts`);
 * - `parley:{u:<user>}:reads` shard channel: the user's read events, for every instance with one of
 *   the user's sockets (next to the user's presence keys);
 * - `parley:reads:{p<n>}` streams of moved positions, for the worker that copies them to MongoDB
 *   (`src/redis/codecs/read-positions.ts`).
 *
 * A `mark` that moves is one script on the room's shard (clamp, max, write, and the receipt's
 * SPUBLISH), then one SPUBLISH on the user's shard and one XADD on the stream's, sent together.
 * A mark that does not move is the script alone.
 */
import type { Cluster } from 'ioredis';
import { log } from '../log.ts';
import * as ReadPositions from '../redis/codecs/read-positions.ts';
import * as RoomLogEntries from '../redis/codecs/room-log.ts';
import { CALL_DEADLINE_MS, unavailable, withDeadline } from '../redis/connection.ts';
import { runScript, script } from '../redis/script.ts';
import { roomKeys } from '../rooms/redis-scripts.ts';
import { SPILLED } from './redis-index.ts';
import { DEFAULT_WINDOWS, type IndexWindows, type MarkResult, type ReadEvent, type ReadHandler, type ReadState, UNREAD_CAP, type UnreadCount } from './types.ts';

/** Positions kept per stream partition, for a worker (or MongoDB) that is behind. */
const STREAM_MAXLEN = 100_000;

/**
 * Mark. KEYS: seq, reads, room channel. ARGV: user, seq, receipts ('1'|'0'), room.
 * Returns { moved (0|1), position after }.
 */
const MARK = script(`
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = math.min(math.floor(tonumber(ARGV[2])), head)
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if want <= cur then return {0, cur} end
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', want))
if ARGV[3] == '1' then
  redis.call('SPUBLISH', KEYS[3], '{"type":"read","room":' .. cjson.encode(ARGV[4]) .. ',"user":' .. cjson.encode(ARGV[1])
    .. ',"seq":' .. string.format('%d', want) .. '}')
end
return {1, want}
`);

/**
 * Unread. KEYS: seq, reads, own index of the user, uncounted, log (and, on the room's slot, the
 * bitmaps of `redis-index.ts`, named by the script). ARGV: user, own window, uncounted window.
 * Returns { has position (0|1), position, unread capped, head, last entry's fields or nil }.
 */
const UNREAD = script(`
${SPILLED}
local head = tonumber(redis.call('GET', KEYS[1]) or '0')
local stored = redis.call('HGET', KEYS[2], ARGV[1])
local last = math.min(tonumber(stored or '0'), head)
local from = '(' .. string.format('%d', last)
local n = head - last - redis.call('ZCOUNT', KEYS[3], from, '+inf') - redis.call('ZCOUNT', KEYS[4], from, '+inf')
  - spilled(string.sub(KEYS[1], 1, -5), ARGV[1], last, head, tonumber(ARGV[2]), tonumber(ARGV[3]))
if n < 0 then n = 0 end
if n > ${UNREAD_CAP} then n = ${UNREAD_CAP} end
local last = redis.call('XREVRANGE', KEYS[5], '+', '-', 'COUNT', 1)[1]
return {stored and 1 or 0, tonumber(stored or '0'), n, head, last and last[2] or false}
`);

/** Seed. KEYS: reads. ARGV: user, seq. Sets the position only where none is stored. */
const SEED = script(`return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])`);

const userChannel = (user: string): string => `parley:{u:${user}}:reads`;

export class RedisReadState implements ReadState {
  /** Payloads on a watched channel that were not read events; handlers that threw. */
  readonly stats = { malformed: 0, handlerErrors: 0, notifyFailures: 0 };
  readonly #redis: Cluster;
  /** By user channel. One RedisReadState per connection: ioredis keeps no per-caller channel counts. */
  readonly #watchers = new Map<string, Set<ReadHandler>>();
  readonly #onMessage = (channel: string, payload: string) => this.#receive(channel, payload);
  readonly #windows: IndexWindows;
  #closed = false;

  /** `windows`: those the room log's append was given (default `DEFAULT_WINDOWS`). */
  constructor(cluster: Cluster, opts: { windows?: IndexWindows } = {}) {
    this.#redis = cluster;
    this.#windows = opts.windows ?? DEFAULT_WINDOWS;
    cluster.on('smessage', this.#onMessage);
  }

  async mark(user: string, room: string, seq: number, opts: { receipts: boolean }): Promise<MarkResult> {
    this.#check();
    const k = roomKeys(room);
    const reply = await runScript(this.#redis, MARK, [k.seq, k.reads, k.channel], [user, seq, opts.receipts ? '1' : '0', room]).catch(unavailable);
    if (!Array.isArray(reply) || typeof reply[1] !== 'number') throw new Error('mark: unexpected reply');
    const result = { seq: reply[1], moved: reply[0] === 1 };
    if (result.moved) {
      const event: ReadEvent = { room, user, seq: result.seq };
      // The position is stored: the user's other sockets and the durable copy follow. Either may fail
      // on its own; the next read of the room repairs both (a position only moves forward).
      await Promise.all([
        this.#redis.spublish(userChannel(user), JSON.stringify(event)),
        this.#redis.xadd(ReadPositions.streamOf(user), 'MAXLEN', '~', STREAM_MAXLEN, '*', ...ReadPositions.encode(event)),
      ]).catch((err: unknown) => {
        this.stats.notifyFailures++;
        log.warn('read position stored; telling the other sockets or the worker failed', { room, user, err });
      });
    }
    return result;
  }

  /** One script per room, all sent in the same turn: the auto-pipeline writes them to each master at once. */
  async unread(user: string, rooms: readonly string[]): Promise<UnreadCount[]> {
    this.#check();
    const replies = await Promise.all(
      rooms.map((room) => {
        const k = roomKeys(room);
        return runScript(this.#redis, UNREAD, [k.seq, k.reads, k.own(user), k.uncounted, k.log], [user, this.#windows.own, this.#windows.uncounted]);
      }),
    ).catch(unavailable);
    return replies.map((reply) => {
      if (!Array.isArray(reply) || typeof reply[1] !== 'number' || typeof reply[2] !== 'number' || typeof reply[3] !== 'number') {
        throw new Error('unread: unexpected reply');
      }
      let latest: UnreadCount['latest'] = { seq: reply[3] };
      if (reply[4] !== null && reply[4] !== undefined) {
        // A message's seq is its entry's, so the last entry gives both (as `RoomLog.latest`).
        const message = RoomLogEntries.decode(reply[4]);
        if (!message) throw new Error('unread: stored message does not parse');
        latest = { seq: message.seq, message };
      }
      return { lastRead: reply[0] === 1 ? reply[1] : null, unread: reply[2], latest };
    });
  }

  async positions(room: string, users: readonly string[]): Promise<(number | null)[]> {
    this.#check();
    if (users.length === 0) return [];
    const values = await this.#redis.hmget(roomKeys(room).reads, ...users).catch(unavailable);
    return values.map((v) => (v === null ? null : Number(v)));
  }

  async seed(entries: readonly { user: string; room: string; seq: number }[]): Promise<void> {
    this.#check();
    await Promise.all(entries.map((e) => runScript(this.#redis, SEED, [roomKeys(e.room).reads], [e.user, e.seq]))).catch(unavailable);
  }

  async watch(user: string, handler: ReadHandler): Promise<() => Promise<void>> {
    this.#check();
    const channel = userChannel(user);
    let set = this.#watchers.get(channel);
    const first = !set;
    if (!set) this.#watchers.set(channel, (set = new Set()));
    set.add(handler);
    const watchers = set;
    if (first) {
      try {
        await withDeadline(this.#redis.ssubscribe(channel), CALL_DEADLINE_MS, 'redis');
      } catch (err) {
        watchers.delete(handler);
        if (watchers.size === 0 && this.#watchers.get(channel) === watchers) this.#watchers.delete(channel);
        return unavailable(err);
      }
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      watchers.delete(handler);
      if (watchers.size > 0 || this.#watchers.get(channel) !== watchers) return;
      this.#watchers.delete(channel);
      if (!this.#closed) await withDeadline(this.#redis.sunsubscribe(channel), CALL_DEADLINE_MS, 'redis').catch(unavailable);
    };
  }

  /** Leaves the connection open: it is shared, and closed by whoever made it (deps.ts). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.off('smessage', this.#onMessage);
    const channels = [...this.#watchers.keys()];
    this.#watchers.clear();
    await Promise.allSettled(channels.map((c) => this.#redis.sunsubscribe(c)));
  }

  #receive(channel: string, payload: string): void {
    const watchers = this.#watchers.get(channel);
    if (!watchers) return; // another store's channel (rooms share the connection)
    const event = parseReadEvent(payload);
    if (!event) {
      this.stats.malformed++;
      return;
    }
    for (const handler of watchers) {
      try {
        handler(event);
      } catch {
        this.stats.handlerErrors++;
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('read state is closed');
  }
}

/** A user channel's payload; `null` when it is not a read event. */
function parseReadEvent(raw: string): ReadEvent | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const { room, user, seq } = v as Record<string, unknown>;
  if (typeof room !== 'string' || typeof user !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq)) return null;
  return { room, user, seq };
}
