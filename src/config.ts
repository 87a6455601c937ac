/**
 * The service's configuration: the only reader of the environment. Every variable is validated;
 * a bad value stops start-up with one line naming the variable and what was expected.
 */
import * as v from 'valibot';

/** A whole number in [min, max] read from an environment string, with a default. */
export const int = (name: string, min: number, max: number, fallback: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.regex(/^\d+$/, `${name}: expected a whole number from ${min} to ${max}`),
    v.transform(Number),
    v.minValue(min, `${name}: expected a whole number from ${min} to ${max}`),
    v.maxValue(max, `${name}: expected a whole number from ${min} to ${max}`),
  );

/** `host:port,host:port,…` as a list. */
export const nodeList = v.pipe(
  v.string(),
  v.trim(),
  v.regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'REDIS_CLUSTER_NODES: expected host:port,host:port,…'),
  v.transform((s) => s.split(',')),
);

const Env = v.object({
  PORT: int('PORT', 0, 65535, 8080),
  HOST: v.optional(v.pipe(v.string(), v.minLength(1)), '0.0.0.0'),
  INSTANCE_ID: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'INSTANCE_ID: expected 1..64 of A-Z a-z 0-9 _ . -')),
  ),
  NODE_ENV: v.optional(v.string(), 'development'),
  AUTH_MODE: v.optional(v.picklist(['dev', 'jwt'], 'AUTH_MODE: expected "dev" or "jwt"')),
  JWT_SECRET: v.optional(v.pipe(v.string(), v.minLength(16, 'JWT_SECRET: expected at least 16 characters'))),
  HEARTBEAT_MS: int('HEARTBEAT_MS', 100, 600_000, 30_000),
  AUTH_TIMEOUT_MS: int('AUTH_TIMEOUT_MS', 100, 600_000, 10_000),
  TOKEN_GRACE_MS: int('TOKEN_GRACE_MS', 0, 86_400_000, 60_000),
  REDIS_CLUSTER_NODES: v.optional(nodeList),
  MONGO_URL: v.optional(
    v.pipe(v.string(), v.regex(/^mongodb(\+srv)?:\/\/\S+$/, 'MONGO_URL: expected a mongodb:// URL')),
  ),
  MAX_CONNECTIONS: int('MAX_CONNECTIONS', 1, 1_000_000, 15_000),
  LISTEN_BACKLOG: int('LISTEN_BACKLOG', 1, 1_000_000, 4096),
  OPS_PORT: v.optional(int('OPS_PORT', 1, 65535, 0)),
  HOT_WINDOW: int('HOT_WINDOW', 10, 1_000_000, 1000),
  SEND_RATE: int('SEND_RATE', 1, 100_000, 20),
  SEND_BURST: int('SEND_BURST', 1, 100_000, 40),
  TYPING_RATE: int('TYPING_RATE', 1, 100_000, 20),
  TYPING_BURST: int('TYPING_BURST', 1, 100_000, 40),
  JOIN_RATE: int('JOIN_RATE', 1, 100_000, 10),
  JOIN_BURST: int('JOIN_BURST', 1, 100_000, 100),
  MAX_ROOMS_PER_CONN: int('MAX_ROOMS_PER_CONN', 1, 100_000, 100),
  MAX_CONNS_PER_USER: int('MAX_CONNS_PER_USER', 1, 1_000_000, 20),
  ABUSE_BAR_MS: int('ABUSE_BAR_MS', 0, 86_400_000, 10_000),
  GROUP_ROSTER_MAX: int('GROUP_ROSTER_MAX', 0, 1000, 100),
  IDEMPOTENCY_TTL_MS: int('IDEMPOTENCY_TTL_MS', 1000, 7 * 86_400_000, 86_400_000),
  DRAIN_BATCH: int('DRAIN_BATCH', 1, 1_000_000, 1000),
  DRAIN_INTERVAL_MS: int('DRAIN_INTERVAL_MS', 0, 60_000, 500),
  DRAIN_GRACE_MS: int('DRAIN_GRACE_MS', 0, 600_000, 2000),
  SEND_BUFFER_SOFT: int('SEND_BUFFER_SOFT', 1024, 1 << 30, 256 * 1024),
  SEND_BUFFER_HARD: int('SEND_BUFFER_HARD', 1024, 1 << 30, 1024 * 1024),
  BATCH_WINDOW_MS: int('BATCH_WINDOW_MS', 0, 1000, 0),
  LOG_LEVEL: v.optional(v.picklist(['debug', 'info', 'warn', 'error'], 'LOG_LEVEL: expected debug, info, warn or error'), 'info'),
});

export type Config = {
  port: number;
  host: string;
  instanceId: string;
  production: boolean;
  auth: { mode: 'dev' } | { mode: 'jwt'; secret: string };
  heartbeatMs: number;
  /** How long a socket opened without credentials in the URL has to send its `auth` frame. */
  authTimeoutMs: number;
  /** After a socket's token expires, how long it has to send a fresh one before it is closed with 4001. */
  tokenGraceMs: number;
  redisNodes: string[] | undefined;
  mongoUrl: string | undefined;
  maxConnections: number;
  /** Connections the kernel queues for `accept` (Node; the kernel caps it at net.core.somaxconn). */
  listenBacklog: number;
  /** A second port for `/health`, `/ready` and `/metrics` only (its own accept queue); null: none. */
  opsPort: number | null;
  hotWindow: number;
  /** Per-connection token buckets: messages, typing events, joins. */
  rates: { send: { rate: number; burst: number }; typing: { rate: number; burst: number }; join: { rate: number; burst: number } };
  /**
   * Rooms one connection may have joined; live connections one user may have on every instance
   * together; how long a user whose socket was closed for abuse may open no new one (0: not at all);
   * the largest group whose `joined.members` lists every member with its status (larger groups list
   * the members in the room right now, as a public room does: a join must not read a thousand users).
   */
  limits: { roomsPerConn: number; connsPerUser: number; abuseBarMs: number; groupRosterMax: number };
  idempotencyTtlMs: number;
  /**
   * On SIGTERM: `graceMs` with `/ready` 503 while still serving (for the load balancer to notice),
   * then sockets closed `batch` every `intervalMs`.
   */
  drain: { batch: number; intervalMs: number; graceMs: number };
  sendBuffer: { soft: number; hard: number };
  /**
   * While a socket's send buffer is not empty (the network or the client is behind), the least time
   * between two frames to it: what arrives meanwhile goes out together in one `batch` frame. 0 sends
   * after the current turn of the event loop (what arrived in it is batched). A socket that keeps up
   * is never held, so the window costs it no latency.
   */
  batchWindowMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates the configuration; throws `ConfigError` with a one-line message. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset", as in most process managers' env files.
  const present = Object.fromEntries(Object.entries(env).filter(([, val]) => val !== undefined && val !== ''));
  const parsed = v.safeParse(Env, present);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const key = issue.path?.[0]?.key;
    const msg = issue.message.includes(':') ? issue.message : `${String(key)}: ${issue.message}`;
    throw new ConfigError(msg);
  }
  const e = parsed.output;
  const production = e.NODE_ENV === 'production';
  const mode = e.AUTH_MODE ?? (production ? 'jwt' : 'dev');
  if (production && mode === 'dev') {
    throw new ConfigError('AUTH_MODE: "dev" is refused when NODE_ENV=production; use "jwt" with JWT_SECRET');
  }
  if (mode === 'jwt' && !e.JWT_SECRET) {
    throw new ConfigError('JWT_SECRET: required when AUTH_MODE=jwt');
  }
  if (e.OPS_PORT !== undefined && e.OPS_PORT === e.PORT) {
    throw new ConfigError('OPS_PORT: expected a port other than PORT');
  }
  if (e.SEND_BUFFER_SOFT > e.SEND_BUFFER_HARD) {
    throw new ConfigError('SEND_BUFFER_SOFT: expected no more than SEND_BUFFER_HARD');
  }
  return {
    port: e.PORT,
    host: e.HOST,
    instanceId: e.INSTANCE_ID ?? `i-${Math.random().toString(36).slice(2, 10)}`,
    production,
    auth: mode === 'jwt' ? { mode, secret: e.JWT_SECRET as string } : { mode },
    heartbeatMs: e.HEARTBEAT_MS,
    authTimeoutMs: e.AUTH_TIMEOUT_MS,
    tokenGraceMs: e.TOKEN_GRACE_MS,
    redisNodes: e.REDIS_CLUSTER_NODES,
    mongoUrl: e.MONGO_URL,
    maxConnections: e.MAX_CONNECTIONS,
    listenBacklog: e.LISTEN_BACKLOG,
    opsPort: e.OPS_PORT ?? null,
    hotWindow: e.HOT_WINDOW,
    rates: {
      send: { rate: e.SEND_RATE, burst: e.SEND_BURST },
      typing: { rate: e.TYPING_RATE, burst: e.TYPING_BURST },
      join: { rate: e.JOIN_RATE, burst: e.JOIN_BURST },
    },
    limits: { roomsPerConn: e.MAX_ROOMS_PER_CONN, connsPerUser: e.MAX_CONNS_PER_USER, abuseBarMs: e.ABUSE_BAR_MS, groupRosterMax: e.GROUP_ROSTER_MAX },
    idempotencyTtlMs: e.IDEMPOTENCY_TTL_MS,
    drain: { batch: e.DRAIN_BATCH, intervalMs: e.DRAIN_INTERVAL_MS, graceMs: e.DRAIN_GRACE_MS },
    sendBuffer: { soft: e.SEND_BUFFER_SOFT, hard: e.SEND_BUFFER_HARD },
    batchWindowMs: e.BATCH_WINDOW_MS,
    logLevel: e.LOG_LEVEL,
  };
}
