/** `GET /ws`: authenticate, check capacity, upgrade, and hand the socket to the session. */
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { WSContext, WSEvents } from 'hono/ws';
import { authenticate } from './auth.ts';
import type { Config } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import type { Conn } from '../src/realtime/hub.ts';
import type { WsRuntime } from '../src/realtime/runtime.ts';
import type { Sessions } from '../src/realtime/session.ts';
import type { AppState } from './types.ts';

type WsEnv = { Variables: { user: string } };

export function wsRoutes(config: Config, state: AppState, sessions: Sessions, runtime: WsRuntime): Hono<WsEnv> {
  const r = new Hono<WsEnv>();

  const admit = createMiddleware<WsEnv>(async (c, next) => {
    if (!state.accepting()) throw new AppError('unavailable', 'the instance is restarting', 1);
    if (state.connections() >= config.maxConnections) {
      state.shed();
      throw new AppError('unavailable', 'the instance is full; try again later', 5);
    }
    const user = await authenticate(config.auth, { user: c.req.query('user'), token: c.req.query('token') });
    await sessions.admit(user);
    c.set('user', user);
    await next();
  });

  r.get(
    '/ws',
    admit,
    // Only the user name is kept: the request and its context must not live as long as the socket.
    runtime.upgradeWebSocket((c) => new SocketEvents(sessions, c.get('user'))),
  );
  return r;
}

/**
 * One socket's event handlers: an object with prototype methods rather than closures, because a
 * server holds tens of thousands of them.
 */
class SocketEvents implements WSEvents {
  conn: Conn | undefined = undefined;
  constructor(
    readonly sessions: Sessions,
    readonly user: string,
  ) {}
  onOpen(_event: Event, ws: WSContext): void {
    this.conn = this.sessions.open(ws, this.user);
  }
  onMessage(event: MessageEvent): void {
    if (this.conn) void this.sessions.message(this.conn, event.data);
  }
  onClose(event: CloseEvent): void {
    if (this.conn) void this.sessions.close(this.conn, event.code);
  }
}
