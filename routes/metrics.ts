/** Prometheus scrape endpoint. */
import type { Metrics } from '../src/metrics.ts';
import { RestRoutes } from './rest.ts';

export function metricsRoutes(metrics: Metrics): RestRoutes {
  return new RestRoutes('operations', false).add(
    {
      method: 'get',
      path: '/metrics',
      id: 'getMetrics',
      summary: 'Prometheus metrics',
      description: 'The `parley_*` metrics of this instance, in the Prometheus text format.',
      ok: { 200: { description: 'Prometheus text format', type: 'text/plain' } },
    },
    async (c) => c.body(await metrics.registry.metrics(), 200, { 'Content-Type': metrics.registry.contentType }),
  );
}
