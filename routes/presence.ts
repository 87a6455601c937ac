/** Presence over REST: a room's members, a user's status. */
import { Hono } from 'hono';
import type { Chat } from '../src/chat/chat.ts';
import { AppError } from '../src/errors.ts';
import { isUserName } from '@parley/client/wire';
import type { AuthEnv } from './auth.ts';

export function presenceRoutes(chat: Chat): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();

  r.get('/v1/rooms/:room/presence', async (c) => {
    const room = c.req.param('room');
    const kind = await chat.access(c.var.user, room);
    return c.json({ room, members: await chat.presence.members(room, kind) });
  });

  r.get('/v1/users/:user/presence', async (c) => {
    const user = c.req.param('user');
    if (!isUserName(user)) throw new AppError('invalid_request', `"${user.slice(0, 40)}" is not a valid user name`);
    const s = await chat.presence.status(user);
    return c.json({ user, status: s.status, lastSeen: s.lastSeen ?? null });
  });

  return r;
}
