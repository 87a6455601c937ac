/**
 * In-process message archive: the embedded default, and the reference the MongoDB archive is
 * tested against (test/contract/archive.ts). Not durable storage: it lives as long as the process.
 *
 * Bound: at most `maxMessages` (default 100,000) messages in all. Beyond that, the least recently
 * written `(room, epoch)` series loses its oldest messages first (lowest `seq`), then the whole
 * series once empty. A forgotten message is simply absent from reads, and storing it again stores
 * it anew.
 */
import type { Message } from '@parley/client/wire';
import type { MessageState } from '../rooms/types.ts';
import type { Archive, ArchiveQuery } from './types.ts';
import { withState } from './state.ts';

export type MemoryArchiveOptions = {
  /** Messages kept in all, across rooms and epochs. */
  maxMessages?: number;
};

export const DEFAULT_MAX_ARCHIVED_MESSAGES = 100_000;
/** The `limit` range of `ArchiveQuery`. */
const MAX_LIMIT = 1000;

/** One room's epoch: messages in ascending, distinct `seq` (not necessarily gapless). */
type Series = Message[];

export class MemoryArchive implements Archive {
  /** Keyed by `[room, epoch]` as JSON (no separator can make two pairs collide); least recently written first. */
  readonly #series = new Map<string, Series>();
  readonly #max: number;
  #size = 0;

  constructor(opts: MemoryArchiveOptions = {}) {
    const max = opts.maxMessages ?? DEFAULT_MAX_ARCHIVED_MESSAGES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxMessages: expected a positive integer, got ${max}`);
    this.#max = max;
  }

  async put(messages: readonly Message[]): Promise<void> {
    for (const m of messages) {
      const key = seriesKey(m.room, m.epoch);
      let series = this.#series.get(key);
      if (series) this.#series.delete(key); // re-insert below: now the most recently written
      else series = [];
      this.#series.set(key, series);
      const i = firstIndex(series, (seq) => seq >= m.seq);
      if (series[i]?.seq === m.seq) continue; // already stored: the first copy stays
      series.splice(i, 0, copy(m));
      this.#size++;
    }
    this.#evict();
  }

  async applyStates(room: string, epoch: string, states: ReadonlyMap<number, MessageState>): Promise<void> {
    const series = this.#series.get(seriesKey(room, epoch));
    if (!series) return;
    const at = (seq: number) => {
      const i = firstIndex(series, (s) => s >= seq);
      return series[i]?.seq === seq ? i : -1;
    };
    for (const [seq, state] of states) {
      const i = at(seq);
      const m = series[i];
      if (!m || m.kind !== undefined || (m.rev ?? 0) >= state.rev) continue;
      series[i] = withState(m, state);
      if (!state.deleted) continue;
      for (const edit of state.edits ?? []) {
        const j = at(edit);
        const e = series[j];
        if (e) series[j] = { ...e, text: '' };
      }
    }
  }

  async at(room: string, epoch: string, seq: number): Promise<Message | null> {
    const [m] = await this.read(room, epoch, { after: seq - 1, before: seq + 1, limit: 1, from: 'oldest' });
    return m ?? null;
  }

  async read(room: string, epoch: string, query: ArchiveQuery): Promise<Message[]> {
    const { after, before, limit, from } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new RangeError(`limit: expected an integer from 1 to ${MAX_LIMIT}, got ${limit}`);
    }
    const series = this.#series.get(seriesKey(room, epoch));
    if (!series) return [];
    const lo = after === undefined ? 0 : firstIndex(series, (seq) => seq > after);
    const hi = before === undefined ? series.length : firstIndex(series, (seq) => seq >= before);
    if (hi <= lo) return [];
    const page = from === 'oldest' ? series.slice(lo, Math.min(hi, lo + limit)) : series.slice(Math.max(lo, hi - limit), hi);
    return page.map(copy);
  }

  async close(): Promise<void> {
    this.#series.clear();
    this.#size = 0;
  }

  #evict(): void {
    for (const [key, series] of this.#series) {
      if (this.#size <= this.#max) return;
      const drop = Math.min(series.length, this.#size - this.#max);
      series.splice(0, drop);
      this.#size -= drop;
      if (series.length === 0) this.#series.delete(key);
    }
  }
}

function seriesKey(room: string, epoch: string): string {
  return JSON.stringify([room, epoch]);
}

/** The index of the first message whose `seq` satisfies `atOrPast`, a predicate monotone in `seq` (`series.length` if none). */
function firstIndex(series: Series, atOrPast: (seq: number) => boolean): number {
  let lo = 0;
  let hi = series.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (atOrPast(series[mid]!.seq)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A copy, so that neither the caller's nor the reader's object is shared. */
function copy(m: Message): Message {
  return structuredClone(m);
}
