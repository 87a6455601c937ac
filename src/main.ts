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

/** Prints why start-up failed: one line for a configuration error, the error otherwise. */
export function reportStartFailure(err: unknown): void {
  if (err instanceof ConfigError || err instanceof BackendUnavailable) console.error(`parley: ${err.message}`);
  else console.error('parley: failed to start:', err);
}
