/**
 * Several chat instances on one Redis Cluster: one conversation across them, with exact ordering,
 * recovery on another instance, presence across instances, and an instance crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, up } from '../../infra/redis/cluster.ts';
import { type Client, type EventOf, type Server, closeAllClients, connect, eventually, refusedUpgrade, rest, sleep, startServer, uid } from './server.ts';

// Long enough that the silent test clients on the Deno instance (where only client frames count
// as signs of life) are not closed mid-test; crash.test.ts runs instances with a short one.
const HEARTBEAT_MS = 5000;
// A cluster of its own: the chat instances here reap expired presence entries, which must not
// race the contract suites' own expiry tests on the shared test cluster.
const BASE_PORT = Number(process.env['PARLEY_TEST_CLUSTER_PORT'] ?? 7300);
let nodes = '';
let servers: Server[] = [];

beforeAll(async () => {
  nodes = (await up({ basePort: BASE_PORT })).nodes.join(',');
  const env = { REDIS_CLUSTER_NODES: nodes, HEARTBEAT_MS: String(HEARTBEAT_MS), LOG_LEVEL: 'warn', SEND_RATE: '1000', SEND_BURST: '1000' };
  // One of the three runs on Deno: instances of either runtime serve the same chat.
  const runtimes = [['a', 'node'], ['b', 'deno'], ['c', 'node']] as const;
  servers = await Promise.all(runtimes.map(([id, runtime]) => startServer(runtime, { ...env, INSTANCE_ID: `inst-${id}` })));
}, 60_000);

afterAll(async () => {
  closeAllClients();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await down({ basePort: BASE_PORT });
});

const at = (i: number): Server => servers[i] as Server;

function messagesOf(c: Client, room: string): EventOf<'message'>[] {
  return c.all('message', (m) => m.room === room);
}

describe('three instances (Node, Deno, Node) on one Redis Cluster', () => {
  it('delivers 1,000 messages from users on every instance to every member, in seq order, once each', async () => {
    const room = uid('room');
    const members = await Promise.all([0, 1, 2, 0, 1, 2].map((i) => connect(at(i), uid('user'))));
    for (const m of members) await m.join(room);
    const senders = members.slice(0, 3);
    const total = 1000;
    for (let i = 0; i < total; i += 30) {
      const window = [];
      for (let k = i; k < Math.min(total, i + 30); k++) window.push((senders[k % 3] as Client).post(room, `m${k}`, `c${k}`));
      await Promise.all(window);
    }
    for (const m of members) {
      await eventually(() => expect(messagesOf(m, room)).toHaveLength(total), 20_000);
      const seqs = messagesOf(m, room).map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(new Set(messagesOf(m, room).map((e) => e.epoch)).size).toBe(1);
    }
    // Operators can see whether pub/sub lost anything that the log had to fill.
    const metrics = await (await fetch(`${at(1).url}/metrics`)).text();
    expect(metrics).toMatch(/^parley_store_events\{event="log_gap_filled",instance="inst-b"\} \d+$/m);
  }, 90_000);

  it('recovers exactly the missed range when a client rejoins on another instance', async () => {
    const room = uid('room');
    const writer = await connect(at(0), uid('writer'));
    await writer.join(room);
    const reader = await connect(at(1), uid('reader'));
    const joined = await reader.join(room);
    for (let i = 0; i < 5; i++) await writer.post(room, `before-${i}`, `b${i}`);
    await eventually(() => expect(messagesOf(reader, room)).toHaveLength(5));
    const last = messagesOf(reader, room).at(-1) as EventOf<'message'>;
    await reader.close();
    for (let i = 0; i < 7; i++) await writer.post(room, `missed-${i}`, `m${i}`);
    const again = await connect(at(2), uid('reader'));
    const resumed = await again.join(room, { epoch: last.epoch, seq: last.seq });
    expect(resumed.epoch).toBe(joined.epoch);
    expect(resumed.recovered).toBe(true);
    expect(resumed.messages.map((m) => m.text)).toEqual(Array.from({ length: 7 }, (_, i) => `missed-${i}`));
    expect(resumed.messages[0]?.seq).toBe(last.seq + 1);
  });

  it('shows presence across instances, and a user with sockets on two instances goes offline only after both close', async () => {
    const room = uid('room');
    const aliceName = uid('alice');
    const alice = await connect(at(0), aliceName);
    await alice.join(room);
    const bobName = uid('bob');
    const bob1 = await connect(at(1), bobName);
    await bob1.join(room);
    await alice.nextOf('presence', (p) => p.user === bobName && p.status === 'online');
    const bob2 = await connect(at(2), bobName);
    const joined = await bob2.join(room);
    expect(joined.members.map((m) => m.user)).toEqual(expect.arrayContaining([bobName, aliceName]));
    await bob1.close();
    await sleep(300);
    expect(alice.all('presence', (p) => p.user === bobName && p.status === 'offline')).toEqual([]);
    expect((await rest(at(0), 'GET', `/v1/users/${bobName}/presence`, { user: 'x' })).json).toMatchObject({ status: 'online' });
    await bob2.close();
    await alice.nextOf('presence', (p) => p.user === bobName && p.status === 'offline');
    expect((await rest(at(1), 'GET', `/v1/users/${bobName}/presence`, { user: 'x' })).json).toMatchObject({ status: 'offline', lastSeen: expect.any(Number) });
  });

  it("counts a user's sockets on every instance against MAX_CONNS_PER_USER (20): the 21st is refused with 429 on any of them", async () => {
    const alice = uid('alice');
    const sockets = [];
    for (let i = 0; i < 20; i++) sockets.push(await connect(at(i % 3), alice));
    // Each instance registers its sockets in presence as they open; wait until all 20 are there.
    await eventually(async () => {
      for (const i of [0, 1, 2]) expect((await refusedUpgrade(at(i), { user: alice })).status).toBe(429);
    }, 5000);
    await sockets[0]?.close();
    await eventually(async () => expect((await connect(at(1), alice)).hello.type).toBe('hello'), 5000);
  });
});
