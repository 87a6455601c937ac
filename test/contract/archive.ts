/**
 * The `Archive` contract (src/archive/types.ts), run against every implementation. A new backend
 * only needs a `*.test.ts` that calls `archiveContract` with its factory. Room names carry random
 * suffixes, so no test assumes an empty store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Archive } from '../../src/archive/types.ts';
import type { Message } from '@parley/client/wire';
import { Resources, uid } from './util.ts';

export type ArchiveFactory = () => Promise<{ store: Archive; cleanup(): Promise<void> }>;

const EPOCH = 'e00000000001';
const T0 = 1_700_000_000_000;

/** A message at `seq` of `room`/`epoch`; every third carries a `cid`. */
function msg(room: string, seq: number, opts: { epoch?: string; text?: string } = {}): Message {
  const m: Message = {
    room,
    epoch: opts.epoch ?? EPOCH,
    seq,
    from: seq % 2 ? 'alice' : 'bob',
    text: opts.text ?? `m${seq}`,
    ts: T0 + seq * 1000,
  };
  if (seq % 3 === 0) m.cid = `c-${seq}`;
  return m;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const seqs = (ms: readonly Message[]): number[] => ms.map((m) => m.seq);

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/** For the tests that write hundreds of documents: a real backend may take seconds (FerretDB: ~10 s). */
const SLOW = 60_000;

export function archiveContract(name: string, make: ArchiveFactory): void {
  describe(`Archive contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use = async () => res.track(await make()).store;

    it('keeps what was stored, field for field, with and without cid', async () => {
      const a = await use();
      const r = uid('room');
      const stored = range(1, 6).map((s) => msg(r, s));
      await a.put(stored);
      const got = await a.read(r, EPOCH, { limit: 10, from: 'oldest' });
      expect(got).toEqual(stored);
      expect(got[0]).not.toHaveProperty('cid');
      expect(got[2]).toHaveProperty('cid', 'c-3');
      for (const m of got) expect(Object.keys(m).sort()).toEqual(Object.keys(stored[m.seq - 1]!).sort());
    });

    it('reads a range from either end: after, before, limit, ascending', async () => {
      const a = await use();
      const r = uid('room');
      await a.put(shuffle(range(1, 10).map((s) => msg(r, s))));
      const read = async (q: { after?: number; before?: number; limit: number; from: 'oldest' | 'newest' }) =>
        seqs(await a.read(r, EPOCH, q));
      expect(await read({ limit: 3, from: 'oldest' })).toEqual([1, 2, 3]);
      expect(await read({ limit: 3, from: 'newest' })).toEqual([8, 9, 10]);
      expect(await read({ limit: 100, from: 'oldest' })).toEqual(range(1, 10));
      expect(await read({ limit: 100, from: 'newest' })).toEqual(range(1, 10));
      expect(await read({ after: 3, limit: 4, from: 'oldest' })).toEqual([4, 5, 6, 7]);
      expect(await read({ after: 3, limit: 4, from: 'newest' })).toEqual([7, 8, 9, 10]);
      expect(await read({ before: 5, limit: 2, from: 'newest' })).toEqual([3, 4]);
      expect(await read({ before: 5, limit: 2, from: 'oldest' })).toEqual([1, 2]);
      expect(await read({ after: 2, before: 9, limit: 3, from: 'oldest' })).toEqual([3, 4, 5]);
      expect(await read({ after: 2, before: 9, limit: 3, from: 'newest' })).toEqual([6, 7, 8]);
      expect(await read({ after: 2, before: 9, limit: 100, from: 'newest' })).toEqual(range(3, 8));
      expect(await read({ after: 0, limit: 1, from: 'oldest' })).toEqual([1]);
      expect(await read({ before: 11, limit: 1, from: 'newest' })).toEqual([10]);
      expect(await read({ after: 9, limit: 5, from: 'oldest' })).toEqual([10]);
      expect(await read({ before: 2, limit: 5, from: 'newest' })).toEqual([1]);
    });

    it('reads by stored seq, not by arithmetic on seq: a series with gaps', async () => {
      const a = await use();
      const r = uid('room');
      const held = [2, 3, 5, 8, 13, 21, 34];
      await a.put(held.map((s) => msg(r, s)));
      const read = async (q: { after?: number; before?: number; limit: number; from: 'oldest' | 'newest' }) =>
        seqs(await a.read(r, EPOCH, q));
      expect(await read({ limit: 3, from: 'oldest' })).toEqual([2, 3, 5]);
      expect(await read({ limit: 3, from: 'newest' })).toEqual([13, 21, 34]);
      expect(await read({ before: 21, limit: 3, from: 'newest' })).toEqual([5, 8, 13]);
      expect(await read({ after: 5, limit: 2, from: 'oldest' })).toEqual([8, 13]);
      expect(await read({ after: 4, before: 14, limit: 10, from: 'oldest' })).toEqual([5, 8, 13]);
      expect(await read({ after: 8, before: 13, limit: 10, from: 'oldest' })).toEqual([]);
    });

    it('answers [] for empty ranges and unknown rooms or epochs', async () => {
      const a = await use();
      const r = uid('room');
      await a.put(range(1, 5).map((s) => msg(r, s)));
      for (const from of ['oldest', 'newest'] as const) {
        expect(await a.read(uid('nowhere'), EPOCH, { limit: 10, from })).toEqual([]);
        expect(await a.read(r, 'e-other', { limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { after: 5, limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { after: 500, limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { before: 1, limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { before: 0, limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { after: 2, before: 3, limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { after: 3, before: 3, limit: 10, from })).toEqual([]);
        expect(await a.read(r, EPOCH, { after: 4, before: 2, limit: 10, from })).toEqual([]);
      }
    });

    it('changes nothing for an empty batch', async () => {
      const a = await use();
      const r = uid('room');
      await a.put([]);
      await a.put([msg(r, 1)]);
      await a.put([]);
      expect(await a.read(r, EPOCH, { limit: 10, from: 'oldest' })).toEqual([msg(r, 1)]);
    });

    it('stores idempotently: the same batch twice is stored once', async () => {
      const a = await use();
      const r = uid('room');
      const batch = range(1, 20).map((s) => msg(r, s));
      await a.put(batch);
      await a.put(batch);
      await a.put(shuffle(batch));
      expect(await a.read(r, EPOCH, { limit: 100, from: 'oldest' })).toEqual(batch);
    });

    it('keeps the first copy when an overlapping batch brings a different one, and stores the rest', async () => {
      const a = await use();
      const r = uid('room');
      await a.put(range(1, 5).map((s) => msg(r, s, { text: `first ${s}` })));
      // Overlaps 3..5 with different texts; 6..8 are new. Duplicates first, so that a backend that
      // stops at the first duplicate loses the new ones.
      await a.put(range(3, 8).map((s) => msg(r, s, { text: `second ${s}` })));
      await a.put([msg(r, 9, { text: 'first 9' }), msg(r, 4, { text: 'third 4' }), msg(r, 10, { text: 'first 10' })]);
      const got = await a.read(r, EPOCH, { limit: 100, from: 'oldest' });
      expect(got).toEqual([
        ...range(1, 5).map((s) => msg(r, s, { text: `first ${s}` })),
        ...range(6, 8).map((s) => msg(r, s, { text: `second ${s}` })),
        msg(r, 9, { text: 'first 9' }),
        msg(r, 10, { text: 'first 10' }),
      ]);
    });

    it('stores a seq given twice in one batch once', async () => {
      const a = await use();
      const r = uid('room');
      await a.put([msg(r, 1), msg(r, 2, { text: 'one copy' }), msg(r, 2, { text: 'other copy' }), msg(r, 3)]);
      const got = await a.read(r, EPOCH, { limit: 10, from: 'oldest' });
      expect(seqs(got)).toEqual([1, 2, 3]);
      expect(['one copy', 'other copy']).toContain(got[1]!.text);
    });

    it('keeps rooms apart: direct rooms, names that are prefixes of others or look like patterns', async () => {
      const a = await use();
      const base = uid('a');
      const rooms = [base, `${base}-b`, `${base}b`, `dm:${base}:bob`, `dm:${base}:bob2`, `${base}.*`, `${base}.`, `^${base}`, `${base}$`];
      // The same seqs in every room, each room's text naming the room; one batch for all.
      await a.put(shuffle(rooms.flatMap((r) => range(1, 4).map((s) => msg(r, s, { text: `${r} ${s}` })))));
      for (const r of rooms) {
        for (const from of ['oldest', 'newest'] as const) {
          expect(await a.read(r, EPOCH, { limit: 100, from })).toEqual(range(1, 4).map((s) => msg(r, s, { text: `${r} ${s}` })));
        }
      }
      expect(await a.read(base.slice(0, -1), EPOCH, { limit: 100, from: 'oldest' })).toEqual([]);
    });

    it('keeps epochs of a room apart', async () => {
      const a = await use();
      const r = uid('room');
      const [e1, e2] = ['e00000000001', 'e000000000010'];
      await a.put(range(1, 5).map((s) => msg(r, s, { epoch: e1, text: `one ${s}` })));
      await a.put(range(1, 3).map((s) => msg(r, s, { epoch: e2, text: `two ${s}` })));
      expect(await a.read(r, e1, { limit: 100, from: 'oldest' })).toEqual(range(1, 5).map((s) => msg(r, s, { epoch: e1, text: `one ${s}` })));
      expect(await a.read(r, e2, { limit: 100, from: 'newest' })).toEqual(range(1, 3).map((s) => msg(r, s, { epoch: e2, text: `two ${s}` })));
      expect(await a.read(r, 'e0000000000', { limit: 100, from: 'oldest' })).toEqual([]);
    });

    it('keeps (room, epoch) pairs apart that join to the same string with a separator', async () => {
      const a = await use();
      const base = uid('r');
      // (`x<sep>a`, `b`) and (`x`, `a<sep>b`): one key for a store that concatenates with `<sep>`.
      const pairs = [':', '|', '/', '.', '-', '_', ' '].flatMap((sep) => [
        { room: `${base}${sep}a`, epoch: 'b' },
        { room: base, epoch: `a${sep}b` },
      ]);
      await a.put(pairs.map(({ room, epoch }) => msg(room, 1, { epoch, text: JSON.stringify([room, epoch]) })));
      for (const { room, epoch } of pairs) {
        expect(await a.read(room, epoch, { limit: 10, from: 'oldest' }), JSON.stringify([room, epoch])).toEqual([
          msg(room, 1, { epoch, text: JSON.stringify([room, epoch]) }),
        ]);
      }
    });

    it('does not let the caller change stored messages through the objects given or returned', async () => {
      const a = await use();
      const r = uid('room');
      const given = [msg(r, 1), msg(r, 2)];
      await a.put(given);
      given[0]!.text = 'changed after put';
      const got = await a.read(r, EPOCH, { limit: 10, from: 'oldest' });
      expect(got).toEqual([msg(r, 1), msg(r, 2)]);
      got[1]!.text = 'changed after read';
      expect(await a.read(r, EPOCH, { limit: 10, from: 'oldest' })).toEqual([msg(r, 1), msg(r, 2)]);
    });

    it('stores 2,500 messages in batches of 1,000 and pages them back, each exactly once, in order', async () => {
      const a = await use();
      const r = uid('room');
      const all = range(1, 2500).map((s) => msg(r, s));
      for (let i = 0; i < all.length; i += 1000) await a.put(all.slice(i, i + 1000));

      // Newest → oldest with `before`, pages of 300 (the last one short).
      const back: Message[] = [];
      let before: number | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = await a.read(r, EPOCH, { limit: 300, from: 'newest', ...(before === undefined ? {} : { before }) });
        if (page.length === 0) break;
        expect(seqs(page)).toEqual([...seqs(page)].sort((x, y) => x - y));
        expect(page.length).toBeLessThanOrEqual(300);
        back.unshift(...page);
        before = page[0]!.seq;
      }
      expect(back).toEqual(all);

      // Oldest → newest with `after`, the largest page allowed.
      const forward: Message[] = [];
      let after = 0;
      for (let pages = 0; pages < 100; pages++) {
        const page = await a.read(r, EPOCH, { after, limit: 1000, from: 'oldest' });
        if (page.length === 0) break;
        forward.push(...page);
        after = page[page.length - 1]!.seq;
      }
      expect(forward).toEqual(all);
      expect(seqs(await a.read(r, EPOCH, { limit: 1000, from: 'newest' }))).toEqual(range(1501, 2500));
    }, SLOW);

    it('stores edit, delete and reaction entries as they are, and text messages with their latest state', async () => {
      const a = await use();
      const r = uid('room');
      const base = { room: r, epoch: EPOCH, from: 'alice', ts: T0 };
      const entries: Message[] = [
        { ...base, seq: 1, text: 'helo', cid: 'c-1' },
        { ...base, seq: 2, text: 'hello', kind: 'edit', target: 1 },
        { ...base, seq: 3, from: 'bob', text: '', kind: 'reaction', target: 1, emoji: '👍', on: true },
        { ...base, seq: 4, text: 'other' },
      ];
      await a.put(entries);
      expect(await a.read(r, EPOCH, { limit: 10, from: 'oldest' })).toEqual(entries);
      expect(await a.at(r, EPOCH, 3)).toEqual(entries[2]);
      expect(await a.at(r, EPOCH, 5)).toBeNull();
      expect(await a.at(r, 'another-epoch', 1)).toBeNull();
      const reactions = [{ emoji: '👍', count: 1, users: ['bob'] }];
      await a.applyStates(r, EPOCH, new Map([[1, { from: 'alice', rev: 3, text: 'hello', edited: T0 + 5, reactions, edits: [2] }]]));
      // An older state arriving late changes nothing; states of entries not stored are skipped.
      await a.applyStates(r, EPOCH, new Map([[1, { from: 'alice', rev: 2, text: 'x', edited: T0 }], [9, { from: 'bob', rev: 10, deleted: true }]]));
      const [first] = await a.read(r, EPOCH, { limit: 1, from: 'oldest' });
      expect(first).toEqual({ ...entries[0], text: 'hello', edited: T0 + 5, reactions, rev: 3 });
    });

    it('blanks a deleted message and its edits for good', async () => {
      const a = await use();
      const r = uid('room');
      const base = { room: r, epoch: EPOCH, from: 'alice', ts: T0 };
      await a.put([
        { ...base, seq: 1, text: 'secret' },
        { ...base, seq: 2, text: 'secret 2', kind: 'edit', target: 1 },
        { ...base, seq: 3, text: '', kind: 'delete', target: 1 },
      ]);
      await a.applyStates(r, EPOCH, new Map([[1, { from: 'alice', rev: 3, deleted: true, edits: [2] }]]));
      const all = await a.read(r, EPOCH, { limit: 10, from: 'oldest' });
      expect(all.map((m) => m.text)).toEqual(['', '', '']);
      expect(all[0]).toMatchObject({ deleted: true, rev: 3 });
      expect(all[0]).not.toHaveProperty('edited');
    });
  });
}
