/**
 * Room log on Redis Cluster: one Lua script per append (INCR seq, XADD … MAXLEN ~, SPUBLISH) on the
 * room's shard, so publish order is seq order; sharded pub/sub for fan-out, with gap filling from
 * the stream when pub/sub loses messages (e.g. during a failover: `redis-subscriptions.ts`). Key
 * layout: `redis-scripts.ts`.
 */
import type { Cluster } from 'ioredis';
import { ArchiveFeed } from '../archive/redis.ts';
import { DEFAULT_WINDOWS, type IndexWindows } from '../reads/types.ts';
import type { Message } from '@parley/client/wire';
import * as RoomLogEntries from '../redis/codecs/room-log.ts';
import { unavailable } from '../redis/connection.ts';
import { runScript } from '../redis/script.ts';
import { newEpoch } from './page.ts';
import { APPEND, HEAD, MEMBER_SIGNAL, READ, roomKeys } from './redis-scripts.ts';
import { CHANGE, changeCall, changeResult, decodeState, readStates, STATES, statesKeys } from './redis-changes.ts';
import { showState } from './state.ts';
import { type AppendInput, type AppendResult, type ChangeInput, type ChangeResult, type Latest, type MessageState, NotAGroupMember, type Position, type ReadQuery, type ReadResult, type RoomHandler, type RoomLog, type Signal } from './types.ts';
import { type RedisRoomLogStats, RoomSubscriptions } from './redis-subscriptions.ts';

export type { RedisRoomLogStats };

export type RedisRoomLogOptions = {
  /** Messages kept per room at least (XADD MAXLEN ~ trims in whole stream nodes, keeping some more). */
  hotWindow: number;
  /** How long a `(room, from, cid)` is remembered for idempotent resends. */
  idempotencyTtlMs: number;
  /** Longest a sharded (un)subscribe may wait for its answer (default `CALL_DEADLINE_MS`). */
  callDeadlineMs?: number;
  /** The unread indexes' windows (default `DEFAULT_WINDOWS`); the read state must be given the same. */
  windows?: IndexWindows;
};

export class RedisRoomLog implements RoomLog {
  readonly #redis: Cluster;
  readonly #opts: RedisRoomLogOptions;
  /** Tells the archive workers which rooms have new messages. */
  readonly #feed: ArchiveFeed;
  /** Sharded pub/sub for `subscribe`. */
  readonly #subs: RoomSubscriptions;
  #closed = false;

  constructor(cluster: Cluster, opts: RedisRoomLogOptions) {
    this.#redis = cluster;
    this.#opts = opts;
    this.#feed = new ArchiveFeed(cluster);
    this.#subs = new RoomSubscriptions(cluster, { head: (room) => this.head(room), read: (room, q) => this.read(room, q), callDeadlineMs: opts.callDeadlineMs });
  }

  async append(room: string, input: AppendInput): Promise<AppendResult> {
    this.#check();
    const k = roomKeys(room);
    const cid = input.cid ?? '';
    const keys = [k.seq, k.epoch, k.log, k.cid(input.from, cid), k.channel, k.own(input.from)];
    if (room.startsWith('grp:')) keys.push(k.groupRoles);
    const reply = await this.#call(() =>
      runScript(this.#redis, APPEND, keys, [
        room, input.from, input.text, cid, input.cid === undefined ? '0' : '1',
        newEpoch(), this.#opts.hotWindow, this.#opts.idempotencyTtlMs, '1', (this.#opts.windows ?? DEFAULT_WINDOWS).own,
      ]),
    );
    if (!Array.isArray(reply)) throw new Error('append: unexpected reply');
    if (reply[0] === 2) throw new NotAGroupMember(`${input.from} is not a member of ${room}`);
    const message = RoomLogEntries.decodeMessage(reply[1]);
    if (!message) throw new Error('append: stored message does not parse');
    const duplicate = reply[0] === 1;
    if (!duplicate) this.#feed.mark(room);
    return { message, duplicate };
  }

  async change(room: string, input: ChangeInput): Promise<ChangeResult> {
    this.#check();
    const { keys, args } = changeCall(room, input, this.#opts);
    const result = changeResult(await this.#call(() => runScript(this.#redis, CHANGE, keys, args)));
    if (result === 'not_member') throw new NotAGroupMember(`${input.from} is not a member of ${room}`);
    if (result.outcome === 'appended') this.#feed.mark(room);
    return result;
  }

  async states(room: string, epoch: string, seqs: readonly number[]): Promise<Map<number, MessageState>> {
    this.#check();
    return readStates(seqs, (args) => this.#call(() => runScript(this.#redis, STATES, statesKeys(room), [epoch, ...args])));
  }

  /** Archive feed writes that failed and were retried. */
  get feedFailures(): number {
    return this.#feed.failures;
  }

  async head(room: string): Promise<Position> {
    this.#check();
    const k = roomKeys(room);
    const reply = await this.#call(() => runScript(this.#redis, HEAD, [k.epoch, k.seq], [newEpoch()]));
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || typeof reply[1] !== 'number') {
      throw new Error('head: unexpected reply');
    }
    return { epoch: reply[0], seq: reply[1] };
  }

  /**
   * One `XREVRANGE … COUNT 1` per room, all sent in the same turn: the auto-pipeline writes them to
   * each master at once. A message's seq is its entry's, so the last entry gives both.
   */
  async latest(rooms: readonly string[]): Promise<Latest[]> {
    this.#check();
    const last = await this.#call(() => Promise.all(rooms.map((room) => this.#redis.xrevrange(roomKeys(room).log, '+', '-', 'COUNT', 1))));
    return last.map(([entry]) => {
      if (!entry) return { seq: 0 };
      const message = RoomLogEntries.decode(entry[1]);
      if (!message) throw new Error('latest: stored message does not parse');
      return { seq: message.seq, message };
    });
  }

  async read(room: string, query: ReadQuery): Promise<ReadResult> {
    this.#check();
    const k = roomKeys(room);
    const reply = await this.#call(() =>
      runScript(this.#redis, READ, [k.epoch, k.seq, k.log, k.erased, k.state], [newEpoch(), query.after ?? -1, query.before ?? -1, query.limit]),
    );
    if (!Array.isArray(reply)) throw new Error('read: unexpected reply');
    const [epoch, seq, oldest, more, n, ...rest] = reply as unknown[];
    if (typeof epoch !== 'string' || typeof seq !== 'number' || typeof oldest !== 'number' || typeof n !== 'number') {
      throw new Error('read: unexpected reply');
    }
    const messages: Message[] = [];
    for (let i = 0; i < n; i++) {
      const m = RoomLogEntries.decodeMessage(rest[i]);
      if (!m) throw new Error('read: stored message does not parse');
      messages.push(showState(m, decodeState(rest[n + i]) ?? undefined));
    }
    return { epoch, seq, oldest, messages, hasMore: more === 1 };
  }

  async signal(room: string, event: Signal): Promise<void> {
    this.#check();
    const k = roomKeys(room);
    if (event.type === 'typing' && room.startsWith('grp:')) {
      const published = await this.#call(() => runScript(this.#redis, MEMBER_SIGNAL, [k.groupRoles, k.channel], [event.user, JSON.stringify(event)]));
      if (published === 0) throw new NotAGroupMember(`${event.user} is not a member of ${room}`);
      return;
    }
    await this.#call(() => this.#redis.spublish(k.channel, JSON.stringify(event)));
  }

  subscribe(room: string, handler: RoomHandler): Promise<() => Promise<void>> {
    this.#check();
    return this.#subs.subscribe(room, handler);
  }

  /** Delivery counters (see `RedisRoomLogStats`). */
  get stats(): RedisRoomLogStats {
    return this.#subs.stats;
  }

  /** Leaves the connection open: it is shared, and closed by whoever made it (deps.ts). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#feed.close();
    await this.#subs.close();
  }

  /** Runs a command, turning connection failures into `BackendUnavailable`. */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return unavailable(err);
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('room log is closed');
  }
}
