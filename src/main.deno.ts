/** Deno entry point: the only Deno-specific file. Starts the HTTP + WebSocket server on one port. */
import { upgradeWebSocket as denoUpgrade } from 'hono/deno';
import type { Context, Next } from 'hono';
import type { UpgradeWebSocket, WSContext } from 'hono/ws';
import type { Config } from './config.ts';
import { log } from './log.ts';
import { chooseProtocol } from './realtime/codec.ts';
import type { WsRuntime } from './realtime/runtime.ts';
import { boot, opsFetch, reportStartFailure, stopOnce } from './main.ts';

const raw = (ws: WSContext) => ws.raw as WebSocket;

/**
 * The subprotocol to answer, when Deno can: it refuses the upgrade (500) unless the protocol is in
 * the offer split at ", ", as browsers and Deno write it. An offer of several joined by "," alone
 * (Node's `ws` client) gets no subprotocol, and the client fails the handshake as for one the
 * server does not speak; a single offer always works.
 */
function answerable(header: string | undefined): string | undefined {
  const protocol = chooseProtocol(header);
  return protocol !== undefined && header?.split(', ').includes(protocol) ? protocol : undefined;
}

/**
 * Deno has no server-side ping API, so the heartbeat round counts client frames instead (4000
 * after two silent intervals). Deno's own idle ping stays on as a backstop, set later than that.
 * The subprotocol is chosen per request, as the route chooses the encoding (hono's helper alone
 * would echo the client's first offer); server sockets receive binary frames as ArrayBuffers.
 */
function denoRuntime(config: Config): WsRuntime {
  const idleTimeout = Math.max(1, Math.ceil((4 * config.heartbeatMs) / 1000));
  const upgradeWebSocket = ((createEvents: Parameters<typeof denoUpgrade>[0]) => (c: Context, next: Next) =>
    denoUpgrade(createEvents as never, { idleTimeout, protocol: answerable(c.req.header('sec-websocket-protocol')) })(c, next)) as unknown as UpgradeWebSocket;
  return {
    upgradeWebSocket,
    sockets: {
      send: (ws, frame) => ws.send(frame.text),
      sendBinary: (ws, data) => raw(ws).send(data),
      ping: () => false,
      watchLiveness: () => {},
      terminate: (ws) => raw(ws).close(),
      bufferedAmount: (ws) => raw(ws).bufferedAmount,
    },
  };
}

async function main(): Promise<void> {
  const { config, stores, parley } = await boot(Deno.env.toObject(), denoRuntime);
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

  const ops = config.opsPort === null ? null : Deno.serve(
    { port: config.opsPort, hostname: config.host, onListen: ({ port }) => log.info('operations port listening', { port }) },
    opsFetch(parley.app.fetch),
  );
  const stop = stopOnce(parley, async () => {
    await ops?.shutdown();
    await server.shutdown();
  }, (code) => Deno.exit(code));
  Deno.addSignalListener('SIGTERM', () => void stop('SIGTERM'));
  Deno.addSignalListener('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  reportStartFailure(err);
  Deno.exit(1);
});
