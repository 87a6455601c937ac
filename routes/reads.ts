/** Read positions over REST: who has read a room how far. */
import type { Chat } from '../src/chat/chat.ts';
import { RoomParams, RoomReads } from '../src/openapi/schemas.ts';
import type { AuthEnv } from './auth.ts';
import { ROOM_FORBIDDEN, RestRoutes } from './rest.ts';

export function readRoutes(chat: Chat): RestRoutes<AuthEnv> {
  return new RestRoutes<AuthEnv>('rooms', true).add(
    {
      method: 'get',
      path: '/v1/rooms/:room/reads',
      id: 'getReads',
      summary: 'Read positions in a room',
      description: 'Every member in direct rooms and groups (read receipts); in public rooms only the caller. 0 before any read.',
      params: RoomParams,
      ok: { 200: { description: 'The positions, sorted by user', body: RoomReads } },
      refuses: { 403: ROOM_FORBIDDEN },
    },
    async (c, { params: { room } }) => {
      const kind = await chat.access(c.var.user, room);
      return c.json({ room, reads: await chat.reads.positions(c.var.user, room, kind) });
    },
  );
}
