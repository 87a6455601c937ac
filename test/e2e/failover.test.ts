/**
 * Redis failover under load: the master that owns a busy room is killed; once the cluster has
 * promoted its replica, sends succeed again without restarting anything, and every client's view
 * of the room is gapless (what pub/sub lost in the gap is filled from the room log).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Cluster, down, up } from '../../infra/redis/cluster.ts';
import { type Client, type Server, closeAllClients, connect, eventually, sleep, startServer, uid } from './server.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_FAILOVER_PORT'] ?? 7200);
let cluster: Cluster;
let servers: Server[] = [];

beforeAll(async () => {
  cluster = await up({ basePort: BASE_PORT });
  const env = { REDIS_CLUSTER_NODES: cluster.nodes.join(','), LOG_LEVEL: 'warn', SEND_RATE: '1000', SEND_BURST: '1000' };
  servers = await Promise.all(['f1', 'f2'].map((id) => startServer('node', { ...env, INSTANCE_ID: id })));
}, 60_000);

afterAll(async () => {
  closeAllClients();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await down({ basePort: BASE_PORT });
});

function redis(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
}

/** The port of the master serving the slot of `key`. */
function masterOf(key: string): number {
  const slot = Number(redis(BASE_PORT, 'cluster', 'keyslot', key).trim());
  for (const line of redis(BASE_PORT, 'cluster', 'nodes').trim().split('\n')) {
    const [, addr, flags, , , , , , ...ranges] = line.split(' ');
    if (!flags?.includes('master') || flags.includes('fail')) continue;
    for (const r of ranges) {
      const [lo, hi = lo] = r.split('-').map(Number);
      if (lo !== undefined && hi !== undefined && slot >= lo && slot <= hi) return Number(addr?.split(':')[1]?.split('@')[0]);
    }
  }
  throw new Error(`no master for slot ${slot}`);
}

let refused = 0;

/** Sends until acknowledged, retrying the same cid while the backend is unavailable. */
async function sendReliably(c: Client, room: string, text: string, cid: string): Promise<void> {
  for (;;) {
    c.send({ type: 'send', room, text, cid });
    const answer = await c.next((e) => (e.type === 'ack' || e.type === 'error') && 'cid' in e && e.cid === cid, 15_000);
    if (answer.type === 'ack') return;
    expect(answer, JSON.stringify(answer)).toMatchObject({ code: 'unavailable' });
    refused++;
    await sleep(250);
  }
}

it('keeps a busy room gapless through a master failover', async () => {
  const room = uid('busy');
  const readers = await Promise.all([0, 1, 0, 1].map((i) => connect(servers[i % 2] as Server, uid('reader'))));
  for (const r of readers) await r.join(room);
  const writer = await connect(servers[0] as Server, uid('writer'));
  await writer.join(room);

  let sent = 0;
  let stop = false;
  const load = (async () => {
    while (!stop) {
      await sendReliably(writer, room, `m${sent}`, `c${sent}`);
      sent++;
      await sleep(20);
    }
  })();
  await eventually(() => expect(sent).toBeGreaterThan(50), 10_000);

  const port = masterOf(`parley:{${room}}:log`);
  const pid = Number(readFileSync(join(cluster.dir, String(port), 'redis.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  const killedAt = sent;
  const killedTime = Date.now();
  // Sends resume once the replica is promoted (cluster-node-timeout 5 s, about 8 s here).
  await eventually(() => expect(sent).toBeGreaterThan(killedAt + 1), 40_000, 20);
  const blockedMs = Date.now() - killedTime;
  await eventually(() => expect(sent).toBeGreaterThan(killedAt + 50), 40_000, 200);
  stop = true;
  await load;

  for (const r of readers) {
    await eventually(() => expect(r.all('message', (m) => m.room === room).length).toBeGreaterThanOrEqual(sent), 20_000);
    const seqs = r.all('message', (m) => m.room === room).map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  }
  console.log(`failover: sends blocked ${(blockedMs / 1000).toFixed(1)} s, ${refused} refusals answered 'unavailable', ${sent} messages`);
}, 120_000);
