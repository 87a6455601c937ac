/** The caller's conversations, most recently active first. */
import type { Chat } from '../src/chat/chat.ts';
import { Conversations } from '../src/openapi/schemas.ts';
import type { AuthEnv } from './auth.ts';
import { RestRoutes } from './rest.ts';

export function conversationRoutes(chat: Chat): RestRoutes<AuthEnv> {
  return new RestRoutes<AuthEnv>('conversations', true).add(
    {
      method: 'get',
      path: '/v1/conversations',
      id: 'getConversations',
      summary: "The caller's conversations",
      description: 'Every room the caller joined or posted in, every group it belongs to and every direct room with a message, with read positions and unread counts.',
      ok: { 200: { description: 'Most recently active first', body: Conversations } },
    },
    async (c) => c.json({ items: await chat.conversations.list(c.var.user) }),
  );
}
