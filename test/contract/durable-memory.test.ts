/** The durable seam contracts (`UserStore`, `Archive`) against the embedded memory implementations. */
import { describe, expect, it } from 'vitest';
import { MemoryArchive } from '../../src/archive/memory.ts';
import type { Message } from '@parley/client/wire';
import { MemoryUserStore } from '../../src/users/memory.ts';
import { archiveContract } from './archive.ts';
import { userStoreContract } from './users.ts';

userStoreContract('memory', async () => {
  const store = new MemoryUserStore();
  return { store, cleanup: () => store.close() };
});

archiveContract('memory', async () => {
  const store = new MemoryArchive();
  return { store, cleanup: () => store.close() };
});

describe('memory archive bound', () => {
  const m = (room: string, seq: number): Message => ({ room, epoch: 'e', seq, from: 'alice', text: `m${seq}`, ts: seq });
  const held = async (a: MemoryArchive, room: string) =>
    (await a.read(room, 'e', { limit: 1000, from: 'oldest' })).map((x) => x.seq);

  it('forgets the oldest messages of the least recently written series first', async () => {
    const a = new MemoryArchive({ maxMessages: 10 });
    await a.put([1, 2, 3, 4, 5, 6].map((s) => m('old', s)));
    await a.put([1, 2, 3].map((s) => m('new', s)));
    await a.put([4, 5, 6].map((s) => m('new', s))); // 12 held: 'old' (least recently written) loses 1 and 2
    expect(await held(a, 'old')).toEqual([3, 4, 5, 6]);
    expect(await held(a, 'new')).toEqual([1, 2, 3, 4, 5, 6]);
    await a.put([m('old', 7)]); // 'old' is now the most recent: 'new' loses its oldest
    expect(await held(a, 'new')).toEqual([2, 3, 4, 5, 6]);
    expect(await held(a, 'old')).toEqual([3, 4, 5, 6, 7]);
    await a.put(Array.from({ length: 10 }, (_, i) => m('third', i + 1))); // everything else goes
    expect(await held(a, 'new')).toEqual([]);
    expect(await held(a, 'old')).toEqual([]);
    expect(await held(a, 'third')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await a.close();
  });

  it('refuses a limit outside 1..1000', async () => {
    const a = new MemoryArchive();
    for (const limit of [0, 1001, 1.5]) await expect(a.read('r', 'e', { limit, from: 'oldest' })).rejects.toThrow(RangeError);
    await a.close();
  });
});
