/**
 * The `RoomLog` contract (src/rooms/types.ts), run against every implementation: memory now, Redis
 * Cluster later. A new backend only needs a `*.test.ts` that calls `roomLogContract` with its factory.
 *
 * Tests never assume an empty store: every room and user name carries a random suffix. Expiry is
 * tested with short real TTLs, so a backend that keeps its own time passes too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RoomLog } from '../../src/rooms/types.ts';
import { roomLogChangesContract } from './roomlog-changes.ts';
import { roomLogPubSubContract } from './roomlog-pubsub.ts';
import { Resources, sleep, uid } from './util.ts';

export type RoomLogOptions = {
  /** Messages the log keeps per room (trimming may keep somewhat more, never fewer). */
  hotWindow: number;
  /** How long `(room, from, cid)` is remembered. */
  idempotencyTtlMs: number;
  /** Wall clock for timestamps and expiry; a backend with its own clock may ignore it. */
  now: () => number;
};

export type RoomLogFactory = (opts: RoomLogOptions) => Promise<{ log: RoomLog; cleanup(): Promise<void> }>;

export const DEFAULT_ROOMLOG_OPTIONS: RoomLogOptions = { hotWindow: 1000, idempotencyTtlMs: 60_000, now: Date.now };

/** Makes a log with `DEFAULT_ROOMLOG_OPTIONS` overridden by `opts`, cleaned up after the test. */
export type UseRoomLog = (opts?: Partial<RoomLogOptions>) => Promise<RoomLog>;

export function roomLogContract(name: string, make: RoomLogFactory): void {
  describe(`RoomLog contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use: UseRoomLog = async (opts = {}) =>
      res.track(await make({ ...DEFAULT_ROOMLOG_OPTIONS, ...opts })).log;

    appendContract(use);
    readContract(use);
    roomLogPubSubContract(use);
    roomLogChangesContract(use);
  });
}

const room = () => uid('room');

async function appendN(log: RoomLog, r: string, n: number, from = 'alice'): Promise<void> {
  for (let i = 0; i < n; i++) await log.append(r, { from, text: `m${i + 1}` });
}

function appendContract(use: UseRoomLog): void {
  describe('append and head', () => {
    it('numbers messages 1, 2, 3 … per room, gapless, and keeps what was sent', async () => {
      const log = await use();
      const r = room();
      const t0 = Date.now();
      const a = await log.append(r, { from: 'alice', text: 'hello', cid: 'c-1' });
      const b = await log.append(r, { from: 'bob', text: 'hi' });
      const c = await log.append(r, { from: 'alice', text: 'bye' });
      expect([a, b, c].map((x) => [x.message.seq, x.duplicate])).toEqual([[1, false], [2, false], [3, false]]);
      expect(a.message).toMatchObject({ room: r, from: 'alice', text: 'hello', cid: 'c-1' });
      expect(b.message).not.toHaveProperty('cid');
      // A timestamp a user would believe: now, give or take clock skew between processes.
      expect(a.message.ts).toBeGreaterThanOrEqual(t0 - 1000);
      expect(a.message.ts).toBeLessThanOrEqual(Date.now() + 1000);
      expect(await log.head(r)).toEqual({ epoch: a.message.epoch, seq: 3 });
    });

    it('keeps one epoch per room, and gives different rooms different epochs', async () => {
      const log = await use();
      const [r1, r2] = [room(), room()];
      const empty = await log.head(r1);
      expect(empty.seq).toBe(0);
      expect(empty.epoch).toMatch(/\S/);
      expect((await log.head(r1)).epoch).toBe(empty.epoch); // head of an empty room is stable too
      const m1 = await log.append(r1, { from: 'alice', text: 'one' });
      const m2 = await log.append(r1, { from: 'alice', text: 'two' });
      expect(m1.message.epoch).toBe(empty.epoch);
      expect(m2.message.epoch).toBe(empty.epoch);
      const other = await log.append(r2, { from: 'alice', text: 'elsewhere' });
      expect(other.message.seq).toBe(1);
      expect(other.message.epoch).not.toBe(empty.epoch);
      expect((await log.head(r1)).epoch).toBe(empty.epoch);
    });

    it('makes a resend with the same (room, from, cid) return the first result as a duplicate', async () => {
      const log = await use();
      const r = room();
      const first = await log.append(r, { from: 'alice', text: 'once', cid: 'c-1' });
      const again = await log.append(r, { from: 'alice', text: 'once (resent)', cid: 'c-1' });
      expect(again).toEqual({ message: first.message, duplicate: true });
      expect((await log.head(r)).seq).toBe(1);
      const page = await log.read(r, { limit: 10 });
      expect(page.messages.map((m) => m.text)).toEqual(['once']);
    });

    it('treats the same cid from another user or in another room as a new message', async () => {
      const log = await use();
      const [r1, r2] = [room(), room()];
      await log.append(r1, { from: 'alice', text: 'a', cid: 'same' });
      const bob = await log.append(r1, { from: 'bob', text: 'b', cid: 'same' });
      const elsewhere = await log.append(r2, { from: 'alice', text: 'c', cid: 'same' });
      expect(bob).toMatchObject({ duplicate: false, message: { seq: 2, from: 'bob', text: 'b' } });
      expect(elsewhere).toMatchObject({ duplicate: false, message: { seq: 1, room: r2, text: 'c' } });
    });

    it('stores racing resends of one cid once', async () => {
      const log = await use();
      const r = room();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => log.append(r, { from: 'alice', text: 'racy', cid: 'c-race' })),
      );
      expect(results.filter((x) => !x.duplicate)).toHaveLength(1);
      expect(new Set(results.map((x) => x.message.seq))).toEqual(new Set([1]));
      expect((await log.head(r)).seq).toBe(1);
    });

    it('forgets a cid after the idempotency window', async () => {
      const log = await use({ idempotencyTtlMs: 300 });
      const r = room();
      const first = await log.append(r, { from: 'alice', text: 'x', cid: 'c-1' });
      expect((await log.append(r, { from: 'alice', text: 'x', cid: 'c-1' })).duplicate).toBe(true);
      await sleep(700);
      const later = await log.append(r, { from: 'alice', text: 'x', cid: 'c-1' });
      expect(later.duplicate).toBe(false);
      expect(later.message.seq).toBe(first.message.seq + 1);
    });

    it('throws once closed', async () => {
      const log = await use();
      await log.close();
      await expect(log.append(room(), { from: 'alice', text: 'late' })).rejects.toThrow();
    });
  });
}

function readContract(use: UseRoomLog): void {
  describe('read', () => {
    const seqs = (p: { messages: { seq: number }[] }) => p.messages.map((m) => m.seq);

    it('reads an empty room as seq 0 with the epoch later messages share', async () => {
      const log = await use();
      const r = room();
      const page = await log.read(r, { limit: 50 });
      expect(page).toMatchObject({ seq: 0, messages: [], hasMore: false, oldest: 1 });
      const { message } = await log.append(r, { from: 'alice', text: 'first' });
      expect(message.epoch).toBe(page.epoch);
    });

    it('returns the latest `limit` by default, ascending, with hasMore when older ones exist', async () => {
      const log = await use();
      const r = room();
      await appendN(log, r, 12);
      const latest = await log.read(r, { limit: 5 });
      expect(seqs(latest)).toEqual([8, 9, 10, 11, 12]);
      expect(latest).toMatchObject({ seq: 12, hasMore: true, oldest: 1 });
      expect(latest.messages[0]).toMatchObject({ room: r, epoch: latest.epoch, from: 'alice', text: 'm8' });
      const all = await log.read(r, { limit: 50 });
      expect(seqs(all)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(all.hasMore).toBe(false);
    });

    it('reads after a position oldest first, with hasMore while newer ones remain', async () => {
      const log = await use();
      const r = room();
      await appendN(log, r, 10);
      const page = await log.read(r, { after: 3, limit: 4 });
      expect(seqs(page)).toEqual([4, 5, 6, 7]);
      expect(page.hasMore).toBe(true);
      const rest = await log.read(r, { after: 7, limit: 4 });
      expect(seqs(rest)).toEqual([8, 9, 10]);
      expect(rest.hasMore).toBe(false);
      expect(await log.read(r, { after: 10, limit: 4 })).toMatchObject({ messages: [], hasMore: false, seq: 10 });
    });

    it('reads before a position newest first, with hasMore while older ones remain', async () => {
      const log = await use();
      const r = room();
      await appendN(log, r, 10);
      const page = await log.read(r, { before: 8, limit: 3 });
      expect(seqs(page)).toEqual([5, 6, 7]);
      expect(page.hasMore).toBe(true);
      const first = await log.read(r, { before: 3, limit: 3 });
      expect(seqs(first)).toEqual([1, 2]);
      expect(first.hasMore).toBe(false);
      expect(seqs(await log.read(r, { before: 99, limit: 2 }))).toEqual([9, 10]);
      expect(await log.read(r, { before: 1, limit: 3 })).toMatchObject({ messages: [], hasMore: false });
    });

    it('reads a range between after and before', async () => {
      const log = await use();
      const r = room();
      await appendN(log, r, 10);
      const page = await log.read(r, { after: 2, before: 6, limit: 10 });
      expect(seqs(page)).toEqual([3, 4, 5]);
      expect(page.hasMore).toBe(false);
    });

    it('keeps at least the hot window and reports the oldest seq it still holds', async () => {
      const hotWindow = 10;
      const log = await use({ hotWindow });
      const r = room();
      let held = Number.POSITIVE_INFINITY;
      for (let i = 1; i <= 600; i++) {
        await log.append(r, { from: 'alice', text: `m${i}` });
        const { seq, oldest } = await log.read(r, { limit: 1 });
        held = Math.min(held, seq - oldest + 1 + Math.max(0, hotWindow - i));
      }
      expect(held).toBeGreaterThanOrEqual(hotWindow); // never fewer than the window, after any append
      const latest = await log.read(r, { limit: 5 });
      expect(latest.seq).toBe(600);
      expect(latest.oldest).toBeGreaterThan(1); // but trimmed
      const { oldest } = latest;
      // Catching up from before the window starts at the oldest held message: the gap is visible.
      const after = await log.read(r, { after: 1, limit: 3 });
      expect(seqs(after)).toEqual([oldest, oldest + 1, oldest + 2]);
      expect(after.hasMore).toBe(true);
      // Scrolling back ends at the oldest held message: nothing older is claimed.
      const back = await log.read(r, { before: oldest + 3, limit: 50 });
      expect(seqs(back)).toEqual([oldest, oldest + 1, oldest + 2]);
      expect(back.hasMore).toBe(false);
      expect(await log.read(r, { before: oldest, limit: 50 })).toMatchObject({ messages: [], hasMore: false });
      const all = await log.read(r, { after: 0, limit: 200 });
      expect(seqs(all)[0]).toBe(oldest);
      expect(seqs(all).every((s, i) => s === oldest + i)).toBe(true); // gapless
    });
  });

  describe('latest', () => {
    it("gives each room's last message and seq in the order asked, and seq 0 for a room never used", async () => {
      const log = await use({ hotWindow: 10 });
      const [busy, quiet, unused] = [room(), room(), room()];
      await appendN(log, busy, 25, 'bob');
      const only = await log.append(quiet, { from: 'carol', text: 'just one', cid: 'c1' });
      const latest = await log.latest([unused, busy, quiet, busy]);
      expect(latest.map((l) => l.seq)).toEqual([0, 25, 1, 25]);
      expect(latest[0]?.message).toBeUndefined();
      expect(latest[1]?.message).toMatchObject({ room: busy, seq: 25, from: 'bob', text: 'm25' });
      expect(latest[2]?.message).toEqual(only.message);
      expect(await log.latest([])).toEqual([]);
      // Asking did not create the unused room: its first message still starts at 1.
      expect((await log.append(unused, { from: 'alice', text: 'first' })).message.seq).toBe(1);
    });
  });
}
