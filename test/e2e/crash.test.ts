/**
 * An instance crash: `kill -9` one of two instances on one Redis Cluster; the other shows its users
 * offline within two heartbeat intervals (DESIGN.md), with nobody restarting anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { type Server, closeAllClients, connect, rest, startServer, uid } from './server.ts';

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
});
