/** The seam contracts against the embedded memory implementations. */
import { MemoryConversations } from '../../src/conversations/memory.ts';
import { MemoryGroups } from '../../src/groups/memory.ts';
import { MemoryPresence } from '../../src/presence/memory.ts';
import { MemoryReadState } from '../../src/reads/memory.ts';
import { MemoryRoomLog } from '../../src/rooms/memory.ts';
import { conversationsContract } from './conversations.ts';
import { groupsContract } from './groups.ts';
import { presenceContract } from './presence.ts';
import { readStateContract } from './reads.ts';
import { roomLogContract } from './roomlog.ts';

roomLogContract('memory', async (opts) => {
  const log = new MemoryRoomLog(opts);
  return { log, cleanup: () => log.close() };
});

presenceContract('memory', async (opts) => {
  const presence = new MemoryPresence(opts);
  return { presence, cleanup: () => presence.close() };
});

conversationsContract('memory', async () => {
  const conversations = new MemoryConversations();
  return { conversations, cleanup: () => conversations.close() };
});

groupsContract('memory', async () => {
  const log: MemoryRoomLog = new MemoryRoomLog({ hotWindow: 1000, idempotencyTtlMs: 60_000, roleOf: (room, user) => groups.roleIn(room, user) });
  const groups = new MemoryGroups(log);
  return { groups, log, cleanup: async () => void (await Promise.all([groups.close(), log.close()])) };
});

readStateContract('memory', async (peerOf, windows) => {
  if (peerOf) return { ...peerOf, cleanup: async () => {} };
  const log: MemoryRoomLog = new MemoryRoomLog({ hotWindow: 1000, idempotencyTtlMs: 60_000, onAppend: (m, deleted) => reads.appended(m, deleted) });
  const reads = new MemoryReadState({ signal: (room, event) => log.signal(room, event), ...(windows ? { windows } : {}) });
  return { reads, log, cleanup: async () => void (await Promise.all([reads.close(), log.close()])) };
});
