/** REST authentication middleware: sets `c.var.user` or answers 401. */
import { createMiddleware } from 'hono/factory';
import { authenticate, restCredentials } from '../src/auth.ts';
import type { Config } from '../src/config.ts';

export type AuthEnv = { Variables: { user: string } };

export function requireUser(auth: Config['auth']) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    c.set('user', await authenticate(auth, restCredentials((name) => c.req.header(name))));
    await next();
  });
}
