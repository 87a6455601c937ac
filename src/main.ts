/** Start-up and shutdown shared by the entry points; the runtime-specific parts are passed in. */
import { type Parley, createApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import type { Stores } from './chat/stores.ts';
import { createStores } from './deps.ts';
import { BackendUnavailable } from './errors.ts';
import { configureLog, log } from './log.ts';
import type { WsRuntime } from './realtime/runtime.ts';

/**
 * Reads the configuration, opens the stores and builds the app with the runtime's WebSocket
 * support (made from the configuration). Throws on a bad configuration.
 */
export async function boot(
  env: Record<string, string | undefined>,
  makeRuntime: (config: Config) => WsRuntime,
): Promise<{ config: Config; stores: Stores; parley: Parley }> {
  const config = loadConfig(env);
  configureLog(config.logLevel, { instance: config.instanceId });
  if (config.auth.mode === 'dev') log.warn('AUTH_MODE=dev: any client may claim any user name; never use it in production');
  const stores = await createStores(config);
  return { config, stores, parley: createApp(config, stores, makeRuntime(config)) };
}

/**
 * The SIGTERM/SIGINT handler: drains once (later signals are ignored), stops the server, exits 0.
 */
export function stopOnce(parley: Parley, stopServer: () => unknown, exit: (code: number) => void): (signal: string) => Promise<void> {
  let stopping = false;
  return async (signal) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    await parley.shutdown();
    await stopServer();
    exit(0);
  };
}

/** The routes the operations port (`OPS_PORT`) answers; anything else there is 404. */
const OPS_PATHS = new Set(['/health', '/ready', '/metrics']);

/**
 * The handler of the operations port: the app's own answers for `/health`, `/ready` and `/metrics`.
 * The port exists for its accept queue. Node 20's libuv accepts one connection per event-loop turn
 * on each listening socket, so in a connect storm a busy instance leaves hundreds of upgrades queued
 * on its main port for seconds; health checks queued behind them time out, and a balancer then
 * takes every instance out at once. On their own port they are accepted on the next turn.
 */
export function opsFetch(fetch: (req: Request) => Response | Promise<Response>): (req: Request) => Response | Promise<Response> {
  return (req) => (OPS_PATHS.has(new URL(req.url).pathname) ? fetch(req) : Response.json({ error: { code: 'not_found', message: 'the operations port answers /health, /ready and /metrics only' } }, { status: 404 }));
}

/** Prints why start-up failed: one line for a configuration error, the error otherwise. */
export function reportStartFailure(err: unknown): void {
  if (err instanceof ConfigError || err instanceof BackendUnavailable) console.error(`parley: ${err.message}`);
  else console.error('parley: failed to start:', err);
}
