/**
 * `GET /ws`: check capacity, authenticate, upgrade, and hand the socket to the session. Without
 * credentials in the URL (no `token`, no `user`) the socket is upgraded pending, and authenticates
 * with its first frame (`PendingSockets`, v1.1). The `Sec-WebSocket-Protocol` header picks the
 * socket's encoding (JSON or MessagePack); the runtime's upgrade answers with the same choice.
 */
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { WSContext, WSEvents } from 'hono/ws';
import { identify } from '../src/auth/identity.ts';
import type { Config } from '../src/config.ts';
import { AppError } from '../src/errors.ts';
import { type Encoding, encodingOf } from '../src/realtime/codec.ts';
import type { Conn } from '../src/realtime/conn.ts';
import type { PendingSocket, PendingSockets } from '../src/realtime/pending.ts';
import type { WsRuntime } from '../src/realtime/runtime.ts';
import type { Admitted, Sessions } from '../src/realtime/session.ts';
import type { AppState } from './types.ts';

/** `identity` null: no credentials in the URL, authenticate by the first frame. */
type WsEnv = { Variables: { identity: Admitted | null } };

export function wsRoutes(config: Config, state: AppState, sessions: Sessions, pending: PendingSockets, runtime: WsRuntime): Hono<WsEnv> {
  const r = new Hono<WsEnv>();

  const admit = createMiddleware<WsEnv>(async (c, next) => {
    // Not an upgrade: nothing to admit (admitting registers the connection in presence); the upgrade
    // helper answers it 404.
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') return next();
    if (!state.accepting()) throw new AppError('unavailable', 'the instance is restarting', 1);
    if (state.connections() >= config.maxConnections) {
      state.shed();
      throw new AppError('unavailable', 'the instance is full; try again later', 5);
    }
    const user = c.req.query('user');
    const token = c.req.query('token');
    if (user === undefined && token === undefined) c.set('identity', null);
    else {
      c.set('identity', await sessions.admit(await identify(config.auth, { user, token })));
    }
    await next();
  });

  r.get(
    '/ws',
    admit,
    // Only the identity is kept: the request and its context must not live as long as the socket.
    runtime.upgradeWebSocket((c) => new SocketEvents(sessions, pending, c.get('identity'), encodingOf(c.req.header('sec-websocket-protocol')))),
  );
  return r;
}

/**
 * One socket's event handlers: an object with prototype methods rather than closures, because a
 * server holds tens of thousands of them.
 */
class SocketEvents implements WSEvents {
  conn: Conn | undefined = undefined;
  waiting: PendingSocket | undefined = undefined;
  constructor(
    readonly sessions: Sessions,
    readonly pending: PendingSockets,
    readonly identity: Admitted | null,
    readonly encoding: Encoding,
  ) {}
  onOpen(_event: Event, ws: WSContext): void {
    if (this.identity) this.conn = this.sessions.open(ws, this.identity, this.encoding);
    else this.waiting = this.pending.open(ws, this.encoding);
  }
  onMessage(event: MessageEvent): void {
    const conn = this.conn ?? this.waiting?.conn;
    if (conn) void this.sessions.message(conn, event.data);
    else if (this.waiting) void this.pending.message(this.waiting, event.data);
  }
  onClose(event: CloseEvent): void {
    const conn = this.conn ?? this.waiting?.conn;
    if (conn) void this.sessions.close(conn, event.code);
    else if (this.waiting) this.pending.close(this.waiting);
  }
}
