/** Room history over REST: paging by position, and posting. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import type { Chat } from '../src/chat/chat.ts';
import { AppError } from '../src/errors.ts';
import { LIMITS } from '@parley/client/wire';
import { HistoryQuery, PostMessageBody, describeIssue } from '../src/protocol/inbound.ts';
import type { AuthEnv } from './auth.ts';

export function historyRoutes(chat: Chat): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();

  r.get('/v1/rooms/:room/messages', async (c) => {
    const room = c.req.param('room');
    await chat.access(c.var.user, room);
    const q = v.safeParse(HistoryQuery, c.req.query());
    if (!q.success) throw new AppError('invalid_request', describeIssue(q.issues[0]));
    const { after, before } = q.output;
    if (after !== undefined && before !== undefined && before <= after) {
      throw new AppError('invalid_request', 'before: must be greater than after');
    }
    const query = { limit: q.output.limit ?? LIMITS.historyDefault, ...(after === undefined ? {} : { after }), ...(before === undefined ? {} : { before }) };
    const page = await chat.history.page(room, query);
    return c.json({ room, epoch: page.epoch, messages: page.messages, hasMore: page.hasMore });
  });

  r.post(
    '/v1/rooms/:room/messages',
    bodyLimit({
      maxSize: LIMITS.restBodyBytes,
      onError: () => {
        throw new AppError('too_large', `the body is larger than ${LIMITS.restBodyBytes} bytes`);
      },
    }),
    async (c) => {
      const user = c.var.user;
      const room = c.req.param('room');
      const kind = await chat.access(user, room);
      const body: unknown = await c.req.json().catch(() => {
        throw new AppError('invalid_request', 'the body is not JSON');
      });
      const parsed = v.safeParse(PostMessageBody, body);
      if (!parsed.success) throw new AppError('invalid_request', describeIssue(parsed.issues[0]));
      chat.posting.takeUserToken(user);
      const { message } = await chat.posting.post(user, room, kind, parsed.output.text, parsed.output.cid);
      return c.json({ room, epoch: message.epoch, seq: message.seq, ts: message.ts }, 201);
    },
  );

  return r;
}
