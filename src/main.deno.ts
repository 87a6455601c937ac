/** Deno entry point: the only Deno-specific file. Starts the HTTP + WebSocket server on one port. */
import { upgradeWebSocket as denoUpgrade } from 'hono/deno';
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';
import { createStores } from './deps.ts';
import { configureLog, log } from './log.ts';
import type { WsRuntime } from './runtime.ts';

const raw = (ws: WSContext) => ws.raw as WebSocket;

async function main(): Promise<void> {
  const config = loadConfig(Deno.env.toObject());
  configureLog(config.logLevel, { instance: config.instanceId });
  if (config.auth.mode === 'dev') log.warn('AUTH_MODE=dev: any client may claim any user name; never use it in production');

  // Deno has no server-side ping API, so the heartbeat round counts client frames instead (4000
  // after two silent intervals). Deno's own idle ping stays on as a backstop, set later than that.
  const idleTimeout = Math.max(1, Math.ceil((4 * config.heartbeatMs) / 1000));
  const upgradeWebSocket = ((createEvents: Parameters<typeof denoUpgrade>[0]) =>
    denoUpgrade(createEvents as never, { idleTimeout })) as unknown as UpgradeWebSocket;

  const runtime: WsRuntime = {
    upgradeWebSocket,
    enforcesMaxPayload: false,
    sockets: {
      ping: () => false,
      watchLiveness: () => {},
      terminate: (ws) => raw(ws).close(),
      bufferedAmount: (ws) => raw(ws).bufferedAmount,
    },
  };

  const stores = await createStores(config);
  const parley = createApp(config, stores, runtime);
  const server = Deno.serve(
    {
      port: config.port,
      hostname: config.host,
      onListen: ({ port }) => {
        parley.ready();
        log.info('listening', { host: config.host, port, backend: stores.backend, auth: config.auth.mode, runtime: 'deno' });
      },
    },
    parley.app.fetch,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await parley.shutdown();
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener('SIGTERM', () => void stop('SIGTERM'));
  Deno.addSignalListener('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`parley: ${err.message}`);
  else console.error('parley: failed to start:', err);
  Deno.exit(1);
});
