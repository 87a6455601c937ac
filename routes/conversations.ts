/** The caller's conversations, most recently active first. */
import { Hono } from 'hono';
import { type Chat, backendError } from '../src/chat.ts';
import type { Message } from '../src/protocol.ts';
import type { AuthEnv } from './auth.ts';

/** Rooms listed at most. */
const MAX_ITEMS = 100;

export function conversationRoutes(chat: Chat): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();
  r.get('/v1/conversations', async (c) => {
    const { conversations, log } = chat.stores;
    const rooms = await conversations.list(c.var.user, MAX_ITEMS).catch(backendError('conversations'));
    const items = await Promise.all(
      rooms.map(async (room, order) => {
        const page = await log.read(room, { limit: 1 }).catch(backendError('read', room));
        const lastMessage: Message | undefined = page.messages[0];
        return { item: lastMessage ? { room, seq: page.seq, lastMessage } : { room, seq: page.seq }, ts: lastMessage?.ts ?? 0, order };
      }),
    );
    items.sort((a, b) => b.ts - a.ts || a.order - b.order);
    return c.json({ items: items.map((i) => i.item) });
  });
  return r;
}
