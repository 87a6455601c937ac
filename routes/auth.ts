/**
 * Who is calling: dev mode trusts a name, jwt mode verifies an HS256 token (src/auth/identity.ts).
 * `requireUser` is the REST middleware; the WebSocket upgrade calls `identify` itself.
 */
import { createMiddleware } from 'hono/factory';
import { type Credentials, identify } from '../src/auth/identity.ts';
import type { Config } from '../src/config.ts';

export type { Credentials } from '../src/auth/identity.ts';
export type AuthEnv = { Variables: { user: string } };

export function requireUser(auth: Config['auth']) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    c.set('user', await authenticate(auth, restCredentials((name) => c.req.header(name))));
    await next();
  });
}

/** Resolves the user; throws `AppError('unauthorized')` on a missing, malformed or expired credential. */
export async function authenticate(auth: Config['auth'], cred: Credentials): Promise<string> {
  return (await identify(auth, cred)).user;
}

/** Reads a REST request's credentials from its headers. */
export function restCredentials(header: (name: string) => string | undefined): Credentials {
  const authz = header('authorization');
  const token = authz?.startsWith('Bearer ') ? authz.slice(7).trim() : undefined;
  return { user: header('x-user'), token };
}
