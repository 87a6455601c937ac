/**
 * An instance crash: `kill -9` one of two instances on one Redis Cluster; the other shows its users
 * offline within two heartbeat intervals (DESIGN.md), with nobody restarting anything. And the
 * opposite loss: presence entries of open sockets lost by Redis come back within one interval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { type Server, closeAllClients, connect, eventually, rest, startServer, uid } from './server.ts';

// Every instance of a deployment uses the same HEARTBEAT_MS: presence expiry derives from it.
const HEARTBEAT_MS = 1000;
const BASE_PORT = Number(process.env['PARLEY_TEST_CRASH_PORT'] ?? 7700);
let nodes = '';
const servers: Server[] = [];

beforeAll(async () => {
  nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
}, 60_000);

afterAll(async () => {
  closeAllClients();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await down({ basePort: BASE_PORT });
});

describe('instance crash', () => {
  it('shows the users of a killed instance offline on the others within two heartbeat intervals', async () => {
    const env = { REDIS_CLUSTER_NODES: nodes, HEARTBEAT_MS: String(HEARTBEAT_MS), LOG_LEVEL: 'warn' };
    const [survivor, doomed] = await Promise.all([
      startServer('node', { ...env, INSTANCE_ID: uid('survivor') }),
      startServer('node', { ...env, INSTANCE_ID: uid('doomed') }),
    ]);
    servers.push(survivor, doomed);
    const room = uid('room');
    const watcher = await connect(survivor, uid('watcher'));
    await watcher.join(room);
    const victim = uid('victim');
    const v = await connect(doomed, victim);
    await v.join(room);
    await watcher.nextOf('presence', (p) => p.user === victim && p.status === 'online');
    const killedAt = Date.now();
    await doomed.stop('SIGKILL');
    // The contract is two heartbeat intervals; the margin is for a busy machine, not for the design.
    const offline = await watcher.nextOf('presence', (p) => p.user === victim && p.status === 'offline', 2 * HEARTBEAT_MS + 1500);
    expect(offline.lastSeen).toBeGreaterThan(killedAt - 2 * HEARTBEAT_MS);
    expect(offline.lastSeen).toBeLessThanOrEqual(Date.now());
    expect((await rest(survivor, 'GET', `/v1/users/${victim}/presence`, { user: 'x' })).json).toMatchObject({ status: 'offline' });
    await watcher.heartbeat(); // the surviving instance kept its own sockets
  });

  it('shows a connected user online again within a heartbeat interval after Redis lost its presence entry', async () => {
    // A Redis failover loses the writes the replica had not received yet: here, a user's entries.
    const env = { REDIS_CLUSTER_NODES: nodes, HEARTBEAT_MS: String(HEARTBEAT_MS), LOG_LEVEL: 'warn' };
    const server = await startServer('node', { ...env, INSTANCE_ID: uid('instance') });
    servers.push(server);
    const room = uid('room');
    const [user, watcherName] = [uid('user'), uid('watcher')];
    const u = await connect(server, user);
    await u.join(room);
    const watcher = await connect(server, watcherName);
    await watcher.join(room);
    const redis = await connectCluster({ nodes: nodes.split(',') });
    try {
      // The user's connections and this connection's rooms (src/presence/redis.ts).
      const conn = (u.hello as { conn: string }).conn;
      expect(await redis.del(`parley:{u:${user}}:conns`, `parley:{u:${user}}:connrooms:${conn}`)).toBe(2);
    } finally {
      redis.disconnect();
    }
    // Offline from now until the next presence round (every half interval) registers it again.
    const status = async () => (await rest(server, 'GET', `/v1/users/${user}/presence`, { user: 'x' })).json['status'];
    await eventually(async () => expect(await status()).toBe('online'), HEARTBEAT_MS + 1000, 50);
    const members = (await rest(server, 'GET', `/v1/rooms/${room}/presence`, { user: watcherName })).json['members'] as { user: string }[];
    expect(members.map((m) => m.user)).toContain(user);
    await u.heartbeat();
  });
});
