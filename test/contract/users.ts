/**
 * The `UserStore` contract (src/users/types.ts), run against every implementation. A new backend
 * only needs a `*.test.ts` that calls `userStoreContract` with its factory. User names carry random
 * suffixes, so no test assumes an empty store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { UserState, UserStore, UserTransition } from '../../src/users/types.ts';
import { Resources, uid } from './util.ts';

export type UserStoreFactory = () => Promise<{ store: UserStore; cleanup(): Promise<void> }>;

/** Epoch ms well in the past, distinct per call, so tests never depend on the wall clock. */
const baseTime = () => 1_700_000_000_000 + Math.floor(Math.random() * 1_000_000) * 1000;

const state = (t: UserTransition): UserState => ({ user: t.user, status: t.status, lastSeen: t.at, updatedAt: t.at });

function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

async function getAll(store: UserStore, users: readonly string[]): Promise<(UserState | null)[]> {
  return Promise.all(users.map((u) => store.get(u)));
}

/** For the tests that write hundreds of documents: a real backend may take seconds (FerretDB: ~10 s). */
const SLOW = 60_000;

export type UserStoreTraits = {
  /**
   * Whether concurrent writers to one user are safe (MongoDB: each guarded update is atomic per
   * document). FerretDB v1 evaluates the filter and writes in separate steps, so concurrent guarded
   * updates of one document can lose the newest; the presence worker never writes one user from
   * two places at once (one worker per stream partition), and these tests are skipped there.
   */
  concurrentWriters: boolean;
};

export function userStoreContract(name: string, make: UserStoreFactory, traits: UserStoreTraits = { concurrentWriters: true }): void {
  describe(`UserStore contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use = async () => res.track(await make()).store;

    it('answers null for a user never seen, and changes nothing for an empty batch', async () => {
      const s = await use();
      const ghost = uid('ghost');
      expect(await s.get(ghost)).toBeNull();
      await s.apply([]);
      expect(await s.get(ghost)).toBeNull();
    });

    it('reads many users in one call, in the order asked, null for those never seen', async () => {
      const s = await use();
      const t0 = baseTime();
      const [amy, bob, ghost] = [uid('amy'), uid('bob'), uid('ghost')];
      await s.apply([{ user: amy, status: 'online', at: t0 }, { user: bob, status: 'offline', at: t0 + 1 }]);
      expect(await s.getMany([bob, ghost, amy, bob])).toEqual([
        { user: bob, status: 'offline', lastSeen: t0 + 1, updatedAt: t0 + 1 },
        null,
        { user: amy, status: 'online', lastSeen: t0, updatedAt: t0 },
        { user: bob, status: 'offline', lastSeen: t0 + 1, updatedAt: t0 + 1 },
      ]);
      expect(await s.getMany([])).toEqual([]);
    });

    it('stores online, then offline: status, lastSeen and updatedAt are the transition’s', async () => {
      const s = await use();
      const alice = uid('alice');
      const t0 = baseTime();
      await s.apply([{ user: alice, status: 'online', at: t0 }]);
      expect(await s.get(alice)).toEqual({ user: alice, status: 'online', lastSeen: t0, updatedAt: t0 });
      await s.apply([{ user: alice, status: 'offline', at: t0 + 5000 }]);
      expect(await s.get(alice)).toEqual({ user: alice, status: 'offline', lastSeen: t0 + 5000, updatedAt: t0 + 5000 });
      await s.apply([{ user: alice, status: 'online', at: t0 + 9000 }]);
      expect(await s.get(alice)).toEqual({ user: alice, status: 'online', lastSeen: t0 + 9000, updatedAt: t0 + 9000 });
    });

    it('ignores a transition older than the stored state', async () => {
      const s = await use();
      const [alice, bob] = [uid('alice'), uid('bob')];
      const t0 = baseTime();
      await s.apply([{ user: alice, status: 'offline', at: t0 + 1000 }]);
      await s.apply([{ user: alice, status: 'online', at: t0 }]);
      expect(await s.get(alice)).toEqual({ user: alice, status: 'offline', lastSeen: t0 + 1000, updatedAt: t0 + 1000 });
      // Older by one millisecond, same status as the stored one: still nothing.
      await s.apply([{ user: bob, status: 'online', at: t0 + 1000 }]);
      await s.apply([{ user: bob, status: 'online', at: t0 + 999 }]);
      expect(await s.get(bob)).toEqual({ user: bob, status: 'online', lastSeen: t0 + 1000, updatedAt: t0 + 1000 });
    });

    it('ignores a duplicate, also one arriving after a newer transition', async () => {
      const s = await use();
      const alice = uid('alice');
      const t0 = baseTime();
      const online: UserTransition = { user: alice, status: 'online', at: t0 };
      const offline: UserTransition = { user: alice, status: 'offline', at: t0 + 1 };
      await s.apply([online]);
      await s.apply([online]);
      expect(await s.get(alice)).toEqual(state(online));
      await s.apply([offline]);
      await s.apply([online]);
      await s.apply([offline]);
      expect(await s.get(alice)).toEqual(state(offline));
    });

    it('ignores a transition at the same time as the stored state, whatever its status', async () => {
      const s = await use();
      const [alice, bob] = [uid('alice'), uid('bob')];
      const t0 = baseTime();
      await s.apply([{ user: alice, status: 'online', at: t0 }]);
      await s.apply([{ user: alice, status: 'offline', at: t0 }]);
      expect(await s.get(alice)).toEqual({ user: alice, status: 'online', lastSeen: t0, updatedAt: t0 });
      await s.apply([{ user: bob, status: 'offline', at: t0 }]);
      await s.apply([{ user: bob, status: 'online', at: t0 }]);
      expect(await s.get(bob)).toEqual({ user: bob, status: 'offline', lastSeen: t0, updatedAt: t0 });
    });

    it('keeps users apart', async () => {
      const s = await use();
      const base = uid('user');
      // A name that is a prefix of another, and names with characters a query language might interpret.
      const users = [base, `${base}-b`, `${base}.*`, `${base}$`, `${base}:dm`];
      const t0 = baseTime();
      await s.apply(users.map((user, i) => ({ user, status: i % 2 ? 'offline' : 'online', at: t0 + i })));
      expect(await getAll(s, users)).toEqual(users.map((user, i) => state({ user, status: i % 2 ? 'offline' : 'online', at: t0 + i })));
      await s.apply([{ user: base, status: 'offline', at: t0 + 100 }]);
      expect(await s.get(base)).toEqual({ user: base, status: 'offline', lastSeen: t0 + 100, updatedAt: t0 + 100 });
      expect(await s.get(`${base}-b`)).toEqual(state({ user: `${base}-b`, status: 'offline', at: t0 + 1 }));
      expect(await s.get(`${base}.*`)).toEqual(state({ user: `${base}.*`, status: 'online', at: t0 + 2 }));
    });

    it('does not let the caller change the stored state through a returned object', async () => {
      const s = await use();
      const alice = uid('alice');
      const t0 = baseTime();
      await s.apply([{ user: alice, status: 'online', at: t0 }]);
      const got = await s.get(alice);
      got!.status = 'offline';
      got!.updatedAt = t0 + 1;
      expect(await s.get(alice)).toEqual({ user: alice, status: 'online', lastSeen: t0, updatedAt: t0 });
    });

    it('applies 300 users in one call (more than one chunk of a batching backend)', async () => {
      const s = await use();
      const t0 = baseTime();
      const prefix = uid('many');
      const first = Array.from({ length: 300 }, (_, i): UserTransition => ({
        user: `${prefix}-${i}`,
        status: i % 3 === 0 ? 'offline' : 'online',
        at: t0 + i,
      }));
      await s.apply(first);
      expect(await getAll(s, first.map((t) => t.user))).toEqual(first.map(state));

      // All 300 again, now stored: even ones newer, odd ones older; the odd ones must stay.
      const second = first.map((t, i): UserTransition => ({
        user: t.user,
        status: t.status === 'online' ? 'offline' : 'online',
        at: i % 2 === 0 ? t.at + 10_000 : t.at - 10_000,
      }));
      await s.apply(shuffle(second));
      expect(await getAll(s, first.map((t) => t.user))).toEqual(first.map((t, i) => state(i % 2 === 0 ? second[i]! : t)));

      // And once more exactly the same: nothing changes.
      await s.apply(second);
      expect(await getAll(s, first.map((t) => t.user))).toEqual(first.map((t, i) => state(i % 2 === 0 ? second[i]! : t)));
    }, SLOW);

    it('applies one call mixing users stored (newer and older transitions) and users never seen', async () => {
      const s = await use();
      const t0 = baseTime();
      const prefix = uid('mixed');
      const stored = Array.from({ length: 120 }, (_, i): UserTransition => ({ user: `${prefix}-old-${i}`, status: 'online', at: t0 }));
      await s.apply(stored);
      const batch: UserTransition[] = [];
      const expected = new Map<string, UserState>();
      for (const [i, t] of stored.entries()) {
        // Every third stored user gets a newer transition, every third an older, every third an equal one.
        const at = [t0 + 1000, t0 - 1000, t0][i % 3]!;
        const next: UserTransition = { user: t.user, status: 'offline', at };
        batch.push(next);
        expected.set(t.user, state(i % 3 === 0 ? next : t));
      }
      for (let i = 0; i < 120; i++) {
        const fresh: UserTransition = { user: `${prefix}-new-${i}`, status: i % 2 ? 'online' : 'offline', at: t0 + i };
        batch.push(fresh);
        expected.set(fresh.user, state(fresh));
      }
      await s.apply(shuffle(batch));
      const users = [...expected.keys()];
      expect(await getAll(s, users)).toEqual(users.map((u) => expected.get(u)));
    }, SLOW);

    it.skipIf(!traits.concurrentWriters)('ends at the newest state when out-of-order transitions for the same users are applied concurrently', async () => {
      const s = await use();
      const t0 = baseTime();
      const prefix = uid('race');
      const users = Array.from({ length: 10 }, (_, i) => `${prefix}-${i}`);
      const newest = new Map<string, UserTransition>();
      const calls: UserTransition[] = [];
      for (const user of users) {
        for (let k = 0; k < 20; k++) {
          const t: UserTransition = { user, status: k % 2 ? 'offline' : 'online', at: t0 + k * 100 };
          calls.push(t);
          if (!newest.has(user) || newest.get(user)!.at < t.at) newest.set(user, t);
        }
      }
      // 200 single-transition calls in flight at once, in random order, so new users are inserted
      // by competing writers and late arrivals race newer ones.
      await Promise.all(shuffle(calls).map((t) => s.apply([t])));
      expect(await getAll(s, users)).toEqual(users.map((u) => state(newest.get(u)!)));
    }, SLOW);

    it.skipIf(!traits.concurrentWriters)('ends at the newest state when concurrent batches overlap on the same users', async () => {
      const s = await use();
      const t0 = baseTime();
      const prefix = uid('overlap');
      const users = Array.from({ length: 60 }, (_, i) => `${prefix}-${i}`);
      // Ten batches, each covering every user at a different time, all in flight at once.
      const batches = shuffle(Array.from({ length: 10 }, (_, k) => k)).map((k) =>
        shuffle(users.map((user): UserTransition => ({ user, status: k % 2 ? 'offline' : 'online', at: t0 + k * 10 }))),
      );
      await Promise.all(batches.map((b) => s.apply(b)));
      expect(await getAll(s, users)).toEqual(users.map((user) => state({ user, status: 'offline', at: t0 + 90 })));
    }, SLOW);
  });
}
