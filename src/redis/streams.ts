/**
 * Reading Redis Streams with a consumer group across several partitions (one stream per
 * partition, each on its own slot): the delivery the workers build on. An entry stays pending for
 * its consumer until acknowledged; a consumer that dies leaves its entries pending, and any other
 * consumer claims them once they have been idle long enough.
 */
import type { Cluster } from 'ioredis';
import { unavailable } from './connection.ts';
import { fnv1a } from './hash.ts';

export type StreamEntry = {
  stream: string;
  id: string;
  /**
   * The entry's fields as Redis returns them, `[name, value, name, value…]` (decoded by the stream's
   * codec, `src/redis/codecs/`); null when the entry was trimmed away while it was pending.
   */
  fields: readonly string[] | null;
};

type RawEntry = [string, string[] | null];

export class GroupReader {
  readonly #redis: Cluster;
  readonly #streams: readonly string[];
  readonly #group: string;
  readonly consumer: string;
  /** XAUTOCLAIM cursor per stream, so that successive rounds walk the whole pending list. */
  readonly #claimCursor = new Map<string, string>();

  constructor(redis: Cluster, streams: readonly string[], group: string, consumer: string) {
    this.#redis = redis;
    this.#streams = streams;
    this.#group = group;
    this.consumer = consumer;
  }

  /**
   * Creates the group on every stream (and the stream) if missing. A new group starts at the
   * beginning of the stream, so entries written before any worker ran are processed too.
   */
  async init(): Promise<void> {
    await Promise.all(
      this.#streams.map((s) =>
        this.#redis.xgroup('CREATE', s, this.#group, '0', 'MKSTREAM').catch((err: unknown) => {
          if (!String((err as Error)?.message).includes('BUSYGROUP')) throw err;
        }),
      ),
    ).catch(unavailable);
  }

  /** New entries, at most `count` per stream (of `streams`, default all); never blocks. */
  async read(count: number, streams: readonly string[] = this.#streams): Promise<StreamEntry[]> {
    return this.#readAll('>', count, streams);
  }

  /** This consumer's own pending entries (after a restart under the same name). */
  async ownPending(count: number): Promise<StreamEntry[]> {
    return this.#readAll('0', count, this.#streams);
  }

  /**
   * Takes over entries that other consumers left pending for at least `minIdleMs`, at most
   * `count` per stream. Entries trimmed meanwhile come back with `fields: null`.
   */
  async claim(minIdleMs: number, count: number, streams: readonly string[] = this.#streams): Promise<StreamEntry[]> {
    const out = await Promise.all(
      streams.map(async (stream) => {
        const reply = (await this.#redis.xautoclaim(
          stream, this.#group, this.consumer, minIdleMs, this.#claimCursor.get(stream) ?? '0-0', 'COUNT', count,
        )) as unknown as [string, RawEntry[], string[]?];
        this.#claimCursor.set(stream, reply[0]);
        const entries = reply[1].map((e) => entry(stream, e));
        // Redis 7 drops deleted entries from the pending list itself and names them here.
        for (const id of reply[2] ?? []) entries.push({ stream, id, fields: null });
        return entries;
      }),
    ).catch(unavailable);
    return out.flat();
  }

  /** Acknowledges entries: they leave the pending list for good. */
  async ack(entries: readonly StreamEntry[]): Promise<void> {
    const byStream = new Map<string, string[]>();
    for (const e of entries) {
      const ids = byStream.get(e.stream) ?? [];
      ids.push(e.id);
      byStream.set(e.stream, ids);
    }
    await Promise.all([...byStream].map(([s, ids]) => this.#redis.xack(s, this.#group, ...ids))).catch(unavailable);
  }

  /**
   * Entries not yet processed, over all streams: those not yet delivered to the group (`lag`) and
   * those delivered but not acknowledged (`pending`).
   */
  async backlog(): Promise<{ lag: number; pending: number }> {
    const infos = await Promise.all(this.#streams.map((s) => this.#redis.xinfo('GROUPS', s))).catch(unavailable);
    let lag = 0;
    let pending = 0;
    for (const groups of infos as unknown[][]) {
      for (const g of groups as unknown[][]) {
        const info = pairs(g);
        if (info['name'] !== this.#group) continue;
        lag += Number(info['lag'] ?? 0) || 0;
        pending += Number(info['pending'] ?? 0) || 0;
      }
    }
    return { lag, pending };
  }

  /** Removes consumers of the group that hold nothing and were idle for `idleMs` (dead workers' names). */
  async forgetIdleConsumers(idleMs: number): Promise<number> {
    let removed = 0;
    for (const s of this.#streams) {
      const consumers = (await this.#redis.xinfo('CONSUMERS', s, this.#group).catch(unavailable)) as unknown[][];
      for (const c of consumers) {
        const info = pairs(c);
        const name = String(info['name']);
        if (name === this.consumer || Number(info['pending']) !== 0 || Number(info['idle']) < idleMs) continue;
        await this.#redis.xgroup('DELCONSUMER', s, this.#group, name).catch(unavailable);
        removed++;
      }
    }
    return removed;
  }

  async #readAll(from: '>' | '0', count: number, streams: readonly string[]): Promise<StreamEntry[]> {
    const replies = await Promise.all(
      streams.map(
        (s) =>
          this.#redis.xreadgroup('GROUP', this.#group, this.consumer, 'COUNT', count, 'STREAMS', s, from) as Promise<
            [string, RawEntry[]][] | null
          >,
      ),
    ).catch(unavailable);
    const out: StreamEntry[] = [];
    for (const reply of replies) for (const [stream, entries] of reply ?? []) for (const e of entries) out.push(entry(stream, e));
    return out;
  }
}

function entry(stream: string, [id, list]: RawEntry): StreamEntry {
  return { stream, id, fields: list };
}

/** A flat `[key, value, key, value…]` reply as an object. */
function pairs(list: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}

/**
 * Renew. KEYS: lease. ARGV: me, ttlMs. Takes a free lease or extends one's own; 1 when held after.
 */
const TAKE = `
local o = redis.call('GET', KEYS[1])
if o and o ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Release. KEYS: lease. ARGV: me. Deletes the lease only if it is one's own. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0
`;

/**
 * Exclusive, expiring ownership of stream partitions among the live workers of a group, shared
 * out evenly: each live worker holds at most its fair share, and a dead worker's partitions are
 * taken over when its leases expire. With one reader per partition, the events of one user (one
 * partition) are written by one worker at a time, in order.
 */
export class PartitionLeases {
  readonly #redis: Cluster;
  readonly #streams: readonly string[];
  readonly #me: string;
  readonly #ttlMs: number;
  readonly #members: string;
  readonly #owned = new Set<string>();
  /** `balance`, `renew` and `releaseAll` run one at a time (a renewal must not retake a lease just given back). */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(redis: Cluster, streams: readonly string[], group: string, me: string, ttlMs: number) {
    this.#redis = redis;
    this.#streams = streams;
    this.#me = me;
    this.#ttlMs = ttlMs;
    this.#members = `parley:workers:{${group}}`;
  }

  /** The partitions (streams) held now. */
  get owned(): string[] {
    return this.#streams.filter((s) => this.#owned.has(s));
  }

  /**
   * Renews this worker's membership and leases, gives back partitions beyond its fair share, and
   * takes free ones up to it. Call between batches (with nothing in hand), well within the TTL.
   */
  balance(): Promise<string[]> {
    return this.#serial(() => this.#balance());
  }

  async #balance(): Promise<string[]> {
    const live = await this.#renew();
    const share = Math.ceil(this.#streams.length / Math.max(1, live));
    for (const s of this.owned.slice(share)) {
      await this.#redis.eval(RELEASE, 1, leaseKey(s), this.#me).catch(unavailable);
      this.#owned.delete(s);
    }
    // Free partitions, starting at a point that differs per worker so that they rarely collide.
    const start = fnv1a(this.#me) % this.#streams.length;
    for (let i = 0; i < this.#streams.length && this.#owned.size < share; i++) {
      const s = this.#streams[(start + i) % this.#streams.length] as string;
      if (!this.#owned.has(s) && (await this.#take(s))) this.#owned.add(s);
    }
    return this.owned;
  }

  /**
   * Renews this worker's membership and the leases it holds (dropping any it lost); returns how
   * many workers are live. Also called on a timer while a long batch is in hand.
   */
  renew(): Promise<number> {
    return this.#serial(() => this.#renew());
  }

  async #renew(): Promise<number> {
    const now = Date.now();
    const [, , live] = await Promise.all([
      this.#redis.zadd(this.#members, now + this.#ttlMs, this.#me),
      this.#redis.zremrangebyscore(this.#members, '-inf', now),
      this.#redis.zcard(this.#members),
    ]).catch(unavailable);
    const held = await Promise.all(this.owned.map(async (s) => [s, await this.#take(s)] as const));
    for (const [s, ok] of held) if (!ok) this.#owned.delete(s);
    return live;
  }

  /** Gives every lease back (on a clean stop, after the batch in hand is acknowledged). */
  releaseAll(): Promise<void> {
    return this.#serial(() => this.#releaseAll());
  }

  async #releaseAll(): Promise<void> {
    await Promise.all([
      ...this.owned.map((s) => this.#redis.eval(RELEASE, 1, leaseKey(s), this.#me)),
      this.#redis.zrem(this.#members, this.#me),
    ]).catch(unavailable);
    this.#owned.clear();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn, fn);
    this.#turn = run.catch(() => undefined);
    return run;
  }

  async #take(stream: string): Promise<boolean> {
    return (await this.#redis.eval(TAKE, 1, leaseKey(stream), this.#me, this.#ttlMs).catch(unavailable)) === 1;
  }
}

/** The lease of a partition, on the stream's slot. */
const leaseKey = (stream: string): string => `${stream}:owner`;
