/**
 * The `Presence` contract (src/presence/types.ts), run against every implementation. A new backend
 * only needs a `*.test.ts` that calls `presenceContract` with its factory. Names carry random
 * suffixes; expiry uses short real TTLs so that a backend with its own clock passes too.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnRef, Presence, Reaped } from '../../src/presence/types.ts';
import { Resources, sleep, uid } from './util.ts';

export type PresenceOptions = {
  /** A connection not refreshed for this long expires. */
  ttlMs: number;
  /** Wall clock; a backend with its own clock may ignore it. */
  now: () => number;
};

export type PresenceFactory = (opts: PresenceOptions) => Promise<{ presence: Presence; cleanup(): Promise<void> }>;

export function presenceContract(name: string, make: PresenceFactory): void {
  describe(`Presence contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use = async (opts: Partial<PresenceOptions> = {}) =>
      res.track(await make({ ttlMs: 60_000, now: Date.now, ...opts })).presence;
    const instance = uid('inst');
    const conn = (user: string): ConnRef => ({ id: uid('conn'), user, instance });

    it('reports the first connection of a user, not the second; users are independent', async () => {
      const p = await use();
      const [alice, bob] = [uid('alice'), uid('bob')];
      expect(await p.connect(conn(alice))).toEqual({ first: true });
      expect(await p.connect(conn(alice))).toEqual({ first: false });
      expect(await p.connect(conn(bob))).toEqual({ first: true });
      expect(await p.status(alice)).toMatchObject({ user: alice, status: 'online' });
    });

    it("counts a user's live connections, on any instance, and not those disconnected or expired", async () => {
      const p = await use({ ttlMs: 300 });
      const [alice, bob] = [uid('alice'), uid('bob')];
      expect(await p.connections(alice)).toBe(0);
      const c1 = conn(alice);
      const c2: ConnRef = { id: uid('conn'), user: alice, instance: uid('other-inst') };
      await p.connect(c1);
      await p.connect(c2);
      await p.connect(conn(bob));
      expect(await p.connections(alice)).toBe(2);
      await p.disconnect(c1);
      expect(await p.connections(alice)).toBe(1);
      await sleep(400); // c2 is not refreshed: expired, even before anyone reaps it
      expect(await p.connections(alice)).toBe(0);
    });

    it('admits connections up to the limit, counted with registering: many at once never pass it', async () => {
      const p = await use({ ttlMs: 300 });
      const [alice, bob] = [uid('alice'), uid('bob')];
      const first = conn(alice);
      expect(await p.admit(first, 3)).toEqual({ first: true });
      const tries = await Promise.all(Array.from({ length: 10 }, () => p.admit(conn(alice), 3)));
      expect(tries.filter((t) => t !== null)).toEqual([{ first: false }, { first: false }]);
      expect(await p.connections(alice)).toBe(3);
      expect(await p.admit(conn(bob), 3)).toEqual({ first: true });
      // Admitting an already registered connection again does not count it twice.
      expect(await p.admit(first, 3)).toEqual({ first: false });
      await p.disconnect(first);
      expect(await p.admit(conn(alice), 3)).toEqual({ first: false });
      expect(await p.admit(conn(alice), 3)).toBeNull();
      await sleep(400); // none refreshed: all expired, so there is room again
      expect(await p.admit(conn(alice), 3)).toEqual({ first: true });
    });

    it('bars a user from being admitted for a while, saying for how long, registering nothing, and no one else', async () => {
      const p = await use();
      const [alice, bob] = [uid('alice'), uid('bob')];
      await p.bar(alice, 400);
      const answer = await p.admit(conn(alice), 3);
      expect(answer).toEqual({ barredMs: expect.any(Number) });
      expect((answer as { barredMs: number }).barredMs).toBeGreaterThan(200);
      expect((answer as { barredMs: number }).barredMs).toBeLessThanOrEqual(400);
      expect(await p.connections(alice)).toBe(0);
      expect(await p.status(alice)).toMatchObject({ status: 'offline' });
      expect(await p.admit(conn(bob), 3)).toEqual({ first: true });
      await sleep(450);
      expect(await p.admit(conn(alice), 3)).toEqual({ first: true });
    });

    it('reports the last disconnect of a user, and then offline with that lastSeen', async () => {
      const p = await use();
      const alice = uid('alice');
      const [c1, c2] = [conn(alice), conn(alice)];
      await p.connect(c1);
      await p.connect(c2);
      const t0 = Date.now();
      expect((await p.disconnect(c1)).last).toBe(false);
      expect((await p.status(alice)).status).toBe('online');
      const gone = await p.disconnect(c2);
      expect(gone.last).toBe(true);
      expect(gone.lastSeen).toBeGreaterThanOrEqual(t0 - 1000);
      expect(gone.lastSeen).toBeLessThanOrEqual(Date.now() + 1000);
      expect(await p.status(alice)).toEqual({ user: alice, status: 'offline', lastSeen: gone.lastSeen });
      // Coming back is a new first connection.
      expect(await p.connect(conn(alice))).toEqual({ first: true });
      expect((await p.status(alice)).status).toBe('online');
    });

    it('makes disconnect idempotent: a repeat announces nothing and changes nothing', async () => {
      const p = await use();
      const alice = uid('alice');
      const c = conn(alice);
      await p.connect(c);
      const gone = await p.disconnect(c);
      expect(gone.last).toBe(true);
      expect((await p.disconnect(c)).last).toBe(false);
      expect(await p.status(alice)).toEqual({ user: alice, status: 'offline', lastSeen: gone.lastSeen });
      expect((await p.disconnect(conn(uid('nobody')))).last).toBe(false);
    });

    it('does not bring a disconnected connection back with refresh', async () => {
      const p = await use();
      const alice = uid('alice');
      const c = conn(alice);
      await p.connect(c);
      await p.disconnect(c);
      const other = conn(uid('bob'));
      await p.connect(other);
      // It answers the connections it does not know, for the caller to register again if still open.
      expect(await p.refresh([c, other])).toEqual([c]);
      expect((await p.status(alice)).status).toBe('offline');
    });

    it('reports an unknown user as offline without lastSeen', async () => {
      const p = await use();
      const ghost = uid('ghost');
      const s = await p.status(ghost);
      expect(s).toMatchObject({ user: ghost, status: 'offline' });
      expect(s.lastSeen).toBeUndefined();
    });

    it('reports the first join and the last leave of a user in a room', async () => {
      const p = await use();
      const [alice, room] = [uid('alice'), uid('room')];
      const [c1, c2] = [conn(alice), conn(alice)];
      await p.connect(c1);
      await p.connect(c2);
      expect(await p.join(room, c1)).toEqual({ first: true });
      expect(await p.join(room, c2)).toEqual({ first: false });
      expect(await p.leave(room, c1)).toEqual({ last: false });
      expect(await p.members(room)).toEqual([{ user: alice, status: 'online' }]);
      expect(await p.leave(room, c2)).toEqual({ last: true });
      expect(await p.leave(room, c2)).toEqual({ last: false }); // announced once
      expect(await p.members(room)).toEqual([]);
    });

    it('lists a room\'s members online and sorted by name, once per user', async () => {
      const p = await use();
      const room = uid('room');
      const tag = uid('u');
      const [carol, alice, bob] = [`${tag}-carol`, `${tag}-alice`, `${tag}-bob`];
      for (const user of [carol, alice, bob, alice]) {
        const c = conn(user);
        await p.connect(c);
        await p.join(room, c);
      }
      const outsider = conn(`${tag}-dave`);
      await p.connect(outsider);
      await p.join(uid('room'), outsider);
      expect(await p.members(room)).toEqual([alice, bob, carol].map((user) => ({ user, status: 'online' })));
      expect(await p.members(uid('empty'))).toEqual([]);
    });

    it('removes a connection\'s room memberships when it disconnects', async () => {
      const p = await use();
      const [alice, r1, r2] = [uid('alice'), uid('room'), uid('room')];
      const [c1, c2] = [conn(alice), conn(alice)];
      await p.connect(c1);
      await p.connect(c2);
      await p.join(r1, c1);
      await p.join(r2, c1);
      await p.join(r1, c2);
      await p.disconnect(c1);
      expect(await p.members(r1)).toEqual([{ user: alice, status: 'online' }]);
      expect(await p.members(r2)).toEqual([]);
      await p.disconnect(c2);
      expect(await p.members(r1)).toEqual([]);
    });

    describe('expiry', () => {
      const ttlMs = 400;
      const mine = (all: Reaped[], conns: ConnRef[]) =>
        all.filter((r) => conns.some((c) => c.id === r.conn.id)).sort((a, b) => a.conn.id.localeCompare(b.conn.id));

      it('keeps refreshed connections, and reaps the others once with their transitions', async () => {
        const p = await use({ ttlMs });
        const [alice, bob, x, y] = [uid('alice'), uid('bob'), uid('room'), uid('room')];
        const [a1, a2, b1] = [conn(alice), conn(alice), conn(bob)];
        const t0 = Date.now();
        for (const c of [a1, a2, b1]) await p.connect(c);
        await p.join(x, a1);
        await p.join(y, a1);
        await p.join(x, a2);
        await p.join(x, b1);
        // a1 stops refreshing (its instance died); a2 and b1 keep going for twice the TTL.
        for (let i = 0; i < 8; i++) {
          await sleep(ttlMs / 4);
          await p.refresh([a2, b1]);
        }
        const firstRound = mine(await p.reap(), [a1, a2, b1]);
        expect(firstRound).toHaveLength(1);
        expect(firstRound[0]).toMatchObject({ conn: a1, leftRooms: [y], offline: false });
        expect(await p.status(alice)).toMatchObject({ status: 'online' });
        expect((await p.members(x)).map((m) => m.user)).toEqual([alice, bob].sort());
        expect(await p.members(y)).toEqual([]);

        await sleep(ttlMs * 2);
        const reapedAt = Date.now();
        // Two reapers at once (two instances): each connection is reported exactly once.
        const [r1, r2] = await Promise.all([p.reap(), p.reap()]);
        const second = mine([...r1, ...r2], [a1, a2, b1]);
        expect(second.map((r) => r.conn.id)).toEqual([a2.id, b1.id].sort());
        for (const r of second) {
          expect(r).toMatchObject({ leftRooms: [x], offline: true });
          expect(r.lastSeen).toBeGreaterThanOrEqual(t0);
          expect(r.lastSeen).toBeLessThanOrEqual(reapedAt);
        }
        const a2Reaped = second.find((r) => r.conn.id === a2.id);
        expect(await p.status(alice)).toEqual({ user: alice, status: 'offline', lastSeen: a2Reaped?.lastSeen });
        expect(await p.members(x)).toEqual([]);
        expect(mine(await p.reap(), [a1, a2, b1])).toEqual([]);
      });
    });
  });
}
