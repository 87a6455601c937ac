/**
 * Comparison server for the idle-memory benchmark: a plain `ws` WebSocketServer on a Node http
 * server, no Hono, with the same socket options as parley (maxPayload 16 KiB, no
 * permessage-deflate) and the README's ping/pong heartbeat. It speaks just enough of parley's
 * protocol for `clients.ts`: `hello` on open, `joined` for a `join` (room membership in a Map of
 * Sets, like a minimal chat server would keep).
 *
 *   PORT=8080 HEARTBEAT_MS=30000 node --import tsx bench/memory/bare-ws.ts
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 30_000);

type Alive = WebSocket & { isAlive?: boolean };
const rooms = new Map<string, Set<WebSocket>>();

const server = createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, maxPayload: 16 * 1024, perMessageDeflate: false });
wss.on('connection', (ws: Alive, req) => {
  const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'anon';
  ws.isAlive = true;
  ws.on('pong', () => {
    ws.isAlive = true;
  });
  ws.on('message', (data) => {
    let f: { type?: string; room?: string };
    try {
      f = JSON.parse(String(data));
    } catch {
      return;
    }
    if (f.type === 'join' && typeof f.room === 'string') {
      let set = rooms.get(f.room);
      if (!set) rooms.set(f.room, (set = new Set()));
      set.add(ws);
      ws.send(JSON.stringify({ type: 'joined', room: f.room, epoch: 'e', seq: 0, recovered: false, messages: [], members: [] }));
    }
  });
  ws.on('close', () => {
    for (const set of rooms.values()) set.delete(ws);
  });
  ws.send(JSON.stringify({ type: 'hello', user, conn: Math.random().toString(36).slice(2), instance: 'bare', heartbeatMs }));
});

const beat = setInterval(() => {
  for (const ws of wss.clients as Set<Alive>) {
    if (ws.isAlive === false) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, heartbeatMs);

server.listen(port, host, () => console.error(`bare-ws listening on ${host}:${port}`));
const stop = () => {
  clearInterval(beat);
  wss.close();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
