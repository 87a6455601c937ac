/**
 * The Redis Cluster connection shared by the Redis implementations of the seams. Redis words stay
 * in `src/<seam>/redis*.ts` and in `src/redis/`.
 */
import { Cluster } from 'ioredis';
import { BackendUnavailable } from '../errors.ts';
import { log } from '../log.ts';
import { loadScriptsOnEveryNode } from './script.ts';

/** Longest a command may take before the caller is told the backend is unavailable. */
const COMMAND_TIMEOUT_MS = 2000;

export type RedisOptions = {
  /** `host:port` of one or more cluster nodes. */
  nodes: readonly string[];
  /** How long to wait for the cluster at start before giving up. */
  connectTimeoutMs?: number;
};

/**
 * Connects to the cluster and waits until it is ready. Throws `BackendUnavailable` with a clear
 * message when it cannot be reached in time, so that start-up fails instead of running without it.
 */
export async function connectCluster(opts: RedisOptions): Promise<Cluster> {
  const startupNodes = opts.nodes.map((n) => {
    const i = n.lastIndexOf(':');
    return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
  });
  const cluster = new Cluster(startupNodes, {
    // Sharded pub/sub is only delivered from every shard with this on (one subscriber per shard).
    shardedSubscribers: true,
    scaleReads: 'master',
    // Commands wait out a reconnect or a failover in the offline queue, but never longer than
    // `commandTimeout`: a client is told `unavailable` rather than left hanging.
    enableOfflineQueue: true,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    // Commands sent in one turn of the event loop to the same master go out as one pipeline: one
    // write instead of one per command. Left out of it:
    // - the sharded (un)subscribe calls: the client routes them to its sharded subscriber's
    //   connection only when they are sent on their own; a pipeline names the node, and they would
    //   go out on that node's command connection instead;
    // - XGROUP and XINFO: their key follows a subcommand, which the pipeline's routing does not
    //   know, so it would send them to the wrong node.
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: ['ssubscribe', 'sunsubscribe', 'xgroup', 'xinfo'],
    redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 2000, commandTimeout: COMMAND_TIMEOUT_MS },
  });
  loadScriptsOnEveryNode(cluster);
  // Once disconnected for good, a command sent through an auto-pipeline would wait for the cluster
  // to come back, forever; sent on its own it fails at once ("Connection is closed").
  cluster.once('end', () => {
    cluster.options.enableAutoPipelining = false;
  });
  // Errors are reported per command; without a listener ioredis prints each one. The last is kept
  // for the start-up message.
  let lastError = '';
  cluster.on('error', (err: Error) => {
    lastError = err.message;
  });
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}`)), timeoutMs);
      cluster.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      cluster.once('end', () => {
        clearTimeout(timer);
        reject(new Error('connection ended'));
      });
    });
  } catch (err) {
    cluster.disconnect();
    throw new BackendUnavailable(`Redis Cluster at ${opts.nodes.join(',')} is unreachable: ${(err as Error).message}`);
  }
  return cluster;
}

/**
 * Whether an ioredis error means "the backend cannot be reached now" rather than a bug. During a
 * failover ioredis runs out of redirections (MOVED to the dead master) before the replica is
 * promoted: transient too. So is a MOVED or ASK reply that reaches the caller: ioredis follows a
 * redirection of a pipeline (and so of an auto-pipelined command) only when every command in it
 * was redirected alike, and a pipeline of several slots, some of them moved by a failover, hands
 * the redirections back. The command did not run; it succeeds once the slot map is refreshed.
 */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    /\b(MOVED|ASK) \d+ \S+:\d+|Connection is closed|Too many Cluster redirections|ClusterAllFailedError|LOADING|READONLY|MASTERDOWN|MaxRetriesPerRequestError|Failed to refresh slots cache|CLUSTERDOWN|TRYAGAIN|ECONNREFUSED|ETIMEDOUT|Stream isn't writeable|Command timed out|None of startup nodes is available/i.test(
      `${err.name} ${err.message}`,
    )
  );
}

/**
 * Longest a sharded (un)subscribe may wait for its answer. `commandTimeout` bounds a command sent on
 * a node's connection, but ioredis sends these on a subscriber connection it makes without it. A
 * failover takes about 8 s; one still waiting after this is taken for lost.
 */
export const CALL_DEADLINE_MS = 12_000;

/**
 * `work`, or `BackendUnavailable` once it has not settled within `ms`. The command may still go
 * through later: a subscription nobody waits for any more delivers to no handler, and the next
 * subscribe of the channel sends its own.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BackendUnavailable(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** Rethrows a Redis failure as `BackendUnavailable` when it is one. */
export function unavailable(err: unknown): never {
  if (isUnavailable(err)) throw new BackendUnavailable((err as Error).message);
  throw err;
}

/** The part of the cluster client the health watch uses. */
type Pingable = Pick<Cluster, 'status'> & { nodes(role: 'master'): { ping(): Promise<unknown> }[] };

/**
 * Pings every master each `intervalMs`. `healthy()` is false once no round got an answer from every
 * master for `unhealthyAfterMs`, and true again as soon as one does. A stopped or partitioned node
 * keeps its TCP connection open, so the connection status alone would not notice. One slow round
 * is not an outage: on a busy machine the event loop itself may stall for a second, and every
 * instance shares the cluster, so a hair trigger would take them all out of the balancer at once.
 */
export function watchHealth(cluster: Pingable, intervalMs = 1000, unhealthyAfterMs = 3000): { healthy(): boolean; stop(): void } {
  let lastGood = Date.now();
  let was = true;
  const healthy = () => Date.now() - lastGood < unhealthyAfterMs;
  const round = async () => {
    if (was !== healthy()) {
      was = !was;
      if (was) log.info('redis cluster answers again: ready');
      else log.warn('redis cluster not answering: not ready', { sinceMs: Date.now() - lastGood });
    }
    // Rounds may overlap (each ends within `unhealthyAfterMs`): a late answer to one round does not
    // delay the next one's question.
    const started = Date.now();
    const masters = cluster.nodes('master');
    const answers = await Promise.all(
      masters.map((node) =>
        Promise.race([
          node.ping().then(() => true, () => false),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), unhealthyAfterMs)),
        ]),
      ),
    );
    if (cluster.status === 'ready' && masters.length > 0 && answers.every(Boolean)) lastGood = Math.max(lastGood, started);
  };
  const timer = setInterval(() => void round(), intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return { healthy, stop: () => clearInterval(timer) };
}
