/**
 * Node entry point: the only Node-specific file. Serves HTTP with `@hono/node-server` and
 * WebSockets with a `ws` server on the same port.
 *
 * The upgrade is wired here rather than through node-server's own helper, which keeps the
 * request, its headers and the Hono context alive for as long as the socket (about 5 KB per
 * idle connection). Here the route's middleware runs as for any request, and an accepted socket
 * keeps only its events object and a small context.
 */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ServerType, createAdaptorServer } from '@hono/node-server';
import { WSContext, type WSEvents, defineWebSocketHelper } from 'hono/ws';
import { WebSocket, WebSocketServer } from 'ws';
import { log } from './log.ts';
import { LIMITS } from '@parley/client/wire';
import { chooseProtocol } from './realtime/codec.ts';
import type { WsRuntime } from './realtime/runtime.ts';
import { boot, opsFetch, reportStartFailure, stopOnce } from './main.ts';

/** Events the `/ws` route registered while handling an upgrade request, until the handshake. */
const accepted = new WeakMap<IncomingMessage, WSEvents<WebSocket>>();

const upgradeWebSocket = defineWebSocketHelper<WebSocket>((c, events) => {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || c.req.header('upgrade')?.toLowerCase() !== 'websocket') return;
  accepted.set(incoming, events);
  return new Response(null);
});

/** Hono's socket context over a `ws` socket, with its methods on the prototype. */
class NodeWSContext extends WSContext<WebSocket> {
  constructor(
    ws: WebSocket,
    readonly events: WSEvents<WebSocket>,
  ) {
    super(NO_INIT);
    this.raw = ws;
  }
  override send(data: string | ArrayBuffer | Uint8Array<ArrayBuffer>): void {
    this.raw?.send(data);
  }
  override close(code?: number, reason?: string): void {
    this.raw?.close(code, reason);
  }
  override get readyState() {
    return (this.raw?.readyState ?? WebSocket.CLOSED) as 0 | 1 | 2 | 3;
  }
}
const NO_INIT = { send() {}, close() {}, readyState: 3 as const, url: null, protocol: null };

// Listeners shared by every socket (`this` is the socket), so a connection costs no closures.
const CTX = Symbol('parley.ctx');
const LIVENESS = Symbol('parley.liveness');
type Socket = WebSocket & { [CTX]: NodeWSContext; [LIVENESS]?: { missed: number } };

function onMessage(this: WebSocket, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
  const ctx = (this as Socket)[CTX];
  // Handlers read only `data`: a plain object spares a MessageEvent per frame.
  const payload = isBinary ? new Uint8Array(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[])).buffer : data.toString();
  ctx.events.onMessage?.({ data: payload } as MessageEvent, ctx);
}
function onClose(this: WebSocket, code: number, reason: Buffer): void {
  const ctx = (this as Socket)[CTX];
  ctx.events.onClose?.({ code, reason: reason.toString() } as CloseEvent, ctx);
}
function onError(this: WebSocket, err: Error): void {
  const ctx = (this as Socket)[CTX];
  ctx.events.onError?.({ type: 'error', error: err } as unknown as Event, ctx);
}
// A closure here would keep the request and its first bytes alive as long as the socket.
function destroyOnError(this: Duplex): void {
  this.destroy();
}
function onPong(this: WebSocket): void {
  const target = (this as Socket)[LIVENESS];
  if (target) target.missed = 0;
}

function acceptUpgrades(server: ServerType, wss: WebSocketServer, fetch: (req: Request, env: object) => Response | Promise<Response>): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', destroyOnError);
    void (async () => {
      let response: Response;
      try {
        response = await fetch(toRequest(req), { incoming: req, outgoing: undefined });
      } catch (err) {
        log.error('upgrade failed', { err });
        response = new Response(null, { status: 500 });
      }
      const events = accepted.get(req);
      accepted.delete(req);
      if (!events) return reject(socket, response);
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const ctx = new NodeWSContext(ws, events);
        (ws as Socket)[CTX] = ctx;
        ws.on('message', onMessage);
        ws.on('close', onClose);
        ws.on('error', onError);
        events.onOpen?.(new Event('open'), ctx);
      });
    })();
  });
}

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, { headers });
}

/** Answers a refused upgrade with the route's status and headers (401, 503 with Retry-After, …). */
function reject(socket: Duplex, response: Response): void {
  if (socket.destroyed) return;
  const status = response.status === 200 ? 400 : response.status;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, 'Connection: close', 'Content-Length: 0'];
  response.headers.forEach((value, key) => {
    if (!/^(connection|content-length|content-type|transfer-encoding|upgrade)$/i.test(key)) lines.push(`${key}: ${value}`);
  });
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

const raw = (ws: WSContext) => ws.raw as Socket;

const runtime: WsRuntime = {
  upgradeWebSocket,
  sockets: {
    // Encoded once per frame, however many sockets it goes to; `binary: false` keeps it a text frame.
    send: (ws, frame) => raw(ws).send((frame.bytes ??= Buffer.from(frame.text)), { binary: false }),
    sendBinary: (ws, data) => raw(ws).send(data, { binary: true }),
    ping: (ws) => {
      const socket = raw(ws);
      if (socket.readyState === WebSocket.OPEN) socket.ping();
      return true;
    },
    watchLiveness: (ws, target) => {
      const socket = raw(ws);
      socket[LIVENESS] = target;
      socket.on('pong', onPong);
    },
    terminate: (ws) => raw(ws).terminate(),
    bufferedAmount: (ws) => raw(ws).bufferedAmount,
  },
};

async function main(): Promise<void> {
  const { config, stores, parley } = await boot(process.env, () => runtime);
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: LIMITS.frameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    // The route picked the socket's encoding from the same header; `ws` alone would echo the first offer.
    handleProtocols: (_offered, req) => chooseProtocol(req.headers['sec-websocket-protocol']) ?? false,
  });
  // Listening here rather than through `serve()`, which leaves Node's backlog at 511: a connect storm
  // on a busy instance overflows that, and the balancer's connects then time out instead of waiting.
  const server = createAdaptorServer({ fetch: parley.app.fetch, hostname: config.host });
  server.listen({ port: config.port, host: config.host, backlog: config.listenBacklog }, () => {
    parley.ready();
    const address = server.address();
    log.info('listening', { host: config.host, port: typeof address === 'object' && address ? address.port : config.port, backend: stores.backend, auth: config.auth.mode });
  });
  acceptUpgrades(server, wss, parley.app.fetch);
  server.on('error', (err) => {
    log.error('server failed', { err });
    process.exit(1);
  });
  const ops = config.opsPort === null ? null : createAdaptorServer({ fetch: opsFetch(parley.app.fetch), hostname: config.host });
  ops?.listen({ port: config.opsPort, host: config.host }, () => log.info('operations port listening', { port: config.opsPort }));
  ops?.on('error', (err) => {
    log.error('operations port failed', { err });
    process.exit(1);
  });
  const stop = stopOnce(parley, () => {
    ops?.close();
    return server.close();
  }, (code) => process.exit(code));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  reportStartFailure(err);
  process.exit(1);
});
