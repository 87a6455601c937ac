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
    authInUrl: false,
    encoding: 'json',
    ...options,
    url: options.url.replace(/\/+$/, ''),
    WebSocket: WS,
  };
}

/**
 * The socket URL: `ws(s)://…/ws`, the credentials sent in the first frame; with `authInUrl`
 * `?token=…` with a token, else `?user=…` (dev auth).
 */
export function socketUrl(o: ResolvedOptions, token: string | undefined): string {
  const base = `${o.url.replace(/^http/, 'ws')}/ws`;
  if (!o.authInUrl) return base;
  const query = token !== undefined ? `token=${encodeURIComponent(token)}` : `user=${encodeURIComponent(o.user ?? '')}`;
  return `${base}?${query}`;
}

/** REST auth headers: `Authorization: Bearer` with a token (asked of the provider), else `X-User` (dev auth). */
export async function authHeaders(o: ResolvedOptions): Promise<Record<string, string>> {
  const t = typeof o.token === 'function' ? await o.token() : o.token;
  if (t !== undefined) return { authorization: `Bearer ${t}` };
  return o.user !== undefined ? { 'x-user': o.user } : {};
}
