/**
 * Vitest global setup: a real Redis Cluster (6 `redis-server` processes) on its own ports for the
 * whole run, stopped afterwards. Tests get its nodes with `inject('redisNodes')`.
 */
import type { TestProject } from 'vitest/node';
import { down, up } from '../../infra/redis/cluster.ts';

const basePort = Number(process.env['PARLEY_TEST_REDIS_PORT'] ?? 7100);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await up({ basePort });
  project.provide('redisNodes', cluster.nodes);
  return () => down({ basePort });
}

declare module 'vitest' {
  export interface ProvidedContext {
    redisNodes: string[];
  }
}
