/**
 * The room log's sharded pub/sub on Redis Cluster: one SSUBSCRIBE per room with local handlers, and
 * each room's deliveries run one after another, so that a message pub/sub lost (a failover, a
 * resharding) is read from the log and delivered in its place, before the next. In a group room the
 * members are read with the head whenever something may have been lost (`roster`): a removal's
 * `member` event carries no seq, and one lost never comes again.
 */
import type { Cluster } from 'ioredis';
import type { Message } from '@parley/client/wire';
import { CALL_DEADLINE_MS, unavailable, withDeadline } from '../redis/connection.ts';
import { runScript } from '../redis/script.ts';
import { newEpoch } from './page.ts';
import { parseEvent } from './redis-parse.ts';
import { HEAD, roomKeys } from './redis-scripts.ts';
import type { Position, ReadQuery, ReadResult, RoomEvent, RoomHandler } from './types.ts';

/** Counters for the metrics endpoint; delivery problems never throw, they are counted here. */
export type RedisRoomLogStats = {
  /** Handlers that threw (they must not). */
  handlerErrors: number;
  /** Pub/sub payloads that did not parse as a room event. */
  malformed: number;
  /** Messages recovered from the log because pub/sub skipped them. */
  gapFilled: number;
  /**
   * Gap reads and re-subscriptions that failed. In a public or direct room a gap stays (clients see
   * it by seq and resume with `since`); the rest is tried again before anything more is delivered.
   */
  gapReadFailures: number;
};

/** What the subscriptions read from the log itself (`RedisRoomLog`). */
export type LogReads = {
  head(room: string): Promise<Position>;
  read(room: string, query: ReadQuery): Promise<ReadResult>;
  /** Longest a sharded (un)subscribe may wait for its answer (default `CALL_DEADLINE_MS`). */
  callDeadlineMs?: number | undefined;
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

export class RoomSubscriptions {
  readonly stats: RedisRoomLogStats = { handlerErrors: 0, malformed: 0, gapFilled: 0, gapReadFailures: 0 };
  readonly #redis: Cluster;
  readonly #log: LogReads;
  /** By shard channel. One per connection: ioredis keeps no per-caller channel counts. */
  readonly #subs = new Map<string, Sub>();
  readonly #onMessage = (channel: string, payload: string) => this.#receive(channel, payload);
  /**
   * ioredis re-subscribes after a topology change (failover, resharding): whatever was published
   * meanwhile is caught up from the log now rather than at the room's next message, and in a group
   * room a removal published meanwhile takes effect before it (see `#resubscribed`).
   */
  readonly #onResubscribed = () => {
    for (const [channel, sub] of this.#subs) sub.chain = sub.chain.then(() => this.#resubscribed(channel, sub), () => {});
  };
  #closed = false;

  constructor(cluster: Cluster, log: LogReads) {
    this.#redis = cluster;
    this.#log = log;
    cluster.on('smessage', this.#onMessage);
    cluster.on('subscribersReady', this.#onResubscribed);
  }

  async subscribe(room: string, handler: RoomHandler): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('room log is closed');
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
        const head = await this.#log.head(room);
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

  /** Unsubscribes every room; the connection stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
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
    return withDeadline(work, this.#log.callDeadlineMs ?? CALL_DEADLINE_MS, 'redis');
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
      const read = await this.#untilDone(sub, () => this.#headAndRoster(sub.room));
      if (!read) return; // unsubscribed meanwhile: nobody here to deliver to
      const { users, ...position } = read;
      head = position;
      this.#deliver(sub, { type: 'roster', room: sub.room, users });
    } else {
      try {
        head = await this.#log.head(sub.room);
      } catch {
        this.stats.gapReadFailures++;
        return;
      }
    }
    if (head.epoch === sub.epoch && head.seq > sub.last) await this.#fillGap(sub, head.seq);
  }

  /**
   * Subscribes the room again, and only then catches up. ioredis says `subscribersReady` once it has
   * sent its SSUBSCRIBEs, not once they took effect, and forgets one that failed. A SSUBSCRIBE of a
   * channel already subscribed changes nothing, and it is answered after ioredis's on the same
   * connection. Read before the subscription took effect, a group's member list could miss a removal
   * published in between, which would never come. (ioredis lists the channel once more for each
   * SSUBSCRIBE, until the room is unsubscribed: one reference per room per topology change.)
   */
  async #resubscribed(channel: string, sub: Sub): Promise<void> {
    const subscribed = await this.#untilDone(sub, () => this.#bounded(this.#redis.ssubscribe(channel)));
    if (subscribed !== null) await this.#catchUp(sub);
  }

  /**
   * Runs `work` again until it succeeds (a failover takes seconds), or the room is unsubscribed here
   * (null). Until then nothing more of the room is delivered here, its deliveries running one after
   * another: in a group room, what is missed may hide a removal, and a removed member must get
   * nothing after it.
   */
  async #untilDone<T>(sub: Sub, work: () => Promise<T>): Promise<T | null> {
    const channel = roomKeys(sub.room).channel;
    for (let failures = 0; !this.#closed && this.#subs.get(channel) === sub; failures++) {
      try {
        return await work();
      } catch {
        this.stats.gapReadFailures++;
        await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_MAX_MS, 100 * 2 ** failures)));
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
      messages = (await this.#log.read(sub.room, { after: sub.last, before: to + 1, limit: to - sub.last })).messages;
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
}

const isGroup = (room: string): boolean => room.startsWith('grp:');

/** The longest wait between two tries of `#untilDone`. */
const RETRY_MAX_MS = 2000;
