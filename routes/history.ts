/** Room history over REST: paging by position, and posting. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import { type Chat, backendError } from '../src/chat.ts';
import { AppError } from '../src/errors.ts';
import { readHistory } from '../src/history.ts';
import { HistoryQuery, LIMITS, PostMessageBody, describeIssue } from '../src/protocol.ts';
import type { UserRateLimit } from '../src/ratelimit.ts';
import type { AuthEnv } from './auth.ts';

export function historyRoutes(chat: Chat, postLimit: UserRateLimit): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();

  r.get('/v1/rooms/:room/messages', async (c) => {
    const room = c.req.param('room');
    chat.access(c.var.user, room);
    const q = v.safeParse(HistoryQuery, c.req.query());
    if (!q.success) throw new AppError('invalid_request', describeIssue(q.issues[0]));
    const { after, before } = q.output;
    if (after !== undefined && before !== undefined && before <= after) {
      throw new AppError('invalid_request', 'before: must be greater than after');
    }
    const query = { limit: q.output.limit ?? LIMITS.historyDefault, ...(after === undefined ? {} : { after }), ...(before === undefined ? {} : { before }) };
    const page = await readHistory(chat.stores.log, chat.stores.archive, room, query).catch(backendError('read', room));
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
      const kind = chat.access(user, room);
      const body: unknown = await c.req.json().catch(() => {
        throw new AppError('invalid_request', 'the body is not JSON');
      });
      const parsed = v.safeParse(PostMessageBody, body);
      if (!parsed.success) throw new AppError('invalid_request', describeIssue(parsed.issues[0]));
      const wait = postLimit.take(user);
      if (wait > 0) throw new AppError('rate_limited', 'too many messages; slow down', Math.ceil(wait / 1000));
      const { message } = await chat.post(user, room, kind, parsed.output.text, parsed.output.cid);
      return c.json({ room, epoch: message.epoch, seq: message.seq, ts: message.ts }, 201);
    },
  );

  return r;
}
