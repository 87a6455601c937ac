/** The seam contracts against the embedded memory implementations. */
import { MemoryConversations } from '../../src/conversations/memory.ts';
import { MemoryPresence } from '../../src/presence/memory.ts';
import { MemoryRoomLog } from '../../src/rooms/memory.ts';
import { conversationsContract } from './conversations.ts';
import { presenceContract } from './presence.ts';
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
