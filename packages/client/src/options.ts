/**
 * Defaults of the client's options, and the URLs and headers that follow from them.
 */
import type { ClientOptions, FetchLike, Timers, WebSocketCtor } from './types.ts';

export type ResolvedOptions = Required<Omit<ClientOptions, 'user' | 'token'>> & Pick<ClientOptions, 'user' | 'token'>;

const globalTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof globalThis.setTimeout>),
};
// Called through a wrapper: browsers refuse `fetch` invoked with another object as `this`.
const globalFetch: FetchLike = (url, init) => globalThis.fetch(url, init);

/** Fills in defaults. Throws `TypeError` when no WebSocket constructor is given or global. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (!WS) throw new TypeError('no WebSocket constructor: pass options.WebSocket');
  return {
    retryDelay: 5000,
    maxRetries: 2,
    heartbeatMs: 30_000,
    fetch: globalFetch,
    timers: globalTimers,
    random: Math.random,
    ...options,
    url: options.url.replace(/\/+$/, ''),
    WebSocket: WS,
  };
}

function token(o: ResolvedOptions): string | undefined {
  return typeof o.token === 'function' ? o.token() : o.token;
}

/** The socket URL: `ws(s)://…/ws?token=…` with a token, else `?user=…` (dev auth). */
export function socketUrl(o: ResolvedOptions): string {
  const t = token(o);
  const query = t !== undefined ? `token=${encodeURIComponent(t)}` : `user=${encodeURIComponent(o.user ?? '')}`;
  return `${o.url.replace(/^http/, 'ws')}/ws?${query}`;
}

/** REST auth headers: `Authorization: Bearer` with a token, else `X-User` (dev auth). */
export function authHeaders(o: ResolvedOptions): Record<string, string> {
  const t = token(o);
  if (t !== undefined) return { authorization: `Bearer ${t}` };
  return o.user !== undefined ? { 'x-user': o.user } : {};
}
