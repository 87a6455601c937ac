/**
 * Redis unreachable for a while (every node stopped, connections left open): the instance stays
 * up, `/ready` answers 503 `degraded`, sends are refused with `unavailable`, and everything works
 * again by itself once Redis answers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Cluster, down, up } from '../../infra/redis/cluster.ts';
import { type Server, closeAllClients, connect, eventually, startServer, uid } from './server.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_OUTAGE_PORT'] ?? 7500);
let cluster: Cluster;
let server: Server;
let pids: number[] = [];

function signalAll(signal: NodeJS.Signals): void {
  for (const pid of pids) process.kill(pid, signal);
}

beforeAll(async () => {
  cluster = await up({ basePort: BASE_PORT });
  pids = cluster.ports.map((p) => Number(readFileSync(join(cluster.dir, String(p), 'redis.pid'), 'utf8')));
  server = await startServer('node', { REDIS_CLUSTER_NODES: cluster.nodes.join(','), LOG_LEVEL: 'error' });
}, 60_000);

afterAll(async () => {
  signalAll('SIGCONT');
  closeAllClients();
  await server.stop('SIGKILL');
  await down({ basePort: BASE_PORT });
});

const ready = async () => {
  const res = await fetch(`${server.url}/ready`);
  return { status: res.status, body: (await res.json()) as { status: string } };
};

it('reports degraded and refuses sends and joins with unavailable while Redis is unreachable, and recovers by itself', async () => {
  const room = uid('room');
  const alice = await connect(server, uid('alice'));
  await alice.join(room);
  await alice.post(room, 'before', 'c-before');
  expect(await ready()).toEqual({ status: 200, body: { status: 'ready' } });

  signalAll('SIGSTOP');
  try {
    await eventually(async () => expect(await ready()).toEqual({ status: 503, body: { status: 'degraded' } }), 10_000, 200);
    alice.send({ type: 'send', room, text: 'during', cid: 'c-during' });
    expect(await alice.nextOf('error', (e) => e.cid === 'c-during', 10_000)).toMatchObject({ code: 'unavailable', room });
    // A join is refused the same way: retry later, not an internal error.
    const other = uid('room');
    alice.send({ type: 'join', room: other });
    expect(await alice.nextOf('error', (e) => e.room === other, 10_000)).toMatchObject({ code: 'unavailable', room: other });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  } finally {
    signalAll('SIGCONT');
  }

  await eventually(async () => expect(await ready()).toEqual({ status: 200, body: { status: 'ready' } }), 15_000, 200);
  const ack = await alice.post(room, 'after', 'c-after');
  expect(ack.seq).toBeGreaterThan(1);
  await alice.nextOf('message', (m) => m.cid === 'c-after');
}, 60_000);
