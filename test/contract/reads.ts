/**
 * The `ReadState` contract (src/reads/types.ts), run against every implementation together with the
 * room log it shares the rooms' head and index with. A new backend only needs a `*.test.ts` that
 * calls `readStateContract` with its factory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type IndexWindows, type ReadEvent, type ReadState, UNREAD_WINDOW } from '../../src/reads/types.ts';
import type { RoomEvent, RoomLog } from '../../src/rooms/types.ts';
import { Resources, sleep, uid, waitFor } from './util.ts';

type Made = { reads: ReadState; log: RoomLog; cleanup(): Promise<void> };
/**
 * Makes a store and its room log; with `peerOf`, another instance's view of the same backend (a
 * second connection to the cluster; the same stores in memory). `windows`: the unread indexes'
 * windows to give both, lowered to go past them in a few hundred entries.
 */
export type ReadStateFactory = (peerOf?: Made, windows?: IndexWindows) => Promise<Made>;

const PUBLIC = { receipts: false };
const RECEIPTS = { receipts: true };

export function readStateContract(name: string, make: ReadStateFactory): void {
  describe(`ReadState contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use = async (peerOf?: Made, windows?: IndexWindows) => res.track(await make(peerOf, windows));
    /** `unread` without the rooms' last messages (checked on their own below). */
    const countsOf = async (reads: ReadState, user: string, rooms: string[]) => (await reads.unread(user, rooms)).map(({ lastRead, unread }) => ({ lastRead, unread }));
    const post = async (log: RoomLog, room: string, from: string, n = 1) => {
      for (let i = 0; i < n; i++) await log.append(room, { from, text: `m${i}` });
    };

    it('a read position never moves backwards and is clamped to the latest message', async () => {
      const { reads, log } = await use();
      const [room, alice] = [uid('room'), uid('alice')];
      expect(await reads.mark(alice, room, 3, PUBLIC)).toEqual({ seq: 0, moved: false }); // no message yet
      await post(log, room, 'bob', 5);
      expect(await reads.mark(alice, room, 3, PUBLIC)).toEqual({ seq: 3, moved: true });
      expect(await reads.mark(alice, room, 2, PUBLIC)).toEqual({ seq: 3, moved: false });
      expect(await reads.mark(alice, room, 3, PUBLIC)).toEqual({ seq: 3, moved: false });
      expect(await reads.mark(alice, room, 99, PUBLIC)).toEqual({ seq: 5, moved: true });
      expect(await reads.positions(room, [alice, 'bob'])).toEqual([5, null]);
    });

    it('counts the other users\' messages after the position, not the user\'s own', async () => {
      const { reads, log } = await use();
      const [room, alice, bob] = [uid('room'), uid('alice'), uid('bob')];
      await post(log, room, bob, 3);
      await post(log, room, alice, 2);
      await post(log, room, bob, 1);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: null, unread: 4 }]);
      expect(await countsOf(reads, bob, [room])).toEqual([{ lastRead: null, unread: 2 }]);
      await reads.mark(alice, room, 2, PUBLIC);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 2, unread: 2 }]);
      await reads.mark(alice, room, 5, PUBLIC);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 5, unread: 1 }]);
      await reads.mark(alice, room, 6, PUBLIC);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 6, unread: 0 }]);
    });

    it('matches a brute-force count of the log under interleaved posts and reads', async () => {
      const { reads, log } = await use();
      const room = uid('room');
      const users = [uid('a'), uid('b'), uid('c')];
      const authors: string[] = [];
      const position = new Map<string, number>();
      let seed = 7;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
      for (let step = 0; step < 240; step++) {
        const who = users[rand(3)] as string;
        if (rand(4) > 0) {
          await log.append(room, { from: who, text: 'x' });
          authors.push(who);
        } else {
          const seq = rand(authors.length + 3);
          await reads.mark(who, room, seq, PUBLIC);
          position.set(who, Math.max(position.get(who) ?? 0, Math.min(seq, authors.length)));
        }
      }
      const counts = await Promise.all(users.map((u) => countsOf(reads, u, [room])));
      users.forEach((u, i) => {
        const last = position.get(u) ?? 0;
        const brute = authors.filter((from, j) => j + 1 > last && from !== u).length;
        expect(counts[i]?.[0]?.unread, `unread of user ${i}`).toBe(brute);
      });
    });

    it('counts no edit, delete or reaction, nor a deleted message, against a brute-force count', async () => {
      const { reads, log } = await use();
      const room = uid('room');
      const users = [uid('a'), uid('b'), uid('c')];
      /** Per seq: the author of a live text message, or null for anything else. */
      const texts: (string | null)[] = [];
      const position = new Map<string, number>();
      let seed = 11;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
      for (let step = 0; step < 240; step++) {
        const who = users[rand(3)] as string;
        const roll = rand(10);
        const live = texts.flatMap((from, i) => (from === null ? [] : [{ seq: i + 1, from }]));
        const target = live[rand(Math.max(1, live.length))];
        if (roll < 4 || !target) {
          await log.append(room, { from: who, text: 'x' });
          texts.push(who);
        } else if (roll < 6) {
          const r = await log.change(room, { kind: 'reaction', target: target.seq, emoji: rand(2) ? '👍' : '🎉', on: rand(3) > 0, from: who });
          if (r.outcome === 'appended') texts.push(null);
        } else if (roll < 7) {
          await log.change(room, { kind: 'edit', target: target.seq, text: 'y', from: target.from });
          texts.push(null);
        } else if (roll < 8) {
          await log.change(room, { kind: 'delete', target: target.seq, from: target.from });
          texts[target.seq - 1] = null;
          texts.push(null);
        } else {
          const seq = rand(texts.length + 3);
          await reads.mark(who, room, seq, PUBLIC);
          position.set(who, Math.max(position.get(who) ?? 0, Math.min(seq, texts.length)));
        }
      }
      const counts = await Promise.all(users.map((u) => countsOf(reads, u, [room])));
      users.forEach((u, i) => {
        const last = position.get(u) ?? 0;
        const brute = texts.filter((from, j) => j + 1 > last && from !== null && from !== u).length;
        expect(counts[i]?.[0]?.unread, `unread of user ${i}`).toBe(brute);
      });
    });

    it('stays exact after more of the user\'s own messages than the window: 5, not 1000', async () => {
      const { reads, log } = await use(undefined, { own: 20, uncounted: 20 });
      const [room, alice, bob] = [uid('room'), uid('alice'), uid('bob')];
      await post(log, room, bob, 3); // 1..3
      await post(log, room, alice, 300); // 4..303: all but the last 20 leave alice's index
      await post(log, room, bob, 2); // 304, 305
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: null, unread: 5 }]);
      await reads.mark(alice, room, 2, PUBLIC);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 2, unread: 3 }]);
      await reads.mark(alice, room, 150, PUBLIC); // among alice's own messages
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 150, unread: 2 }]);
      // Deleting one of hers that left the index, and one of bob's, after the position.
      await log.change(room, { kind: 'delete', target: 200, from: alice });
      await log.change(room, { kind: 'delete', target: 304, from: bob });
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 150, unread: 1 }]);
      await post(log, room, alice, 100); // 308..407: more leave the index, past her position now
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 150, unread: 1 }]);
      expect(await countsOf(reads, bob, [room])).toEqual([{ lastRead: null, unread: 399 }]);
      // Far ahead: what her index sheds while most of it, then all of it, lies at or below her position.
      await post(log, room, alice, 600); // 408..1007 (the deletes took 306 and 307)
      await reads.mark(alice, room, 900, PUBLIC);
      await post(log, room, alice, 100); // 1008..1107
      await post(log, room, bob, 1); // 1108
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 900, unread: 1 }]);
      await reads.mark(alice, room, 1108, PUBLIC);
      await post(log, room, alice, 100);
      await post(log, room, bob, 2);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 1108, unread: 2 }]);
    });

    it('stays exact after more edits, deletes and reactions than the window: 5, not 1000', async () => {
      const { reads, log } = await use(undefined, { own: 20, uncounted: 20 });
      const [room, alice, bob, carol] = [uid('room'), uid('alice'), uid('bob'), uid('carol')];
      await post(log, room, bob, 1);
      for (let i = 0; i < 300; i++) await log.change(room, { kind: 'reaction', target: 1, emoji: '👍', on: i % 2 === 0, from: carol });
      await post(log, room, bob, 4);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: null, unread: 5 }]);
      await reads.mark(alice, room, 100, PUBLIC);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 100, unread: 4 }]);
      await log.change(room, { kind: 'delete', target: 302, from: bob });
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: 100, unread: 3 }]);
      expect(await countsOf(reads, carol, [room])).toEqual([{ lastRead: null, unread: 4 }]);
    });

    it(`stays exact past the real window of ${UNREAD_WINDOW} own messages`, async () => {
      const { reads, log } = await use();
      const [room, alice] = [uid('room'), uid('alice')];
      await post(log, room, 'bob', 2);
      await Promise.all(Array.from({ length: UNREAD_WINDOW + 100 }, (_, i) => log.append(room, { from: alice, text: `m${i}` })));
      await post(log, room, 'bob', 3);
      expect(await countsOf(reads, alice, [room])).toEqual([{ lastRead: null, unread: 5 }]);
    });

    it('matches a brute-force count past both windows, with positions anywhere', async () => {
      const { reads, log } = await use(undefined, { own: 4, uncounted: 6 });
      const room = uid('room');
      const users = [uid('heavy'), uid('b'), uid('c')];
      const texts: (string | null)[] = [];
      const position = new Map<string, number>();
      let seed = 5;
      const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
      const check = async () => {
        for (const u of users) {
          const last = position.get(u) ?? 0;
          const brute = Math.min(1000, texts.filter((from, j) => j + 1 > last && from !== null && from !== u).length);
          expect((await countsOf(reads, u, [room]))[0]?.unread, `unread of ${u} after ${texts.length}`).toBe(brute);
        }
      };
      for (let step = 0; step < 700; step++) {
        const roll = rand(20);
        const who = (roll < 9 ? users[0] : users[1 + rand(2)]) as string;
        const live = texts.flatMap((from, i) => (from === null ? [] : [{ seq: i + 1, from }]));
        const target = live[rand(Math.max(1, live.length))];
        if (roll < 12 || !target) {
          await log.append(room, { from: who, text: 'x' });
          texts.push(who);
        } else if (roll < 16) {
          const r = await log.change(room, { kind: 'reaction', target: target.seq, emoji: '👍', on: rand(2) > 0, from: who });
          if (r.outcome === 'appended') texts.push(null);
        } else if (roll < 18) {
          await log.change(room, { kind: 'delete', target: target.seq, from: target.from });
          texts[target.seq - 1] = null;
          texts.push(null);
        } else {
          const seq = rand(texts.length + 1);
          await reads.mark(who, room, seq, PUBLIC);
          position.set(who, Math.max(position.get(who) ?? 0, Math.min(seq, texts.length)));
        }
        if (step % 100 === 99) await check();
      }
      await check();
    });

    it('says 1000 beyond 1000 unread messages', async () => {
      const { reads, log } = await use();
      const [room, alice] = [uid('room'), uid('alice')];
      await Promise.all(Array.from({ length: 1003 }, (_, i) => log.append(room, { from: 'bob', text: `m${i}` })));
      expect((await countsOf(reads, alice, [room]))[0]?.unread).toBe(1000);
      await reads.mark(alice, room, 4, PUBLIC);
      expect((await countsOf(reads, alice, [room]))[0]?.unread).toBe(999);
    });

    it('answers many rooms in one call, in the order asked, rooms without messages included', async () => {
      const { reads, log } = await use();
      const alice = uid('alice');
      const rooms = Array.from({ length: 30 }, () => uid('room'));
      await Promise.all(rooms.map((r, i) => post(log, r, 'bob', i % 4)));
      await reads.mark(alice, rooms[3] as string, 1, PUBLIC);
      const counts = await countsOf(reads, alice, [...rooms, uid('never')]);
      expect(counts).toHaveLength(31);
      rooms.forEach((_, i) => expect(counts[i]).toEqual(i === 3 ? { lastRead: 1, unread: 2 } : { lastRead: null, unread: i % 4 }));
      expect(counts[30]).toEqual({ lastRead: null, unread: 0 });
    });

    it('answers each room\'s latest seq and last message as the room log does', async () => {
      const { reads, log } = await use();
      const rooms = [uid('room'), uid('room'), uid('room')];
      await post(log, rooms[0] as string, 'bob', 3);
      await post(log, rooms[1] as string, 'carol', 1);
      const asked = [...rooms, uid('never')];
      expect((await reads.unread(uid('alice'), asked)).map((c) => c.latest)).toEqual(await log.latest(asked));
      expect((await reads.unread('bob', [rooms[0] as string]))[0]?.latest).toMatchObject({ seq: 3, message: { seq: 3, from: 'bob', text: 'm2' } });
    });

    it('tells the user\'s watchers on every instance of each move, and of nothing else', async () => {
      const a = await use();
      const b = await use(a);
      const [room, alice] = [uid('room'), uid('alice')];
      const seenA: ReadEvent[] = [];
      const seenB: ReadEvent[] = [];
      const stopA = await a.reads.watch(alice, (e) => void seenA.push(e));
      const stopB = await b.reads.watch(alice, (e) => void seenB.push(e));
      const others: ReadEvent[] = [];
      const stopOther = await b.reads.watch(uid('carol'), (e) => void others.push(e));
      await post(a.log, room, 'bob', 4);
      await a.reads.mark(alice, room, 2, PUBLIC);
      await a.reads.mark(alice, room, 1, PUBLIC); // behind: no event
      await a.reads.mark(alice, room, 4, PUBLIC);
      await waitFor(() => seenA.length >= 2 && seenB.length >= 2, 'both moves on both instances');
      await sleep(50);
      const expected = [{ room, user: alice, seq: 2 }, { room, user: alice, seq: 4 }];
      expect(seenA).toEqual(expected);
      expect(seenB).toEqual(expected);
      expect(others).toEqual([]);
      await stopB();
      await a.reads.mark(alice, room, 4, PUBLIC);
      await stopA();
      await stopOther();
    });

    it('publishes a receipt on the room\'s channel only when asked, ordered with the messages', async () => {
      const { reads, log } = await use();
      const [room, alice] = [uid('room'), uid('alice')];
      const events: RoomEvent[] = [];
      const stop = await log.subscribe(room, (e) => void events.push(e));
      await post(log, room, 'bob', 2);
      await reads.mark(alice, room, 1, PUBLIC);
      await reads.mark(alice, room, 2, RECEIPTS);
      await post(log, room, 'bob', 1);
      await waitFor(() => events.length >= 4, 'two messages, a receipt and a message');
      await sleep(30);
      expect(events.map((e) => (e.type === 'message' ? e.message.seq : e))).toEqual([1, 2, { type: 'read', room, user: alice, seq: 2 }, 3]);
      await stop();
    });

    it('seeds only positions it does not hold, and remembers that there is none', async () => {
      const { reads, log } = await use();
      const [room, alice, bob] = [uid('room'), uid('alice'), uid('bob')];
      await post(log, room, 'carol', 5);
      await reads.mark(alice, room, 4, PUBLIC);
      await reads.seed([{ user: alice, room, seq: 2 }, { user: bob, room, seq: 3 }, { user: 'dave', room, seq: 0 }]);
      expect(await reads.positions(room, [alice, bob, 'dave', 'erin'])).toEqual([4, 3, 0, null]);
      expect(await countsOf(reads, bob, [room])).toEqual([{ lastRead: 3, unread: 2 }]);
      expect(await countsOf(reads, 'dave', [room])).toEqual([{ lastRead: 0, unread: 5 }]);
      expect(await reads.mark(bob, room, 5, PUBLIC)).toEqual({ seq: 5, moved: true });
    });
  });
}
