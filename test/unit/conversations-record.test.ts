/**
 * The conversation list is written at most once a minute per user and room on an instance, however
 * many messages the user posts: the list is ordered by each room's last message, not by that write.
 */
import { expect, it } from 'vitest';
import { ConversationService } from '../../src/chat/conversations.ts';
import type { Conversations } from '../../src/conversations/types.ts';
import type { ReadService } from '../../src/chat/reads.ts';

/** Recording never reads positions. */
const noReads = {} as ReadService;

function counting(fail = false): Conversations & { adds: string[] } {
  const adds: string[] = [];
  return {
    adds,
    add: async (user, room) => {
      adds.push(`${user} ${room}`);
      if (fail) throw new Error('down');
    },
    list: async () => [],
    remove: async () => undefined,
    close: async () => undefined,
  };
}

it('writes a chatty user\'s room once a minute, both users of a direct room, and again after a failed write', async () => {
  let now = 1_000_000;
  const store = counting();
  const service = new ConversationService(store, noReads, () => now);
  for (let i = 0; i < 50; i++) service.record('amy', 'lobby', { kind: 'public' });
  service.record('amy', 'dm:amy:bob', { kind: 'direct', users: ['amy', 'bob'] });
  service.record('bob', 'dm:amy:bob', { kind: 'direct', users: ['amy', 'bob'] });
  expect(store.adds).toEqual(['amy lobby', 'amy dm:amy:bob', 'bob dm:amy:bob']);
  now += 59_999;
  service.record('amy', 'lobby', { kind: 'public' });
  expect(store.adds).toHaveLength(3);
  now += 1;
  service.record('amy', 'lobby', { kind: 'public' });
  expect(store.adds).toHaveLength(4);

  const down = counting(true);
  const retrying = new ConversationService(down, noReads, () => now);
  retrying.record('amy', 'lobby', { kind: 'public' });
  await new Promise((r) => setTimeout(r, 0));
  retrying.record('amy', 'lobby', { kind: 'public' });
  expect(down.adds).toEqual(['amy lobby', 'amy lobby']);
});
