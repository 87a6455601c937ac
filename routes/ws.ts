/** `GET /ws`: authenticate, check capacity, upgrade, and hand the socket to the session. */
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppState } from '../src/app.ts';
import { authenticate } from '../src/auth.ts';
import type { Config } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import type { Conn } from '../src/hub.ts';
import type { WsRuntime } from '../src/runtime.ts';
import type { Sessions } from '../src/session.ts';

type WsEnv = { Variables: { user: string } };

export function wsRoutes(config: Config, state: AppState, sessions: Sessions, runtime: WsRuntime): Hono<WsEnv> {
  const r = new Hono<WsEnv>();

  const admit = createMiddleware<WsEnv>(async (c, next) => {
    if (state.readiness() === 'draining') throw new AppError('unavailable', 'the instance is restarting', 1);
    if (state.connections() >= config.maxConnections) {
      state.shed();
      throw new AppError('unavailable', 'the instance is full; try again later', 5);
    }
    c.set('user', await authenticate(config.auth, { user: c.req.query('user'), token: c.req.query('token') }));
    await next();
  });

  r.get(
    '/ws',
    admit,
    runtime.upgradeWebSocket((c) => {
      // Only the user name is kept: the request and its context must not live as long as the socket.
      const user = c.get('user');
      let conn: Conn | undefined;
      return {
        onOpen: (_event, ws) => {
          conn = sessions.open(ws, user);
        },
        onMessage: (event) => {
          if (conn) void sessions.message(conn, event.data);
        },
        onClose: (event) => {
          if (conn) void sessions.close(conn, event.code);
        },
      };
    }),
  );
  return r;
}
