/** Node entry point: the only Node-specific file. Starts the HTTP + WebSocket server on one port. */
import { serve, upgradeWebSocket } from '@hono/node-server';
import type { WSContext } from 'hono/ws';
import { WebSocket, WebSocketServer } from 'ws';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createStores } from './deps.ts';
import { configureLog, log } from './log.ts';
import { LIMITS } from './protocol.ts';
import type { WsRuntime } from './runtime.ts';

const raw = (ws: WSContext) => ws.raw as WebSocket;

const runtime: WsRuntime = {
  upgradeWebSocket,
  enforcesMaxPayload: true,
  sockets: {
    ping: (ws) => {
      const socket = raw(ws);
      if (socket.readyState === WebSocket.OPEN) socket.ping();
      return true;
    },
    onPong: (ws, listener) => void raw(ws).on('pong', listener),
    terminate: (ws) => raw(ws).terminate(),
    bufferedAmount: (ws) => raw(ws).bufferedAmount,
  },
};

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  configureLog(config.logLevel, { instance: config.instanceId });
  if (config.auth.mode === 'dev') log.warn('AUTH_MODE=dev: any client may claim any user name; never use it in production');
  const stores = await createStores(config);
  const parley = createApp(config, stores, runtime);

  const wss = new WebSocketServer({ noServer: true, maxPayload: LIMITS.frameBytes, perMessageDeflate: false });
  const server = serve(
    { fetch: parley.app.fetch, port: config.port, hostname: config.host, websocket: { server: wss } },
    (info) => {
      parley.ready();
      log.info('listening', { host: config.host, port: info.port, backend: stores.backend, auth: config.auth.mode });
    },
  );
  server.on('error', (err) => {
    log.error('server failed', { err });
    process.exit(1);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await parley.shutdown();
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`parley: ${err.message}`);
  else console.error('parley: failed to start:', err);
  process.exit(1);
});
