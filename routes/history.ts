/** Room history over REST: paging by position, and posting. */
import type { Chat } from '../src/chat/chat.ts';
import { AppError } from '../src/errors.ts';
import { LIMITS } from '@parley/client/wire';
import { HistoryPage, Posted, RoomParams } from '../src/openapi/schemas.ts';
import { HistoryQuery, PostMessageBody } from '../src/protocol/inbound.ts';
import type { AuthEnv } from './auth.ts';
import { ROOM_FORBIDDEN, RestRoutes } from './rest.ts';

export function historyRoutes(chat: Chat): RestRoutes<AuthEnv> {
  return new RestRoutes<AuthEnv>('rooms', true)
    .add(
      {
        method: 'get',
        path: '/v1/rooms/:room/messages',
        id: 'getMessages',
        summary: "A page of a room's history",
        description: `Without \`after\` and \`before\`: the latest \`limit\` messages. \`after\` catches up after a reconnect, \`before\` scrolls back; both together page between them. Older pages come from the archive (MongoDB) joined to the hot log without a gap.`,
        params: RoomParams,
        query: HistoryQuery,
        ok: { 200: { description: 'The page, ascending by seq', body: HistoryPage } },
        refuses: { 400: 'The room name or the query is not valid, or `before` is not greater than `after`', 403: ROOM_FORBIDDEN },
      },
      async (c, { params: { room }, query: { after, before, limit } }) => {
        await chat.access(c.var.user, room);
        if (after !== undefined && before !== undefined && before <= after) {
          throw new AppError('invalid_request', 'before: must be greater than after');
        }
        const query = { limit: limit ?? LIMITS.historyDefault, ...(after === undefined ? {} : { after }), ...(before === undefined ? {} : { before }) };
        const page = await chat.history.page(room, query);
        return c.json({ room, epoch: page.epoch, messages: page.messages, hasMore: page.hasMore });
      },
    )
    .add(
      {
        method: 'post',
        path: '/v1/rooms/:room/messages',
        id: 'postMessage',
        summary: 'Post a message',
        description: 'Delivered to the WebSocket members of the room like any message. A resend with the same `cid` answers the first position and stores nothing new, so resending after a failure is always safe.',
        params: RoomParams,
        body: PostMessageBody,
        ok: { 201: { description: "The message's position", body: Posted } },
        refuses: { 403: ROOM_FORBIDDEN, 429: 'The caller posts over REST faster than `SEND_RATE` a second (bursts of `SEND_BURST`)' },
      },
      async (c, { params: { room }, body }) => {
        const user = c.var.user;
        const kind = await chat.access(user, room);
        chat.posting.takeUserToken(user);
        const { message } = await chat.posting.post(user, room, kind, body.text, body.cid);
        return c.json({ room, epoch: message.epoch, seq: message.seq, ts: message.ts }, 201);
      },
    );
}
