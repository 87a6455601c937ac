/** `loadConfig`: defaults, and one clear line naming the variable for each bad value. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const SECRET = 'sixteen-chars-ok';

describe('loadConfig', () => {
  it('runs embedded with documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      production: false,
      auth: { mode: 'dev' },
      heartbeatMs: 30_000,
      authTimeoutMs: 10_000,
      tokenGraceMs: 60_000,
      redisNodes: undefined,
      mongoUrl: undefined,
      maxConnections: 15_000,
      hotWindow: 1000,
      rates: { send: { rate: 20, burst: 40 }, typing: { rate: 20, burst: 40 }, join: { rate: 10, burst: 100 } },
      limits: { roomsPerConn: 100, connsPerUser: 20 },
    });
    expect(c.instanceId).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
    expect(loadConfig({}).instanceId).not.toBe(c.instanceId); // instances tell themselves apart
  });

  it('reads the documented variables', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '127.0.0.1',
      INSTANCE_ID: 'chat-1',
      HEARTBEAT_MS: '5000',
      REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
      MONGO_URL: 'mongodb://127.0.0.1:27017',
      MAX_CONNECTIONS: '100',
      LISTEN_BACKLOG: '1024',
      SEND_RATE: '5',
      SEND_BURST: '10',
      JOIN_RATE: '2',
      JOIN_BURST: '3',
      MAX_ROOMS_PER_CONN: '7',
      MAX_CONNS_PER_USER: '4',
      AUTH_TIMEOUT_MS: '2500',
      TOKEN_GRACE_MS: '0',
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '127.0.0.1',
      instanceId: 'chat-1',
      heartbeatMs: 5000,
      mongoUrl: 'mongodb://127.0.0.1:27017',
      maxConnections: 100,
      listenBacklog: 1024,
      rates: { send: { rate: 5, burst: 10 }, join: { rate: 2, burst: 3 } },
      limits: { roomsPerConn: 7, connsPerUser: 4 },
      authTimeoutMs: 2500,
      tokenGraceMs: 0,
    });
    expect(c.redisNodes).toEqual(['127.0.0.1:7000', '127.0.0.1:7001']);
  });

  it('has no operations port unless OPS_PORT names one', () => {
    expect(loadConfig({}).opsPort).toBeNull();
    expect(loadConfig({ OPS_PORT: '' }).opsPort).toBeNull();
    expect(loadConfig({ PORT: '9000', OPS_PORT: '9001' }).opsPort).toBe(9001);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', AUTH_MODE: '', REDIS_CLUSTER_NODES: '' })).toMatchObject({ port: 8080, auth: { mode: 'dev' }, redisNodes: undefined });
  });

  it('uses jwt in production, with the secret', () => {
    const c = loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET });
    expect(c.production).toBe(true);
    expect(c.auth).toEqual({ mode: 'jwt', secret: SECRET });
    expect(loadConfig({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET }).auth).toEqual({ mode: 'jwt', secret: SECRET });
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['HEARTBEAT_MS', { HEARTBEAT_MS: '5' }],
    ['AUTH_TIMEOUT_MS', { AUTH_TIMEOUT_MS: '10' }],
    ['TOKEN_GRACE_MS', { TOKEN_GRACE_MS: '-1' }],
    ['AUTH_MODE', { AUTH_MODE: 'foo' }],
    ['JWT_SECRET', { AUTH_MODE: 'jwt' }],
    ['JWT_SECRET', { AUTH_MODE: 'jwt', JWT_SECRET: 'too-short' }],
    ['AUTH_MODE', { NODE_ENV: 'production', AUTH_MODE: 'dev', JWT_SECRET: SECRET }],
    ['JWT_SECRET', { NODE_ENV: 'production' }],
    ['REDIS_CLUSTER_NODES', { REDIS_CLUSTER_NODES: 'localhost' }],
    ['REDIS_CLUSTER_NODES', { REDIS_CLUSTER_NODES: 'a:1,,b:2' }],
    ['REDIS_CLUSTER_NODES', { REDIS_CLUSTER_NODES: 'a:port' }],
    ['MONGO_URL', { MONGO_URL: 'http://db' }],
    ['INSTANCE_ID', { INSTANCE_ID: 'has space' }],
    ['MAX_CONNECTIONS', { MAX_CONNECTIONS: '0' }],
    ['LISTEN_BACKLOG', { LISTEN_BACKLOG: '0' }],
    ['OPS_PORT', { OPS_PORT: '70000' }],
    ['OPS_PORT', { PORT: '9000', OPS_PORT: '9000' }],
    ['SEND_BUFFER_SOFT', { SEND_BUFFER_SOFT: '4096', SEND_BUFFER_HARD: '2048' }],
  ] as const)('refuses a bad %s with a ConfigError naming it: %o', (name, env) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as Error).message;
    expect(message.startsWith(`${name}:`)).toBe(true);
    expect(message).not.toContain('\n');
  });
});
