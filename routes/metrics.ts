/** Prometheus scrape endpoint. */
import { Hono } from 'hono';
import type { Metrics } from '../src/metrics.ts';

export function metricsRoutes(metrics: Metrics): Hono {
  const r = new Hono();
  r.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
  return r;
}
