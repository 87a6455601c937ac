/** Presence over REST: a room's members, a user's status. */
import type { Chat } from '../src/chat/chat.ts';
import { RoomParams, RoomPresence, UserParams, UserPresence } from '../src/openapi/schemas.ts';
import type { AuthEnv } from './auth.ts';
import { ROOM_FORBIDDEN, RestRoutes } from './rest.ts';

export function presenceRoutes(chat: Chat): RestRoutes<AuthEnv> {
  return new RestRoutes<AuthEnv>('presence', true)
    .add(
      {
        method: 'get',
        path: '/v1/rooms/:room/presence',
        id: 'getRoomPresence',
        summary: "A room's members",
        description: 'The users with a live connection in the room; for a direct room both users, for a group every member, online or not.',
        params: RoomParams,
        ok: { 200: { description: 'The members, sorted by name', body: RoomPresence } },
        refuses: { 403: ROOM_FORBIDDEN },
      },
      async (c, { params: { room } }) => {
        const kind = await chat.access(c.var.user, room);
        return c.json({ room, members: await chat.presence.members(room, kind) });
      },
    )
    .add(
      {
        method: 'get',
        path: '/v1/users/:user/presence',
        id: 'getUserPresence',
        summary: "A user's status",
        params: UserParams,
        ok: { 200: { description: 'Online or offline, and when last seen', body: UserPresence } },
      },
      async (c, { params: { user } }) => {
        const s = await chat.presence.status(user);
        return c.json({ user, status: s.status, lastSeen: s.lastSeen ?? null });
      },
    );
}
