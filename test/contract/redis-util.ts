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

type Command = (...args: unknown[]) => Promise<unknown>;

/**
 * The same cluster connection with one command answered by `replace` (given the real command), as
 * a failover would answer it: refused, or never. Every other command goes through unchanged.
 */
export function withCommand(cluster: Cluster, name: keyof Cluster & string, replace: (real: Command) => Command): Cluster {
  const real = (cluster[name] as Command).bind(cluster);
  const replaced = replace(real);
  return new Proxy(cluster, {
    get(target, prop) {
      if (prop === name) return replaced;
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
