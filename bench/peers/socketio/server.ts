/**
 * The Socket.IO peer: reference design 01 (Node + Socket.IO + Redis Cluster behind HAProxy) as a
 * Socket.IO user would write it, so that the benchmarks have something to compare parley with.
 *
 *   PORT=8101 INSTANCE_ID=chat-1 REDIS_CLUSTER_NODES=127.0.0.1:8020,… node --import tsx bench/peers/socketio/server.ts
 *
 * Messages go to `chat:{<room>}` (a Redis list; the RPUSH reply is the message's seq) and to every
 * socket in the room, on every instance, through the sharded Redis adapter (one shard channel per
 * room). README.md beside this file says what is left out.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { createCluster } from 'redis';
import { Server, type Socket } from 'socket.io';

const PORT = Number(process.env['PORT'] ?? 8101);
const HOST = process.env['HOST'] ?? '127.0.0.1';
const INSTANCE_ID = process.env['INSTANCE_ID'] ?? `socketio-${process.pid}`;
const NODES = (process.env['REDIS_CLUSTER_NODES'] ?? '').split(',').filter(Boolean);
if (NODES.length === 0) throw new Error('REDIS_CLUSTER_NODES: expected host:port,host:port,…');

const USER_RE = /^[A-Za-z0-9_.-]{1,32}$/;
const ROOM_RE = /^[A-Za-z0-9_:.-]{1,100}$/;
const TEXT_MAX = 4000;
const HISTORY_DEFAULT = 50;
const HISTORY_MAX = 200;

/** The room's list; the hash tag keeps it on one slot. */
const roomKey = (room: string) => `chat:{${room}}`;

// Pub/sub and plain commands on separate connections, as in the reference design.
const pubClient = createCluster({ rootNodes: NODES.map((n) => ({ url: `redis://${n}` })) });
const subClient = pubClient.duplicate();
const redis = pubClient.duplicate();
for (const c of [pubClient, subClient, redis]) c.on('error', (err: Error) => console.error(`redis: ${err.message}`));
await Promise.all([pubClient.connect(), subClient.connect(), redis.connect()]);

// ---- REST

function json(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

const fail = (res: ServerResponse, status: number, code: string, message: string) => json(res, status, { error: { code, message } });

async function history(req: IncomingMessage, res: ServerResponse, room: string, query: URLSearchParams): Promise<void> {
  if (!USER_RE.test(String(req.headers['x-user'] ?? ''))) return fail(res, 401, 'unauthorized', 'X-User: expected a user name');
  if (!ROOM_RE.test(room)) return fail(res, 400, 'invalid_request', 'room: invalid name');
  const after = Number(query.get('after') ?? 0);
  const limit = Number(query.get('limit') ?? HISTORY_DEFAULT);
  if (!Number.isSafeInteger(after) || after < 0) return fail(res, 400, 'invalid_request', 'after: not a whole number');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > HISTORY_MAX) return fail(res, 400, 'invalid_request', `limit: 1 to ${HISTORY_MAX}`);
  // Seq n is list index n-1: one more than asked for tells whether there is more.
  const items = await redis.lRange(roomKey(room), after, after + limit);
  const messages = items.slice(0, limit).map((raw, i) => {
    const m = JSON.parse(raw) as { from: string; text: string; ts: number };
    return { room, seq: after + 1 + i, from: m.from, text: m.text, ts: m.ts };
  });
  json(res, 200, { room, messages, hasMore: items.length > limit });
}

let ready = false;
const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET') return fail(res, 405, 'method_not_allowed', 'GET only');
  // `memory` is read by bench/run.ts, as parley's heap gauges are read from its /metrics.
  if (url.pathname === '/health') return json(res, 200, { status: 'ok', instance: INSTANCE_ID, memory: process.memoryUsage() });
  if (url.pathname === '/ready') return ready ? json(res, 200, { status: 'ready' }) : json(res, 503, { status: 'draining' });
  const m = /^\/v1\/rooms\/([^/]+)\/messages$/.exec(url.pathname);
  if (m) {
    history(req, res, decodeURIComponent(m[1] as string), url.searchParams).catch((err: Error) => {
      console.error(`history: ${err.message}`);
      fail(res, 503, 'unavailable', 'storage unavailable');
    });
    return;
  }
  fail(res, 404, 'not_found', 'no such route');
});

// ---- Socket.IO

const io = new Server(http, {
  transports: ['websocket'],
  maxHttpBufferSize: 16 * 1024,
  adapter: createShardedAdapter(pubClient, subClient),
});

// Dev auth, as parley's: `?user=<name>` on the connection URL.
io.use((socket, next) => {
  const user = socket.handshake.query['user'];
  if (typeof user === 'string' && USER_RE.test(user)) {
    socket.data.user = user;
    next();
  } else next(new Error('unauthorized'));
});

type Ack = (answer: unknown) => void;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function onConnection(socket: Socket): void {
  const user = socket.data.user as string;

  socket.on('join', async (body: unknown, ack: Ack) => {
    if (typeof ack !== 'function') return;
    const room = isObj(body) ? body['room'] : undefined;
    if (typeof room !== 'string' || !ROOM_RE.test(room)) return ack({ error: 'invalid_request' });
    try {
      await socket.join(room);
      ack({ room, seq: await redis.lLen(roomKey(room)) });
    } catch (err) {
      console.error(`join: ${(err as Error).message}`);
      ack({ error: 'unavailable' });
    }
  });

  socket.on('send', async (body: unknown, ack: Ack) => {
    if (typeof ack !== 'function') return;
    const { room, text, cid } = isObj(body) ? body : {};
    if (typeof room !== 'string' || !socket.rooms.has(room)) return ack({ cid, error: 'not_joined' });
    if (typeof text !== 'string' || text.length < 1 || text.length > TEXT_MAX) return ack({ cid, error: 'invalid_request' });
    const ts = Date.now();
    try {
      const seq = await redis.rPush(roomKey(room), JSON.stringify({ from: user, text, ts, cid }));
      io.to(room).emit('message', { room, seq, from: user, text, ts, cid });
      ack({ cid, seq, ts });
    } catch (err) {
      console.error(`send: ${(err as Error).message}`);
      ack({ cid, error: 'unavailable' });
    }
  });

  socket.on('heartbeat', (body: unknown, ack: Ack) => {
    if (typeof ack === 'function') ack({ id: isObj(body) ? body['id'] : undefined, success: true });
  });
}

io.on('connection', onConnection);

http.listen(PORT, HOST, () => {
  ready = true;
  console.log(JSON.stringify({ msg: 'listening', instance: INSTANCE_ID, host: HOST, port: PORT, app: 'socketio' }));
});

process.once('SIGTERM', () => {
  ready = false;
  setTimeout(() => process.exit(0), 10_000).unref(); // a stuck close must not keep `stack down` waiting
  // io.close() disconnects every socket, closes the adapter and the http server.
  io.close(() => {
    void Promise.allSettled([pubClient.quit(), subClient.quit(), redis.quit()]).finally(() => process.exit(0));
  });
});
