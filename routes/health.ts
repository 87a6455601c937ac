/** Liveness and readiness: `/health` while the process lives, `/ready` for the load balancer. */
import { Health, Readiness } from '../src/openapi/schemas.ts';
import { RestRoutes } from './rest.ts';
import type { AppState } from './types.ts';

export function healthRoutes(state: AppState): RestRoutes {
  return new RestRoutes('operations', false)
    .add(
      {
        method: 'get',
        path: '/health',
        id: 'getHealth',
        summary: 'Liveness',
        ok: { 200: { description: 'The process lives', body: Health } },
      },
      (c) => c.json({ status: 'ok', instance: state.instanceId }),
    )
    .add(
      {
        method: 'get',
        path: '/ready',
        id: 'getReady',
        summary: 'Readiness: the load balancer health check',
        description: 'While this answers 503 the instance should get no new connections: it is starting, draining after SIGTERM, degraded (a backend is unreachable) or full (`MAX_CONNECTIONS`). Its open sockets stay.',
        ok: {
          200: { description: 'Ready', body: Readiness },
          503: { description: 'Not ready: `starting`, `draining`, `degraded` or `full`, with `Retry-After`', body: Readiness, retryAfter: true },
        },
      },
      (c) => {
        const status = state.readiness();
        return status === 'ready' ? c.json({ status }) : c.json({ status }, 503, { 'Retry-After': '2' });
      },
    );
}
