/**
 * A store of the Redis contract suites on a cluster connection of its own: the stores never close
 * the connection they are given (in production it is shared, and closed by deps.ts), so the
 * factory that opens it closes it.
 */
import type { Cluster } from 'ioredis';
import { connectCluster } from '../../src/redis/connection.ts';

/** Opens a connection and makes a store on it; `cleanup` closes the store, then the connection. */
export async function onOwnConnection<S extends { close(): Promise<void> }>(
  nodes: string[],
  make: (cluster: Cluster) => S,
): Promise<{ store: S; cluster: Cluster; cleanup(): Promise<void> }> {
  const cluster = await connectCluster({ nodes });
  const store = make(cluster);
  return {
    store,
    cluster,
    cleanup: async () => {
      await store.close();
      await cluster.quit().catch(() => cluster.disconnect());
    },
  };
}
