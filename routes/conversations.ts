/** The caller's conversations, most recently active first. */
import { Hono } from 'hono';
import type { Chat } from '../src/chat/chat.ts';
import type { AuthEnv } from './auth.ts';

export function conversationRoutes(chat: Chat): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();
  r.get('/v1/conversations', async (c) => c.json({ items: await chat.conversations.list(c.var.user) }));
  return r;
}
