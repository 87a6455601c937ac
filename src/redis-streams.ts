/**
 * Reading Redis Streams with a consumer group across several partitions (one stream per
 * partition, each on its own slot): the delivery the workers build on. An entry stays pending for
 * its consumer until acknowledged; a consumer that dies leaves its entries pending, and any other
 * consumer claims them once they have been idle long enough.
 */
import type { Cluster } from 'ioredis';
import { unavailable } from './redis.ts';

export type StreamEntry = {
  stream: string;
  id: string;
  /** The entry's fields; null when the entry was trimmed away while it was pending. */
  fields: Record<string, string> | null;
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

  /** New entries, at most `count` per stream; never blocks. */
  async read(count: number): Promise<StreamEntry[]> {
    return this.#readAll('>', count);
  }

  /** This consumer's own pending entries (after a restart under the same name). */
  async ownPending(count: number): Promise<StreamEntry[]> {
    return this.#readAll('0', count);
  }

  /**
   * Takes over entries that other consumers left pending for at least `minIdleMs`, at most
   * `count` per stream. Entries trimmed meanwhile come back with `fields: null`.
   */
  async claim(minIdleMs: number, count: number): Promise<StreamEntry[]> {
    const out = await Promise.all(
      this.#streams.map(async (stream) => {
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

  async #readAll(from: '>' | '0', count: number): Promise<StreamEntry[]> {
    const replies = await Promise.all(
      this.#streams.map(
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
  if (!list) return { stream, id, fields: null };
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) fields[String(list[i])] = String(list[i + 1]);
  return { stream, id, fields };
}

/** A flat `[key, value, key, value…]` reply as an object. */
function pairs(list: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = list[i + 1];
  return out;
}
