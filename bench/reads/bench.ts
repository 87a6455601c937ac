/**
 * Read state on Redis Cluster: what one `read` costs Redis, what `GET /v1/conversations` costs for a
 * user in many rooms, and what the unread index adds to the append script.
 *
 *   npx tsx bench/reads/bench.ts [--rooms 1000] [--requests 300] [--reads 1000] [--appends 20000]
 *                                [--base-port 7750]
 *
 * Starts a 6-node Redis Cluster on base-port … base-port+5 and one chat instance (Node) on it, then:
 * 1. appends: `--appends` messages through the room log's own append (one connection, 64 in
 *    flight, 50 rooms), reporting appends/s and the script's server time per call (INFO commandstats);
 * 2. fills `--rooms` rooms: the reader posts once in each (so they are in its list), another user
 *    posts 3 in each;
 * 3. reads: `--reads` `read` frames that move the position, then as many that do not, reporting the
 *    Redis commands each one cost (INFO commandstats summed over the masters); then reactions
 *    (added, and repeated so that nothing changes) and edits, the same way;
 * 4. conversations: `--requests` sequential `GET /v1/conversations` of the reader, reporting p50, p99
 *    and the Redis commands per request.
 * Prints one JSON line with every figure at the end.
 */
import WebSocket from 'ws';
import { down, up } from '../../infra/redis/cluster.ts';
import { connectCluster } from '../../src/redis/connection.ts';
import { RedisRoomLog } from '../../src/rooms/redis.ts';
import { startServer } from '../../test/e2e/server.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : def;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: expected a number`);
  return v;
};
const ROOMS = arg('rooms', 1000);
const REQUESTS = arg('requests', 300);
const READS = arg('reads', 1000);
const APPENDS = arg('appends', 20_000);
const BASE_PORT = arg('base-port', 7750);

type Stats = Map<string, { calls: number; usec: number }>;

/** INFO commandstats of every master, summed per command. */
async function commandStats(nodes: string[]): Promise<Stats> {
  const { Redis } = await import('ioredis');
  const out: Stats = new Map();
  for (const node of nodes) {
    const [host, port] = node.split(':') as [string, string];
    const r = new Redis({ host, port: Number(port), lazyConnect: true });
    await r.connect();
    const role = await r.info('replication');
    if (role.includes('role:master')) {
      for (const line of (await r.info('commandstats')).split('\n')) {
        const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
        if (!m) continue;
        const cur = out.get(m[1] as string) ?? { calls: 0, usec: 0 };
        out.set(m[1] as string, { calls: cur.calls + Number(m[2]), usec: cur.usec + Number(m[3]) });
      }
    }
    r.disconnect();
  }
  return out;
}

/** Commands (calls and server µs) between two snapshots, per unit of work, the noise of the snapshots removed. */
function perUnit(before: Stats, after: Stats, units: number): Record<string, { calls: number; usecPerCall: number }> {
  const out: Record<string, { calls: number; usecPerCall: number }> = {};
  for (const [cmd, a] of after) {
    if (cmd === 'info' || cmd === 'cluster' || cmd === 'ping' || cmd === 'command' || cmd.startsWith('client')) continue;
    const b = before.get(cmd) ?? { calls: 0, usec: 0 };
    const calls = a.calls - b.calls;
    if (calls <= 0) continue;
    out[cmd] = { calls: Math.round((calls / units) * 100) / 100, usecPerCall: Math.round(((a.usec - b.usec) / calls) * 10) / 10 };
  }
  return out;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const ms = (x: number) => Math.round(x * 100) / 100;

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

async function main(): Promise<void> {
  const cluster = await up({ basePort: BASE_PORT });
  const nodes = cluster.nodes;
  const server = await startServer('node', { REDIS_CLUSTER_NODES: nodes.join(','), LOG_LEVEL: 'warn', SEND_RATE: '100000', SEND_BURST: '100000' });
  const results: Record<string, unknown> = { rooms: ROOMS };
  try {
    // 1. The append script alone, from this process.
    if (APPENDS > 0) {
      const redis = await connectCluster({ nodes });
      const log = new RedisRoomLog(redis, { hotWindow: 1000, idempotencyTtlMs: 60_000 });
      const rooms = Array.from({ length: 50 }, (_, i) => `ab-${Date.now().toString(36)}-${i}`);
      const before = await commandStats(nodes);
      const t0 = performance.now();
      await pool(Array.from({ length: APPENDS }, (_, i) => i), 64, async (i) => {
        await log.append(rooms[i % rooms.length] as string, { from: `u${i % 7}`, text: 'append benchmark message', cid: `c${i}` });
      });
      const secs = (performance.now() - t0) / 1000;
      const after = await commandStats(nodes);
      results['append'] = { appendsPerSecond: Math.round(APPENDS / secs), redis: perUnit(before, after, APPENDS) };
      await log.close();
      redis.disconnect();
    }

    // 2. The reader's rooms.
    const reader = `reader-${Date.now().toString(36)}`;
    const rooms = Array.from({ length: ROOMS }, (_, i) => `rd-${Date.now().toString(36)}-${i}`);
    const post = async (user: string, room: string, text: string) => {
      const res = await fetch(`${server.url}/v1/rooms/${room}/messages`, { method: 'POST', headers: { 'x-user': user, 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      if (res.status !== 201) throw new Error(`post: ${res.status} ${await res.text()}`);
    };
    await pool(rooms, 32, async (room) => {
      await post(reader, room, 'mine');
      for (let i = 0; i < 3; i++) await post('writer', room, `theirs ${i}`);
    });

    // 3. Read frames: moving ones, then ones that do not move.
    const ws = new WebSocket(`${server.wsUrl}?user=${reader}`);
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f['type'] === 'batch') frames.push(...(f['events'] as Record<string, unknown>[]));
      else frames.push(f);
    });
    await new Promise((r) => ws.once('open', r));
    const roundTrip = async (frame: object) => {
      const id = `hb${frames.length}-${Math.random()}`;
      ws.send(JSON.stringify(frame));
      ws.send(JSON.stringify({ type: 'heartbeat', id }));
      while (!frames.some((f) => f['id'] === id)) await new Promise((r) => setTimeout(r, 1));
    };
    const reads = Math.min(READS, ROOMS);
    let before = await commandStats(nodes);
    for (let i = 0; i < reads; i++) await roundTrip({ type: 'read', room: rooms[i], seq: 2 + (i % 3) });
    let after = await commandStats(nodes);
    const moved = frames.filter((f) => f['type'] === 'read').length;
    results['readMoved'] = { frames: reads, readEvents: moved, redisPerRead: perUnit(before, after, reads) };
    before = await commandStats(nodes);
    for (let i = 0; i < reads; i++) await roundTrip({ type: 'read', room: rooms[i], seq: 1 });
    after = await commandStats(nodes);
    results['readUnchanged'] = { frames: reads, redisPerRead: perUnit(before, after, reads) };

    // 3b. Reactions and edits (v1.1): 10 emoji on the other user's first message of each of up to
    // 100 rooms (joined first, not measured), then the same again (nothing changes), then an edit
    // of the reader's own message in each.
    const joinedRooms = rooms.slice(0, Math.min(100, ROOMS));
    for (const room of joinedRooms) await roundTrip({ type: 'join', room });
    const emoji = Array.from({ length: 10 }, (_, i) => `e${i}`);
    const reactions = joinedRooms.flatMap((room) => emoji.map((e) => ({ type: 'react', room, seq: 2, emoji: e, on: true })));
    for (const label of ['reactionAdded', 'reactionUnchanged'] as const) {
      before = await commandStats(nodes);
      for (const frame of reactions) await roundTrip(frame);
      after = await commandStats(nodes);
      results[label] = { frames: reactions.length, redisPerReaction: perUnit(before, after, reactions.length) };
    }
    before = await commandStats(nodes);
    for (const room of joinedRooms) await roundTrip({ type: 'edit', room, seq: 1, text: 'mine, edited' });
    after = await commandStats(nodes);
    results['edit'] = { frames: joinedRooms.length, redisPerEdit: perUnit(before, after, joinedRooms.length) };
    const refused = frames.filter((f) => f['type'] === 'error');
    if (refused.length > 0) throw new Error(`refused: ${JSON.stringify(refused.slice(0, 3))}`);
    ws.close();

    // 4. The conversation list.
    const list = async () => {
      const t = performance.now();
      const res = await fetch(`${server.url}/v1/conversations`, { headers: { 'x-user': reader } });
      const body = (await res.json()) as { items: { unread: number }[] };
      if (body.items.length !== ROOMS) throw new Error(`conversations: ${body.items.length} items, expected ${ROOMS}`);
      return { t: performance.now() - t, bytes: JSON.stringify(body).length, unread: body.items.reduce((s, i) => s + i.unread, 0) };
    };
    for (let i = 0; i < 10; i++) await list(); // warm-up
    before = await commandStats(nodes);
    const times: number[] = [];
    let last = { t: 0, bytes: 0, unread: 0 };
    for (let i = 0; i < REQUESTS; i++) {
      last = await list();
      times.push(last.t);
    }
    after = await commandStats(nodes);
    times.sort((a, b) => a - b);
    results['conversations'] = {
      requests: REQUESTS,
      p50Ms: ms(pct(times, 50)),
      p99Ms: ms(pct(times, 99)),
      maxMs: ms(times.at(-1) ?? NaN),
      responseBytes: last.bytes,
      unreadTotal: last.unread,
      redisPerRequest: perUnit(before, after, REQUESTS + 0),
    };
  } finally {
    await server.stop();
    await down({ basePort: BASE_PORT });
  }
  console.log(JSON.stringify(results, null, 1));
}

await main();
