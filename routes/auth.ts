/**
 * Who is calling: dev mode trusts a name, jwt mode verifies an HS256 token. `requireUser` is the
 * REST middleware; the WebSocket upgrade calls `authenticate` itself.
 */
import { createMiddleware } from 'hono/factory';
import { verify } from 'hono/jwt';
import type { Config } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import { isUserName } from '@parley/client/wire';

export type AuthEnv = { Variables: { user: string } };

export function requireUser(auth: Config['auth']) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    c.set('user', await authenticate(auth, restCredentials((name) => c.req.header(name))));
    await next();
  });
}

export type Credentials = { user?: string | null | undefined; token?: string | null | undefined };

/** Resolves the user; throws `AppError('unauthorized')` on a missing, malformed or expired credential. */
export async function authenticate(auth: Config['auth'], cred: Credentials): Promise<string> {
  if (auth.mode === 'dev') {
    const user = cred.user ?? '';
    if (!isUserName(user)) throw new AppError('unauthorized', 'a valid user name is required');
    return user;
  }
  const token = cred.token;
  if (!token) throw new AppError('unauthorized', 'a bearer token is required');
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, auth.secret, 'HS256');
  } catch {
    throw new AppError('unauthorized', 'the token is invalid or expired');
  }
  const sub = payload['sub'];
  if (typeof sub !== 'string' || !isUserName(sub)) {
    throw new AppError('unauthorized', 'the token has no valid "sub"');
  }
  return sub;
}

/** Reads a REST request's credentials from its headers. */
export function restCredentials(header: (name: string) => string | undefined): Credentials {
  const authz = header('authorization');
  const token = authz?.startsWith('Bearer ') ? authz.slice(7).trim() : undefined;
  return { user: header('x-user'), token };
}
