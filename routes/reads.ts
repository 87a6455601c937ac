/** Read positions over REST: who has read a room how far. */
import { Hono } from 'hono';
import type { Chat } from '../src/chat/chat.ts';
import type { AuthEnv } from './auth.ts';

export function readRoutes(chat: Chat): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();
  r.get('/v1/rooms/:room/reads', async (c) => {
    const room = c.req.param('room');
    const kind = await chat.access(c.var.user, room);
    return c.json({ room, reads: await chat.reads.positions(c.var.user, room, kind) });
  });
  return r;
}
