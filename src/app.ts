/**
 * `createApp`: the whole service as a Hono app, runtime-neutral. The entry points give it the
 * runtime's WebSocket support and the stores chosen by `deps.ts`.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requireUser } from '../routes/auth.ts';
import { conversationRoutes } from '../routes/conversations.ts';
import { groupRoutes } from '../routes/groups.ts';
import { demoRoutes } from '../routes/demo.ts';
import { docsRoutes } from '../routes/docs.ts';
import { healthRoutes } from '../routes/health.ts';
import { historyRoutes } from '../routes/history.ts';
import { metricsRoutes } from '../routes/metrics.ts';
import { presenceRoutes } from '../routes/presence.ts';
import { readRoutes } from '../routes/reads.ts';
import type { AppState } from '../routes/types.ts';
import { wsRoutes } from '../routes/ws.ts';
import { Chat } from './chat/chat.ts';
import type { Config } from './config.ts';
import type { Stores } from './chat/stores.ts';
import { AppError, BackendUnavailable, unavailable } from './errors.ts';
import { log } from './log.ts';
import { createMetrics, watchLoopLag } from './metrics.ts';
import { drain } from './realtime/drain.ts';
import { Hub } from './realtime/hub.ts';
import { PendingSockets } from './realtime/pending.ts';
import type { WsRuntime } from './realtime/runtime.ts';
import { Sessions } from './realtime/session.ts';
import { CLOSE } from '@parley/client/wire';

export type Parley = {
  app: Hono;
  sessions: Sessions;
  hub: Hub;
  /** Marks the instance ready (after the server listens). */
  ready(): void;
  /** SIGTERM path: not ready at once, close sockets with 1012 in batches, close the stores. */
  shutdown(): Promise<void>;
};

export function createApp(config: Config, stores: Stores, runtime: WsRuntime): Parley {
  const metrics = createMetrics(config.instanceId, stores.counters);
  const chat = new Chat(stores, { metrics, postRate: config.rates.send });
  const hub = new Hub({
    feed: chat,
    sockets: runtime.sockets,
    metrics,
    sendBuffer: config.sendBuffer,
    batchWindowMs: config.batchWindowMs,
    onRemoved: (conn, room) => void chat.presence.leave(room, conn, Date.now()).catch(() => undefined),
  });
  const { instanceId, heartbeatMs, rates, limits, auth, tokenGraceMs, authTimeoutMs } = config;
  const sessions = new Sessions(chat, hub, runtime.sockets, { instanceId, heartbeatMs, rates, limits, auth, tokenGraceMs, metrics });
  let phase: 'starting' | 'ready' | 'draining' = 'starting';
  let closing = false;
  const pending = new PendingSockets(sessions, { auth, authTimeoutMs, metrics, sockets: runtime.sockets, accepting: () => !closing });
  // Sockets still authenticating by their first frame count towards the capacity.
  const connections = () => hub.conns.size + pending.size;

  const state: AppState = {
    instanceId: config.instanceId,
    readiness: () => {
      if (phase !== 'ready') return phase;
      if (!chat.healthy()) return 'degraded';
      return connections() >= config.maxConnections ? 'full' : 'ready';
    },
    accepting: () => !closing,
    connections,
    shed: () => metrics.dropped.inc({ reason: 'connection_shed' }),
  };

  const app = new Hono();
  app.onError((thrown, c) => {
    if (thrown instanceof BackendUnavailable) log.warn('backend unavailable', { path: c.req.path, err: thrown });
    const err = thrown instanceof BackendUnavailable ? unavailable() : thrown;
    if (err instanceof AppError) {
      // The chat layer speaks the WebSocket's codes; REST names a bad request `invalid_request`.
      const code = err.code === 'invalid_message' ? 'invalid_request' : err.code;
      metrics.errors.inc({ code });
      const headers: Record<string, string> = err.retryAfter ? { 'Retry-After': String(err.retryAfter) } : {};
      return c.json({ error: { code, message: err.message } }, err.status as 400, headers);
    }
    if (err instanceof HTTPException) {
      return c.json({ error: { code: err.status === 404 ? 'not_found' : 'invalid_request', message: err.message } }, err.status);
    }
    log.error('request failed', { path: c.req.path, err });
    metrics.errors.inc({ code: 'internal' });
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  // The REST routes, each group with its specs: the document at /openapi.json is made from them.
  const open = [healthRoutes(state), metricsRoutes(metrics)];
  const v1 = [historyRoutes(chat), presenceRoutes(chat), conversationRoutes(chat), groupRoutes(chat), readRoutes(chat)];
  for (const routes of open) app.route('/', routes.app);
  app.route('/', wsRoutes(config, state, sessions, pending, runtime));
  app.route('/', demoRoutes);
  app.route('/', docsRoutes([...open, ...v1]));
  const authed = new Hono();
  authed.use('/v1/*', requireUser(config.auth));
  for (const routes of v1) authed.route('/', routes.app);
  app.route('/', authed);

  const stopLag = watchLoopLag(metrics.loopLag);
  const beat = setInterval(() => sessions.heartbeat(), config.heartbeatMs);
  // Twice per heartbeat interval, with a TTL of one interval (deps.ts): a dead instance's users
  // are offline within 1.5 intervals. A round spreads its refreshes over a quarter interval, so a
  // connection's refresh may come up to 0.75 intervals after its last, and still a quarter early.
  const presenceRound = setInterval(() => void sessions.presenceRound(config.heartbeatMs / 4, () => closing), config.heartbeatMs / 2);

  return {
    app,
    sessions,
    hub,
    ready: () => {
      if (phase === 'starting') phase = 'ready';
    },
    shutdown: async () => {
      // `/ready` answers 503 from now on. For the grace period the instance still serves and accepts
      // as before, so that the load balancer's health check sees the 503 and stops sending before
      // the sockets are closed: otherwise their reconnects could land here again and be refused.
      phase = 'draining';
      if (config.drain.graceMs > 0) {
        log.info('draining: waiting for the load balancer to notice', { graceMs: config.drain.graceMs });
        await new Promise((resolve) => setTimeout(resolve, config.drain.graceMs));
      }
      closing = true;
      clearInterval(beat);
      clearInterval(presenceRound);
      stopLag();
      pending.closeAll(CLOSE.restart, 'service restart');
      await drain(hub, sessions, config.drain);
      await chat.close();
    },
  };
}
