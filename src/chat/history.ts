/**
 * Room history over REST: the hot log for recent messages and the archive for what the hot log no
 * longer holds, joined into one page with the same shape and no gap at the boundary.
 */
import type { Archive } from '../archive/types.ts';
import { LIMITS, type Message } from '@parley/client/wire';
import type { Position, ReadQuery, ReadResult, RoomLog } from '../rooms/types.ts';
import { withState } from '../archive/state.ts';
import { backendError } from './backend.ts';

export type HistoryPage = { epoch: string; messages: Message[]; hasMore: boolean };

/**
 * Archived messages with their current state: the log's, which the archive worker copies into the
 * archive only when it gets to the change, wherever the log has a newer one.
 */
async function current(log: RoomLog, room: string, epoch: string, archived: Message[]): Promise<Message[]> {
  const texts = archived.filter((m) => m.kind === undefined).map((m) => m.seq);
  if (texts.length === 0) return archived;
  const states = await log.states(room, epoch, texts);
  if (states.size === 0) return archived;
  return archived.map((m) => {
    const state = states.get(m.seq);
    return state && state.rev >= (m.rev ?? 0) ? withState(m, state) : m;
  });
}

/**
 * Reads a page by position (see `ReadQuery`). Without an archive, messages older than the hot log
 * are simply not there. Throws `BackendUnavailable` when a store that the page needs is down: the
 * archive is read only when the range reaches below the hot log.
 */
export async function readHistory(log: RoomLog, archive: Archive | null, room: string, q: ReadQuery): Promise<HistoryPage> {
  const hot = await log.read(room, q);
  const page = { epoch: hot.epoch, messages: hot.messages, hasMore: hot.hasMore };
  const lower = q.after ?? 0; // exclusive, as `after`
  const upper = Math.min(q.before ?? hot.seq + 1, hot.seq + 1); // exclusive, as `before`
  const below = Math.min(upper, hot.oldest); // the archive serves (lower, below)
  if (!archive || below - lower <= 1) return page;

  if (q.after !== undefined && q.before === undefined) {
    // Catching up: the oldest `limit` of the range, archive first, then the hot log's start.
    const old = await current(log, room, hot.epoch, await archive.read(room, hot.epoch, { after: lower, before: below, limit: q.limit, from: 'oldest' }));
    const joins = old.length === 0 || old[old.length - 1]?.seq === below - 1;
    const messages = joins ? [...old, ...hot.messages].slice(0, q.limit) : old;
    const last = messages[messages.length - 1]?.seq ?? lower;
    return { epoch: hot.epoch, messages, hasMore: last < hot.seq };
  }

  // Scrolling back: the newest `limit` of the range, the hot log's part first, the rest from the archive.
  const need = q.limit - hot.messages.length;
  if (need <= 0) return { ...page, hasMore: true };
  const old = await current(log, room, hot.epoch, await archive.read(room, hot.epoch, { after: lower, before: below, limit: need, from: 'newest' }));
  // Messages lost from both stores (trimmed before the archive copied them) end a page: the hot
  // part alone, and the archive's part is the next page back.
  const joins = hot.messages.length === 0 || old.length === 0 || old[old.length - 1]?.seq === below - 1;
  if (!joins) return { ...page, hasMore: true };
  const messages = [...old, ...hot.messages];
  const first = messages[0]?.seq ?? below;
  return { epoch: hot.epoch, messages, hasMore: old.length === need && first > lower + 1 };
}

/** A room's history as clients read it: REST pages, and the messages a `join` answers with. */
export class History {
  readonly #log: RoomLog;
  readonly #archive: Archive | null;

  constructor(log: RoomLog, archive: Archive | null) {
    this.#log = log;
    this.#archive = archive;
  }

  /** A REST page (see `readHistory`). */
  page(room: string, q: ReadQuery): Promise<HistoryPage> {
    return readHistory(this.#log, this.#archive, room, q).catch(backendError('read', room));
  }

  /**
   * What a `join` answers with: the messages after `since` when the hot log still holds all of them
   * (`recovered`), else the latest messages. A client further behind pages the rest over REST.
   */
  async forJoin(room: string, since: Position | undefined): Promise<{ page: ReadResult; recovered: boolean }> {
    const read = (q: ReadQuery) => this.#log.read(room, q).catch(backendError('read', room));
    if (since) {
      const page = await read({ after: since.seq, limit: LIMITS.recoverMax });
      if (page.epoch === since.epoch && since.seq >= page.oldest - 1 && since.seq <= page.seq && !page.hasMore) {
        return { page, recovered: true };
      }
    }
    return { page: await read({ limit: LIMITS.joinLatest }), recovered: false };
  }
}
