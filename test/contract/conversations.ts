/**
 * The `Conversations` contract (src/conversations/types.ts), run against every implementation. A new
 * backend only needs a `*.test.ts` that calls `conversationsContract` with its factory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Conversations } from '../../src/conversations/types.ts';
import { Resources, uid } from './util.ts';

export type ConversationsFactory = () => Promise<{ conversations: Conversations; cleanup(): Promise<void> }>;

export function conversationsContract(name: string, make: ConversationsFactory): void {
  describe(`Conversations contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use = async () => res.track(await make()).conversations;

    it('lists a user\'s rooms most recently added first', async () => {
      const c = await use();
      const user = uid('alice');
      const [r1, r2, r3] = [uid('room'), uid('room'), uid('room')];
      for (const r of [r1, r2, r3]) await c.add(user, r);
      expect(await c.list(user, 10)).toEqual([r3, r2, r1]);
      // Taking part again makes a room the most recent.
      await c.add(user, r1);
      expect(await c.list(user, 10)).toEqual([r1, r3, r2]);
    });

    it('is idempotent: adding a room twice lists it once', async () => {
      const c = await use();
      const user = uid('alice');
      const r = uid('room');
      await c.add(user, r);
      await c.add(user, r);
      await Promise.all([c.add(user, r), c.add(user, r)]);
      expect(await c.list(user, 10)).toEqual([r]);
    });

    it('returns at most `limit` rooms, the most recent ones', async () => {
      const c = await use();
      const user = uid('alice');
      const rooms = Array.from({ length: 5 }, () => uid('room'));
      for (const r of rooms) await c.add(user, r);
      expect(await c.list(user, 2)).toEqual([rooms[4], rooms[3]]);
      expect(await c.list(user, 1)).toEqual([rooms[4]]);
    });

    it('forgets a removed room, for that user only, idempotently', async () => {
      const c = await use();
      const [alice, bob] = [uid('alice'), uid('bob')];
      const [r1, r2] = [uid('room'), uid('room')];
      await c.add(alice, r1);
      await c.add(alice, r2);
      await c.add(bob, r1);
      await c.remove(alice, r1);
      await c.remove(alice, r1);
      await c.remove(uid('nobody'), r1);
      expect(await c.list(alice, 10)).toEqual([r2]);
      expect(await c.list(bob, 10)).toEqual([r1]);
      await c.add(alice, r1);
      expect(await c.list(alice, 10)).toEqual([r1, r2]);
    });

    it('keeps users apart, and lists nothing for a user without rooms', async () => {
      const c = await use();
      const [alice, bob] = [uid('alice'), uid('bob')];
      const [shared, own] = [uid('room'), uid('room')];
      await c.add(alice, shared);
      await c.add(alice, own);
      await c.add(bob, shared);
      expect(await c.list(bob, 10)).toEqual([shared]);
      expect(await c.list(alice, 10)).toEqual([own, shared]);
      expect(await c.list(uid('nobody'), 10)).toEqual([]);
    });
  });
}
