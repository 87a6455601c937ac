/**
 * History pages across the hot log and the archive (src/chat/history.ts `readHistory`): a reader
 * paging either way sees every message once, in order, whichever store holds it. The stores are
 * the real memory ones; the hot log keeps only the newest messages, the older ones are only in the
 * archive, as after the archive worker copied them and the log was trimmed.
 */
import { describe, expect, it } from 'vitest';
import { MemoryArchive } from '../../src/archive/memory.ts';
import type { Archive } from '../../src/archive/types.ts';
import { readHistory, type HistoryPage } from '../../src/chat/history.ts';
import type { Message } from '@parley/client/wire';
import { MemoryRoomLog } from '../../src/rooms/memory.ts';
import type { ReadQuery } from '../../src/rooms/types.ts';

const ROOM = 'lobby';
/** Messages in the room. */
const TOTAL = 80;

/**
 * A room of `TOTAL` messages whose hot log holds `oldest..TOTAL` (its trimming decides `oldest`) and
 * whose archive holds `1..archived` (by default up to 5 past `oldest`: the copies overlap).
 */
async function room(opts: { archived?: (oldest: number) => number } = {}) {
  const log = new MemoryRoomLog({ hotWindow: 10, idempotencyTtlMs: 60_000 });
  const all: Message[] = [];
  for (let i = 1; i <= TOTAL; i++) all.push((await log.append(ROOM, { from: 'alice', text: `m${i}` })).message);
  const { oldest, epoch } = await log.read(ROOM, { limit: 1 });
  const archive = new MemoryArchive();
  await archive.put(all.slice(0, (opts.archived ?? ((o) => o + 5))(oldest)));
  const read = (q: ReadQuery, a: Archive | null = archive) => readHistory(log, a, ROOM, q);
  return { log, archive, oldest, epoch, read };
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const seqs = (page: HistoryPage): number[] => page.messages.map((m) => m.seq);
const brief = (page: HistoryPage) => ({ seqs: seqs(page), hasMore: page.hasMore });

describe('the room used here', () => {
  it('holds its older messages only in the archive', async () => {
    const { log, oldest, epoch } = await room();
    expect(oldest).toBeGreaterThan(20);
    expect(oldest).toBeLessThan(TOTAL - 10);
    const hot = await log.read(ROOM, { after: 0, limit: 200 });
    expect(hot.messages[0]?.seq).toBe(oldest);
    expect(hot.epoch).toBe(epoch);
  });
});

describe('catching up (after)', () => {
  it('crosses from the archive into the hot log with no gap and no repeat', async () => {
    const { read, oldest, epoch } = await room();
    const page = await read({ after: oldest - 4, limit: 10 });
    expect(brief(page)).toEqual({ seqs: range(oldest - 3, oldest + 6), hasMore: true });
    expect(page.epoch).toBe(epoch);
    expect(page.messages.every((m) => m.room === ROOM && m.epoch === epoch && m.text === `m${m.seq}`)).toBe(true);
  });

  it.each([1, 3, 7, 10, 15, 50, 200])('pages from the start to the end, limit %i: every message once, in order', async (limit) => {
    const { read } = await room();
    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(TOTAL + 1);
      const page = await read({ after, limit });
      expect(page.messages.length).toBeLessThanOrEqual(limit);
      seen.push(...seqs(page));
      if (!page.hasMore) break;
      after = page.messages.at(-1)?.seq ?? after;
    }
    expect(seen).toEqual(range(1, TOTAL));
  });

  it('has more after a page that ends in the archive, or just before the hot log', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ after: 10, limit: 5 }))).toEqual({ seqs: range(11, 15), hasMore: true });
    expect(brief(await read({ after: oldest - 11, limit: 10 }))).toEqual({ seqs: range(oldest - 10, oldest - 1), hasMore: true });
  });

  it('has no more once the page reaches the latest message', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ after: oldest - 3, limit: TOTAL }))).toEqual({ seqs: range(oldest - 2, TOTAL), hasMore: false });
    expect(brief(await read({ after: 0, limit: TOTAL }))).toEqual({ seqs: range(1, TOTAL), hasMore: false });
    expect(brief(await read({ after: TOTAL - 1, limit: 1 }))).toEqual({ seqs: [TOTAL], hasMore: false });
    expect(brief(await read({ after: TOTAL, limit: 10 }))).toEqual({ seqs: [], hasMore: false });
  });

  it('takes one message at a time on either side of the boundary', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ after: oldest - 2, limit: 1 }))).toEqual({ seqs: [oldest - 1], hasMore: true });
    expect(brief(await read({ after: oldest - 1, limit: 1 }))).toEqual({ seqs: [oldest], hasMore: true });
  });

  it('stays inside the archive for a range entirely below the hot log', async () => {
    const { read } = await room();
    expect(brief(await read({ after: 10, before: 20, limit: 100 }))).toEqual({ seqs: range(11, 19), hasMore: false });
    // With both bounds the page is the newest of the range (see ReadQuery).
    expect(brief(await read({ after: 10, before: 20, limit: 5 }))).toEqual({ seqs: range(15, 19), hasMore: true });
  });
});

describe('scrolling back (before, or the latest)', () => {
  it('crosses from the hot log into the archive with no gap and no repeat', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ before: oldest + 3, limit: 10 }))).toEqual({ seqs: range(oldest - 7, oldest + 2), hasMore: true });
  });

  it.each([1, 3, 7, 10, 15, 50, 200])('pages from the latest back to the first, limit %i: every message once, in order', async (limit) => {
    const { read } = await room();
    const pages: number[][] = [];
    let before: number | undefined;
    for (let n = 0; ; n++) {
      expect(n).toBeLessThan(TOTAL + 1);
      const page = await read(before === undefined ? { limit } : { before, limit });
      expect(page.messages.length).toBeLessThanOrEqual(limit);
      pages.unshift(seqs(page));
      if (!page.hasMore) break;
      before = page.messages[0]?.seq ?? before;
    }
    expect(pages.flat()).toEqual(range(1, TOTAL));
  });

  it('gives the latest messages without a bound, from the archive when the hot log is too short', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ limit: 5 }))).toEqual({ seqs: range(TOTAL - 4, TOTAL), hasMore: true });
    const hot = TOTAL - oldest + 1;
    expect(brief(await read({ limit: hot + 2 }))).toEqual({ seqs: range(oldest - 2, TOTAL), hasMore: true });
    expect(brief(await read({ limit: TOTAL }))).toEqual({ seqs: range(1, TOTAL), hasMore: false });
    expect(brief(await read({ limit: TOTAL + 20 }))).toEqual({ seqs: range(1, TOTAL), hasMore: false });
  });

  it('has more while older messages exist, in the hot log or in the archive', async () => {
    const { read, oldest } = await room();
    // The hot log alone fills the page and ends at its oldest: the archive still has older ones.
    expect(brief(await read({ before: oldest + 5, limit: 5 }))).toEqual({ seqs: range(oldest, oldest + 4), hasMore: true });
    expect(brief(await read({ before: 12, limit: 10 }))).toEqual({ seqs: range(2, 11), hasMore: true });
    expect(brief(await read({ before: 11, limit: 10 }))).toEqual({ seqs: range(1, 10), hasMore: false });
    expect(brief(await read({ before: 2, limit: 10 }))).toEqual({ seqs: [1], hasMore: false });
    expect(brief(await read({ before: 1, limit: 10 }))).toEqual({ seqs: [], hasMore: false });
  });

  it('takes one message at a time on either side of the boundary', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ before: oldest + 1, limit: 1 }))).toEqual({ seqs: [oldest], hasMore: true });
    expect(brief(await read({ before: oldest, limit: 1 }))).toEqual({ seqs: [oldest - 1], hasMore: true });
  });

  it('stays inside the archive for a range entirely below the hot log', async () => {
    const { read } = await room();
    expect(brief(await read({ before: 30, limit: 5 }))).toEqual({ seqs: range(25, 29), hasMore: true });
    expect(brief(await read({ before: 6, limit: 5 }))).toEqual({ seqs: range(1, 5), hasMore: false });
  });
});

describe('without an archive', () => {
  it('gives only what the hot log holds, and no more before it', async () => {
    const { read, oldest } = await room();
    expect(brief(await read({ after: 0, limit: 5 }, null))).toEqual({ seqs: range(oldest, oldest + 4), hasMore: true });
    expect(brief(await read({ after: 0, limit: 200 }, null))).toEqual({ seqs: range(oldest, TOTAL), hasMore: false });
    expect(brief(await read({ limit: 200 }, null))).toEqual({ seqs: range(oldest, TOTAL), hasMore: false });
    expect(brief(await read({ before: oldest + 3, limit: 10 }, null))).toEqual({ seqs: range(oldest, oldest + 2), hasMore: false });
    expect(brief(await read({ before: oldest, limit: 10 }, null))).toEqual({ seqs: [], hasMore: false });
    expect(brief(await read({ after: 10, before: 20, limit: 10 }, null))).toEqual({ seqs: [], hasMore: false });
  });

  it('reads nothing from the archive for a page the hot log holds', async () => {
    const { read, oldest } = await room();
    const refusing: Archive = {
      put: async () => undefined,
      applyStates: async () => undefined,
      at: async () => null,
      read: async () => {
        throw new Error('the archive was read');
      },
      close: async () => undefined,
    };
    expect(brief(await read({ after: oldest - 1, limit: 5 }, refusing))).toEqual({ seqs: range(oldest, oldest + 4), hasMore: true });
    expect(brief(await read({ limit: 5 }, refusing))).toEqual({ seqs: range(TOTAL - 4, TOTAL), hasMore: true });
    await expect(read({ after: oldest - 2, limit: 5 }, refusing)).rejects.toThrow('the archive was read');
  });
});

describe('an archive that missed messages the hot log no longer holds', () => {
  // The archive has 1..oldest-16: oldest-15..oldest-1 are gone from both stores.
  const lagging = { archived: (oldest: number) => oldest - 16 };

  it('catching up, never spans the hole within one page', async () => {
    const { read, oldest } = await room(lagging);
    expect(brief(await read({ after: oldest - 20, limit: 10 }))).toEqual({ seqs: range(oldest - 19, oldest - 16), hasMore: true });
    expect(brief(await read({ after: oldest - 16, limit: 10 }))).toEqual({ seqs: range(oldest, oldest + 9), hasMore: true });
  });

  it('scrolling back, never spans the hole within one page: the next page back starts below it', async () => {
    const { read, oldest } = await room(lagging);
    const page = await read({ before: oldest + 7, limit: 10 });
    expect(brief(page)).toEqual({ seqs: range(oldest, oldest + 6), hasMore: true });
    expect(brief(await read({ before: oldest, limit: 10 }))).toEqual({ seqs: range(oldest - 25, oldest - 16), hasMore: true });
  });
});
