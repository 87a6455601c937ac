/**
 * Configuration of the workers (`presence.ts`, `archive.ts`): the only reader of their environment.
 * Every variable is validated; a bad value stops start-up with one line naming it.
 */
import * as v from 'valibot';
import { ConfigError, int, nodeList } from '../src/config.ts';

const Env = v.object({
  REDIS_CLUSTER_NODES: nodeList,
  MONGO_URL: v.pipe(
    v.string('MONGO_URL: required (mongodb://…)'),
    v.regex(/^mongodb(\+srv)?:\/\/\S+$/, 'MONGO_URL: expected a mongodb:// URL'),
  ),
  WORKER_PORT: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,5}$/, 'WORKER_PORT: expected a port from 0 to 65535'),
      v.transform(Number),
      v.maxValue(65535, 'WORKER_PORT: expected a port from 0 to 65535'),
    ),
  ),
  HOST: v.optional(v.pipe(v.string(), v.minLength(1)), '127.0.0.1'),
  WORKER_ID: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'WORKER_ID: expected 1..64 of A-Z a-z 0-9 _ . : -'))),
  WORKER_BATCH: int('WORKER_BATCH', 1, 10_000, 500),
  WORKER_COALESCE_MS: int('WORKER_COALESCE_MS', 0, 10_000, 50),
  WORKER_POLL_MS: int('WORKER_POLL_MS', 1, 10_000, 100),
  WORKER_CLAIM_IDLE_MS: int('WORKER_CLAIM_IDLE_MS', 100, 86_400_000, 30_000),
  WORKER_CLAIM_EVERY_MS: int('WORKER_CLAIM_EVERY_MS', 100, 86_400_000, 5_000),
  WORKER_LEASE_MS: int('WORKER_LEASE_MS', 500, 600_000, 10_000),
  WORKER_STOP_TIMEOUT_MS: int('WORKER_STOP_TIMEOUT_MS', 0, 600_000, 10_000),
  ARCHIVE_SCAN_MS: int('ARCHIVE_SCAN_MS', 0, 86_400_000, 300_000),
  LOG_LEVEL: v.optional(v.picklist(['debug', 'info', 'warn', 'error'], 'LOG_LEVEL: expected debug, info, warn or error'), 'info'),
});

export type WorkerKind = 'presence' | 'archive';

export type WorkerConfig = {
  kind: WorkerKind;
  redisNodes: string[];
  mongoUrl: string;
  /** Port of `/health` and `/metrics` (0: any free port, logged at start). */
  port: number;
  host: string;
  /** Consumer name in the streams' consumer group; unique per live worker. */
  workerId: string;
  /** Entries read per stream partition and round. */
  batch: number;
  /** After a round's first read found entries, how long to wait for more before writing. */
  coalesceMs: number;
  /** Pause after a round that found nothing. */
  pollMs: number;
  /** Entries pending this long at another consumer are taken over (that consumer is presumed dead). */
  claimIdleMs: number;
  claimEveryMs: number;
  /** Presence only: how long a worker's ownership of a stream partition outlives its last renewal. */
  leaseMs: number;
  /** On SIGTERM, how long the batch in hand may take to finish before the worker exits anyway. */
  stopTimeoutMs: number;
  /** Archive only: how often every room log is checked for unarchived messages (0 = only at start). */
  scanMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
};

const DEFAULT_PORTS: Record<WorkerKind, number> = { presence: 9101, archive: 9102 };

export function loadWorkerConfig(kind: WorkerKind, env: Record<string, string | undefined>): WorkerConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, val]) => val !== undefined && val !== ''));
  for (const required of ['REDIS_CLUSTER_NODES', 'MONGO_URL']) {
    if (!(required in present)) throw new ConfigError(`${required}: required`);
  }
  const parsed = v.safeParse(Env, present);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const key = issue.path?.[0]?.key;
    throw new ConfigError(issue.message.includes(':') ? issue.message : `${String(key)}: ${issue.message}`);
  }
  const e = parsed.output;
  return {
    kind,
    redisNodes: e.REDIS_CLUSTER_NODES,
    mongoUrl: e.MONGO_URL,
    port: e.WORKER_PORT ?? DEFAULT_PORTS[kind],
    host: e.HOST,
    workerId: e.WORKER_ID ?? `${kind}-${Math.random().toString(36).slice(2, 10)}`,
    batch: e.WORKER_BATCH,
    coalesceMs: e.WORKER_COALESCE_MS,
    pollMs: e.WORKER_POLL_MS,
    claimIdleMs: e.WORKER_CLAIM_IDLE_MS,
    claimEveryMs: e.WORKER_CLAIM_EVERY_MS,
    leaseMs: e.WORKER_LEASE_MS,
    stopTimeoutMs: e.WORKER_STOP_TIMEOUT_MS,
    scanMs: e.ARCHIVE_SCAN_MS,
    logLevel: e.LOG_LEVEL,
  };
}
