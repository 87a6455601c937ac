/**
 * Room log on Redis Cluster: one Lua script per append (INCR seq, XADD … MAXLEN ~, SPUBLISH) on the
 * room's shard, so publish order is seq order; sharded pub/sub for fan-out, with gap filling from
 * the stream when pub/sub loses messages (e.g. during a failover). Key layout: `redis-scripts.ts`.
 */
import type { Cluster } from 'ioredis';
import { ArchiveFeed } from '../archive/redis.ts';
import type { Message } from '@parley/client/wire';
import * as RoomLogEntries from '../redis/codecs/room-log.ts';
import { CALL_DEADLINE_MS, unavailable, withDeadline } from '../redis/connection.ts';
import { runScript } from '../redis/script.ts';
import { newEpoch } from './page.ts';
import { APPEND, HEAD, MEMBER_SIGNAL, READ, roomKeys } from './redis-scripts.ts';
import { CHANGE, changeCall, changeResult, decodeState, readStates, STATES, statesKeys } from './redis-changes.ts';
import { showState } from './state.ts';
import { type AppendInput, type AppendResult, type ChangeInput, type ChangeResult, type Latest, type MessageState, NotAGroupMember, type Position, type ReadQuery, type ReadResult, type RoomEvent, type RoomHandler, type RoomLog, type Signal } from './types.ts';
import { parseEvent } from './redis-parse.ts';

export type RedisRoomLogOptions = {
  /** Messages kept per room at least (XADD MAXLEN ~ trims in whole stream nodes, keeping some more). */
  hotWindow: number;
  /** How long a `(room, from, cid)` is remembered for idempotent resends. */
  idempotencyTtlMs: number;
  /** Longest a sharded (un)subscribe may wait for its answer (default `CALL_DEADLINE_MS`). */
  callDeadlineMs?: number;
};

/** Counters for the metrics endpoint; delivery problems never throw, they are counted here. */
export type RedisRoomLogStats = {
  /** Handlers that threw (they must not). */
  handlerErrors: number;
  /** Pub/sub payloads that did not parse as a room event. */
  malformed: number;
  /** Messages recovered from the log because pub/sub skipped them. */
  gapFilled: number;
  /**
   * Gap reads that failed. In a public or direct room the gap stays (clients see it by seq and
   * resume with `since`); a group room's read is tried again before anything more is delivered.
   */
  gapReadFailures: number;
};

/** One subscribed room on this instance. */
type Sub = {
  room: string;
  handlers: Set<RoomHandler>;
  /** Epoch and last delivered seq: later messages skip nothing and repeat nothing. */
  epoch: string;
  last: number;
  /** Every delivery step runs after the previous one, so a gap read cannot reorder messages. */
  chain: Promise<void>;
};

export class RedisRoomLog implements RoomLog {
  readonly stats: RedisRoomLogStats = { handlerErrors: 0, malformed: 0, gapFilled: 0, gapReadFailures: 0 };
  readonly #redis: Cluster;
  readonly #opts: RedisRoomLogOptions;
  /** Tells the archive workers which rooms have new messages. */
  readonly #feed: ArchiveFeed;
  /** By shard channel. One RedisRoomLog per connection: ioredis keeps no per-caller channel counts. */
  readonly #subs = new Map<string, Sub>();
  readonly #onMessage = (channel: string, payload: string) => this.#receive(channel, payload);
  /**
   * ioredis re-subscribes after a topology change (failover, resharding): whatever was published
   * meanwhile is caught up from the log now rather than at the room's next message, and in a group
   * room a removal published meanwhile takes effect before it (see `#catchUp`).
   */
  readonly #onResubscribed = () => {
    for (const sub of this.#subs.values()) sub.chain = sub.chain.then(() => this.#catchUp(sub), () => {});
  };
  #closed = false;

  constructor(cluster: Cluster, opts: RedisRoomLogOptions) {
    this.#redis = cluster;
    this.#opts = opts;
    this.#feed = new ArchiveFeed(cluster);
    cluster.on('smessage', this.#onMessage);
    cluster.on('subscribersReady', this.#onResubscribed);
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
        newEpoch(), this.#opts.hotWindow, this.#opts.idempotencyTtlMs, '1',
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

  async subscribe(room: string, handler: RoomHandler): Promise<() => Promise<void>> {
    this.#check();
    const channel = roomKeys(room).channel;
    let sub = this.#subs.get(channel);
    if (!sub) {
      const created: Sub = { room, handlers: new Set(), epoch: '', last: 0, chain: Promise.resolve() };
      sub = created;
      this.#subs.set(channel, created);
      // First in the chain: events that arrive meanwhile queue behind it and are judged against
      // the head read after SSUBSCRIBE is confirmed, so the first message is not taken for a gap.
      created.chain = (async () => {
        await this.#call(() => this.#bounded(this.#redis.ssubscribe(channel)));
        const head = await this.head(room);
        created.epoch = head.epoch;
        created.last = head.seq;
      })();
    }
    const joined = sub;
    joined.handlers.add(handler);
    try {
      await joined.chain;
    } catch (err) {
      // Not subscribed: the next subscribe to this room tries afresh.
      joined.handlers.delete(handler);
      if (joined.handlers.size === 0 && this.#subs.get(channel) === joined) {
        this.#subs.delete(channel);
        // SSUBSCRIBE may have gone through before the head read failed.
        this.#redis.sunsubscribe(channel).catch(() => {});
      }
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      joined.handlers.delete(handler);
      if (joined.handlers.size > 0 || this.#subs.get(channel) !== joined) return;
      this.#subs.delete(channel);
      if (!this.#closed) await this.#call(() => this.#bounded(this.#redis.sunsubscribe(channel)));
    };
  }

  /** Leaves the connection open: it is shared, and closed by whoever made it (deps.ts). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#feed.close();
    this.#redis.off('smessage', this.#onMessage);
    this.#redis.off('subscribersReady', this.#onResubscribed);
    const channels = [...this.#subs.keys()];
    this.#subs.clear();
    // One channel per call: the cluster refuses multi-slot SUNSUBSCRIBE.
    await Promise.allSettled(channels.map((c) => this.#redis.sunsubscribe(c)));
  }

  /** Runs a command, turning connection failures into `BackendUnavailable`. */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      return unavailable(err);
    }
  }

  /**
   * A sharded (un)subscribe, given up on after `callDeadlineMs`: ioredis sends it on a subscriber
   * connection made without `commandTimeout`, and a room's deliveries run one after another
   * (`Sub.chain`), so one that never got an answer would stop the room on this instance, and every
   * join of it.
   */
  #bounded<T>(work: Promise<T>): Promise<T> {
    return withDeadline(work, this.#opts.callDeadlineMs ?? CALL_DEADLINE_MS, 'redis');
  }

  #receive(channel: string, payload: string): void {
    const sub = this.#subs.get(channel);
    if (!sub) return;
    const event = parseEvent(payload);
    if (!event) {
      this.stats.malformed++;
      return;
    }
    sub.chain = sub.chain.then(
      () => this.#handle(sub, event),
      () => {}, // a failed subscribe delivers nothing
    );
  }

  async #handle(sub: Sub, event: RoomEvent): Promise<void> {
    if (event.type !== 'message') return this.#deliver(sub, event);
    const m = event.message;
    if (m.epoch !== sub.epoch) {
      // The room was recreated (its keys removed): its seqs start again.
      sub.epoch = m.epoch;
      sub.last = m.seq - 1;
    }
    if (m.seq <= sub.last) return; // already delivered (e.g. by a gap read)
    if (m.seq > sub.last + 1) {
      // Pub/sub lost messages; in a group room it may have lost a removal with them.
      if (isGroup(sub.room)) await this.#catchUp(sub);
      else await this.#fillGap(sub, m.seq - 1);
      if (m.seq <= sub.last) return;
    }
    sub.last = m.seq;
    this.#deliver(sub, event);
  }

  /**
   * Delivers what the log holds beyond the last delivered message. In a group room the members are
   * read in the same step as the head and delivered first (`roster`): a `member` event pub/sub lost
   * never comes again, and the messages caught up with may be later than that removal.
   */
  async #catchUp(sub: Sub): Promise<void> {
    let head: Position;
    if (isGroup(sub.room)) {
      const read = await this.#rosterUntilRead(sub);
      if (!read) return; // unsubscribed meanwhile: nobody here to deliver to
      const { users, ...position } = read;
      head = position;
      this.#deliver(sub, { type: 'roster', room: sub.room, users });
    } else {
      try {
        head = await this.head(sub.room);
      } catch {
        this.stats.gapReadFailures++;
        return;
      }
    }
    if (head.epoch === sub.epoch && head.seq > sub.last) await this.#fillGap(sub, head.seq);
  }

  /**
   * A group room's head and members, asked again until Redis answers (a failover takes seconds).
   * Until then nothing more of the room is delivered here, its deliveries running one after
   * another: the gap may hide a removal, and a removed member must get nothing after it. Null once
   * the room is unsubscribed here.
   */
  async #rosterUntilRead(sub: Sub): Promise<(Position & { users: string[] }) | null> {
    const channel = roomKeys(sub.room).channel;
    for (let failures = 0; !this.#closed && this.#subs.get(channel) === sub; failures++) {
      try {
        return await this.#headAndRoster(sub.room);
      } catch {
        this.stats.gapReadFailures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(ROSTER_RETRY_MAX_MS, 100 * 2 ** failures)));
      }
    }
    return null;
  }

  async #headAndRoster(room: string): Promise<Position & { users: string[] }> {
    const k = roomKeys(room);
    const reply = await this.#call(() => runScript(this.#redis, HEAD, [k.epoch, k.seq, k.groupRoles], [newEpoch()]));
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || typeof reply[1] !== 'number' || !Array.isArray(reply[2])) {
      throw new Error('head: unexpected reply');
    }
    return { epoch: reply[0], seq: reply[1], users: (reply[2] as unknown[]).map(String) };
  }

  /** Delivers the stored messages `last+1 … to` that pub/sub did not bring (with their state when read). */
  async #fillGap(sub: Sub, to: number): Promise<void> {
    let messages: Message[];
    try {
      messages = (await this.read(sub.room, { after: sub.last, before: to + 1, limit: to - sub.last })).messages;
    } catch {
      this.stats.gapReadFailures++;
      return;
    }
    for (const m of messages) {
      if (m.epoch !== sub.epoch || m.seq <= sub.last) continue;
      sub.last = m.seq;
      this.stats.gapFilled++;
      this.#deliver(sub, { type: 'message', message: m });
    }
  }

  #deliver(sub: Sub, event: RoomEvent): void {
    for (const handler of sub.handlers) {
      try {
        handler(event);
      } catch {
        // Handlers must not throw; one that does must not stop delivery to the others.
        this.stats.handlerErrors++;
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new Error('room log is closed');
  }
}

const isGroup = (room: string): boolean => room.startsWith('grp:');

/** The longest wait between two reads of a group room's members after a gap (see `#rosterUntilRead`). */
const ROSTER_RETRY_MAX_MS = 2000;
