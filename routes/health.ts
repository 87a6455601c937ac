/** Liveness and readiness: `/health` while the process lives, `/ready` for the load balancer. */
import { Hono } from 'hono';
import type { AppState } from './types.ts';

export function healthRoutes(state: AppState): Hono {
  const r = new Hono();
  r.get('/health', (c) => c.json({ status: 'ok', instance: state.instanceId }));
  r.get('/ready', (c) => {
    const status = state.readiness();
    return status === 'ready' ? c.json({ status }) : c.json({ status }, 503, { 'Retry-After': '2' });
  });
  return r;
}
