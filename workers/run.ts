/**
 * What both workers share, runtime-neutral: their context (configuration, connections to Redis
 * Cluster and MongoDB, metrics registry), the `Job` a worker runs, and `WorkerLoop`, which runs it:
 * init retried with back-off, rounds with back-off after failures, `/health`'s answer, and a clean
 * stop. The process around it (environment, HTTP endpoint, signals, exit) is `runtime.ts`; the
 * stream-reading part of the jobs is `stream-job.ts`.
 */
import type { Cluster } from 'ioredis';
import { Registry } from 'prom-client';
import { log } from '../src/log.ts';
import { type DbSource, MongoLink } from '../src/mongo/connection.ts';
import { connectCluster } from '../src/redis/connection.ts';
import type { WorkerConfig, WorkerKind } from './config.ts';

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

/**
 * Opens a worker's connections: Redis Cluster must be reachable at start (throws
 * `BackendUnavailable` otherwise); MongoDB may be down, and the worker then keeps its place and
 * writes once it is back.
 */
export async function openContext(kind: WorkerKind, config: WorkerConfig): Promise<{ ctx: WorkerContext; close(): Promise<void> }> {
  const redis = await connectCluster({ nodes: config.redisNodes });
  const mongo = new MongoLink(config.mongoUrl, { appName: `parley-${kind}-worker`, timeoutMs: 5000 });
  const registry = new Registry();
  registry.setDefaultLabels({ worker: kind, consumer: config.workerId });
  return {
    ctx: { config, redis, db: mongo.db, registry },
    close: async () => {
      await Promise.allSettled([redis.quit().catch(() => redis.disconnect()), mongo.close()]);
    },
  };
}

/** Back-off after failed rounds: 100 ms doubling up to 5 s. */
const backoff = (failures: number): number => Math.min(100 * 2 ** Math.min(failures - 1, 6), 5000);

/** Runs a job's rounds until stopped. */
export class WorkerLoop {
  readonly #kind: WorkerKind;
  readonly #config: WorkerConfig;
  readonly #job: Job;
  readonly #state = { failures: 0, lastError: '', lastRoundAt: 0, stopping: false };
  #loop: Promise<void> | undefined;
  #wake: (() => void) | null = null;

  constructor(kind: WorkerKind, config: WorkerConfig, job: Job) {
    this.#kind = kind;
    this.#config = config;
    this.#job = job;
  }

  /** Starts the rounds (init first, retried until it succeeds). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** `/health`: healthy while the last round (or init) succeeded and the worker is not stopping. */
  health(): { ok: boolean; body: Record<string, unknown> } {
    const s = this.#state;
    const ok = s.failures === 0 && !s.stopping;
    return {
      ok,
      body: {
        status: s.stopping ? 'stopping' : ok ? 'ok' : 'degraded',
        worker: this.#kind,
        consumer: this.#config.workerId,
        lastError: s.lastError || undefined,
        lastRoundAt: s.lastRoundAt,
        ...this.#job.status(),
      },
    };
  }

  /**
   * Stops after the round in hand: waits for it up to WORKER_STOP_TIMEOUT_MS (what is not finished
   * by then stays pending, for other workers), then closes the job.
   */
  async stop(): Promise<void> {
    if (this.#state.stopping) return;
    this.#state.stopping = true;
    this.#wake?.();
    const timeoutMs = this.#config.stopTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      (this.#loop ?? Promise.resolve()).then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) log.warn('batch in hand not finished in time; left pending for other workers', { timeoutMs });
    await this.#job.close().catch((err: unknown) => log.warn('closing the job failed', { err }));
  }

  async #run(): Promise<void> {
    const state = this.#state;
    for (let ready = false; !ready && !state.stopping; ) {
      try {
        await this.#job.init();
        ready = true;
      } catch (err) {
        state.failures++;
        state.lastError = (err as Error).message;
        log.warn('init failed; retrying', { err });
        await this.#pause(backoff(state.failures));
      }
    }
    state.failures = 0;
    while (!state.stopping) {
      try {
        const done = await this.#job.round();
        if (state.failures > 0) log.info('backends reachable again', { after: state.failures });
        state.failures = 0;
        state.lastError = '';
        state.lastRoundAt = Date.now();
        if (done === 0 && !state.stopping) await this.#pause(this.#config.pollMs);
      } catch (err) {
        state.failures++;
        state.lastError = (err as Error).message;
        if (state.failures === 1 || state.failures % 20 === 0) log.warn('round failed; retrying', { failures: state.failures, err });
        if (!state.stopping) await this.#pause(backoff(state.failures));
      }
    }
  }

  /** Waits `ms`, or less when `stop` wakes it. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}

/**
 * Several jobs run by one worker as one (the presence worker also copies read positions): each
 * round runs every job's round in turn; init and close cover them all. The status is the first
 * job's (the worker's own), with each other job's under its name.
 */
export class Jobs implements Job {
  readonly #jobs: Record<string, Job>;

  constructor(jobs: Record<string, Job>) {
    this.#jobs = jobs;
  }

  async init(): Promise<void> {
    for (const job of Object.values(this.#jobs)) await job.init();
  }

  async round(): Promise<number> {
    let done = 0;
    for (const job of Object.values(this.#jobs)) done += await job.round();
    return done;
  }

  status(): Record<string, unknown> {
    const [first, ...rest] = Object.values(this.#jobs);
    const names = Object.keys(this.#jobs).slice(1);
    return { ...first?.status(), ...Object.fromEntries(rest.map((job, i) => [names[i], job.status()])) };
  }

  async close(): Promise<void> {
    await Promise.allSettled(Object.values(this.#jobs).map((job) => job.close()));
  }
}
