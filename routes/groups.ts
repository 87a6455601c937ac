/** Private groups over REST: create, read, add members or change roles, remove members. */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import type { Chat } from '../src/chat/chat.ts';
import { AppError } from '../src/errors.ts';
import { LIMITS } from '@parley/client/wire';
import { CreateGroupBody, SetRoleBody, UserName, describeIssue, groupId } from '../src/protocol/inbound.ts';
import type { AuthEnv } from './auth.ts';

const limit = bodyLimit({
  maxSize: LIMITS.restBodyBytes,
  onError: () => {
    throw new AppError('too_large', `the body is larger than ${LIMITS.restBodyBytes} bytes`);
  },
});

/** Parses a JSON body with `schema`; 400 `invalid_request` when it is not JSON or does not match. */
async function body<S extends v.GenericSchema>(req: { json(): Promise<unknown> }, schema: S): Promise<v.InferOutput<S>> {
  const raw: unknown = await req.json().catch(() => {
    throw new AppError('invalid_request', 'the body is not JSON');
  });
  const parsed = v.safeParse(schema, raw);
  if (!parsed.success) throw new AppError('invalid_request', describeIssue(parsed.issues[0]));
  return parsed.output;
}

function param<S extends v.GenericSchema<string, string>>(schema: S, value: string, what: string): string {
  if (!v.is(schema, value)) throw new AppError('invalid_request', `"${value.slice(0, 80)}" is not a valid ${what}`);
  return value;
}

export function groupRoutes(chat: Chat): Hono<AuthEnv> {
  const r = new Hono<AuthEnv>();

  r.post('/v1/groups', limit, async (c) => {
    const input = await body(c.req, CreateGroupBody);
    return c.json(await chat.groups.create(c.var.user, input), 201);
  });

  r.get('/v1/groups/:id', async (c) => {
    const id = param(groupId, c.req.param('id'), 'group id');
    return c.json(await chat.groups.get(c.var.user, id));
  });

  r.put('/v1/groups/:id/members/:user', limit, async (c) => {
    const id = param(groupId, c.req.param('id'), 'group id');
    const user = param(UserName, c.req.param('user'), 'user name');
    const { role } = await body(c.req, SetRoleBody);
    return c.json(await chat.groups.setRole(c.var.user, id, user, role));
  });

  r.delete('/v1/groups/:id/members/:user', async (c) => {
    const id = param(groupId, c.req.param('id'), 'group id');
    const user = param(UserName, c.req.param('user'), 'user name');
    await chat.groups.remove(c.var.user, id, user);
    return c.body(null, 204);
  });

  return r;
}
