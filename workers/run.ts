/**
 * What both workers share: configuration, connections to Redis Cluster and MongoDB, the `/health`
 * and `/metrics` endpoint, the round loop with back-off, and a clean stop on SIGTERM. Runs on Node
 * and Deno alike (only `node:` modules both provide).
 */
import { createServer } from 'node:http';
import process from 'node:process';
import type { Cluster } from 'ioredis';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError } from '../src/config.ts';
import { configureLog, log } from '../src/log.ts';
import { type DbSource, MongoLink, redact } from '../src/mongo.ts';
import { connectCluster } from '../src/redis.ts';
import { type WorkerConfig, type WorkerKind, loadWorkerConfig } from './config.ts';

export type WorkerContext = { config: WorkerConfig; redis: Cluster; db: DbSource; registry: Registry };

/** A worker's job: rounds of reading, writing and acknowledging. */
export interface Job {
  /** Runs once before the first round (e.g. creating consumer groups); retried until it succeeds. */
  init(): Promise<void>;
  /**
   * One round. Returns how many entries it finished (0: nothing to do, the loop pauses). Throws
   * when a backend fails: what it had in hand is kept for the next round, nothing is acknowledged.
   */
  round(): Promise<number>;
  /** Details for `/health` and the log. */
  status(): Record<string, unknown>;
  /** After the last round, before the connections close (e.g. giving back partition leases). */
  close(): Promise<void>;
}

/** Back-off after failed rounds: 100 ms doubling up to 5 s. */
const backoff = (failures: number): number => Math.min(100 * 2 ** Math.min(failures - 1, 6), 5000);

export async function runWorker(kind: WorkerKind, makeJob: (ctx: WorkerContext) => Job): Promise<void> {
  let config: WorkerConfig;
  try {
    config = loadWorkerConfig(kind, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`parley ${kind} worker: ${err.message}`);
    process.exit(1);
  }
  configureLog(config.logLevel, { worker: kind, consumer: config.workerId });

  let redis: Cluster;
  try {
    redis = await connectCluster({ nodes: config.redisNodes });
  } catch (err) {
    log.error('start failed', { err });
    process.exit(1);
  }
  // MongoDB may be down at start: the worker then keeps its place and writes once it is back.
  const mongo = new MongoLink(config.mongoUrl, { appName: `parley-${kind}-worker`, timeoutMs: 5000 });
  const registry = new Registry();
  registry.setDefaultLabels({ worker: kind, consumer: config.workerId });
  try {
    collectDefaultMetrics({ register: registry });
  } catch {
    // Some runtimes lack parts of the process API the default collectors read.
  }
  const job = makeJob({ config, redis, db: mongo.db, registry });

  const state = { failures: 0, lastError: '', lastRoundAt: 0, stopping: false };
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (req.url === '/health') {
      const ok = state.failures === 0 && !state.stopping;
      const body = { status: state.stopping ? 'stopping' : ok ? 'ok' : 'degraded', worker: kind, consumer: config.workerId, lastError: state.lastError || undefined, lastRoundAt: state.lastRoundAt, ...job.status() };
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info('worker started', { port, redis: config.redisNodes.join(','), mongo: redact(config.mongoUrl) });

  let wake: (() => void) | null = null;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = null;
        resolve();
      }
      wake = done;
    });

  const loop = (async () => {
    for (let ready = false; !ready && !state.stopping; ) {
      try {
        await job.init();
        ready = true;
      } catch (err) {
        state.failures++;
        state.lastError = (err as Error).message;
        log.warn('init failed; retrying', { err });
        await pause(backoff(state.failures));
      }
    }
    state.failures = 0;
    while (!state.stopping) {
      try {
        const done = await job.round();
        if (state.failures > 0) log.info('backends reachable again', { after: state.failures });
        state.failures = 0;
        state.lastError = '';
        state.lastRoundAt = Date.now();
        if (done === 0 && !state.stopping) await pause(config.pollMs);
      } catch (err) {
        state.failures++;
        state.lastError = (err as Error).message;
        if (state.failures === 1 || state.failures % 20 === 0) log.warn('round failed; retrying', { failures: state.failures, err });
        if (!state.stopping) await pause(backoff(state.failures));
      }
    }
  })();

  const stop = async (signal: string) => {
    if (state.stopping) return;
    state.stopping = true;
    log.info('stopping: finishing the batch in hand', { signal });
    wake?.();
    const timedOut = await Promise.race([
      loop.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), config.stopTimeoutMs).unref?.()),
    ]);
    if (timedOut) log.warn('batch in hand not finished in time; left pending for other workers', { timeoutMs: config.stopTimeoutMs });
    await job.close().catch((err: unknown) => log.warn('closing the job failed', { err }));
    server.close();
    await Promise.allSettled([redis.quit().catch(() => redis.disconnect()), mongo.close()]);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
