/**
 * Credentials for the socket and REST (protocol v1.1, "authentication outside the URL"): the token
 * now, from a string or a token provider; the `auth` frame; and when to fetch a fresh token before
 * the current one expires.
 */
import type { ResolvedOptions } from './options.ts';

/** A token now, one later (an async provider), or none (dev auth). A sync provider that throws gives a rejected promise. */
export function currentToken(o: ResolvedOptions): string | undefined | Promise<string> {
  if (typeof o.token !== 'function') return o.token;
  try {
    return o.token();
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Whether the value is a promise (of a token). */
export function isPromise<T>(x: unknown): x is Promise<T> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** The first frame of a socket opened without credentials in the URL, and a re-authentication. */
export function authFrame(o: ResolvedOptions, token: string | undefined): { type: 'auth'; token: string } | { type: 'auth'; user: string } {
  return token !== undefined ? { type: 'auth', token } : { type: 'auth', user: o.user ?? '' };
}

/** The `exp` of a JWT in ms since the epoch, when the token is a JWT that has one (not verified). */
export function tokenExpiry(token: string): number | undefined {
  const part = token.split('.')[1];
  if (part === undefined) return undefined;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const payload: unknown = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
    const exp = (payload as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Most time a fresh token is asked for ahead of the current one's expiry. */
export const REFRESH_LEAD_MS = 30_000;

/**
 * How long to wait before asking the provider for a fresh token: `REFRESH_LEAD_MS` before `expMs`,
 * or halfway through what is left for a shorter-lived token; at least 1 s, so that a provider that
 * keeps returning tokens about to expire cannot make the client spin.
 */
export function refreshDelay(expMs: number, now: number): number {
  const left = expMs - now;
  return Math.max(1000, left - Math.min(REFRESH_LEAD_MS, left / 2));
}

/** Fresh tokens sent per socket in answer to `token_expired` (a provider of stale tokens must not loop). */
const EXPIRED_RETRIES = 3;

export type TokenKeeperHooks = {
  /** Writes a frame on the current socket (dropped when it is not open). */
  send(frame: object): void;
  /** The provider failed while the socket was open. */
  failed(err: unknown): void;
};

/**
 * Keeps an open socket's token fresh (jwt auth with a token provider): asks for a fresh token ahead
 * of the current one's expiry, when its `exp` can be read, and on `token_expired`, and sends it in an
 * `auth` frame (the server answers nothing on success). One timer, stopped with the socket.
 */
export class TokenKeeper {
  readonly #o: ResolvedOptions;
  readonly #hooks: TokenKeeperHooks;
  #token: string | undefined = undefined;
  #timer: unknown = null;
  /** Bumped per socket: a token that arrives for a socket that is gone is dropped. */
  #socket = 0;
  #expiredRetries = 0;

  constructor(o: ResolvedOptions, hooks: TokenKeeperHooks) {
    this.#o = o;
    this.#hooks = hooks;
  }

  /** A socket authenticated with `token` (its `hello` came). */
  opened(token: string | undefined): void {
    this.stop();
    this.#token = token;
    this.#schedule();
  }

  /** The socket is gone. */
  stop(): void {
    if (this.#timer !== null) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#socket++;
    this.#expiredRetries = 0;
  }

  /** `token_expired` for the socket: a provider is asked for a fresh token at once. False without one. */
  expired(): boolean {
    if (typeof this.#o.token !== 'function' || this.#expiredRetries >= EXPIRED_RETRIES) return false;
    this.#expiredRetries++;
    this.#refresh();
    return true;
  }

  #schedule(): void {
    if (this.#timer !== null) this.#o.timers.clearTimeout(this.#timer);
    this.#timer = null;
    const exp = this.#token === undefined ? undefined : tokenExpiry(this.#token);
    if (typeof this.#o.token !== 'function' || exp === undefined) return;
    this.#timer = this.#o.timers.setTimeout(() => {
      this.#timer = null;
      this.#refresh();
    }, refreshDelay(exp, Date.now()));
  }

  #refresh(): void {
    const socket = this.#socket;
    const use = (t: string) => {
      if (socket !== this.#socket) return;
      this.#token = t;
      this.#hooks.send(authFrame(this.#o, t));
      this.#schedule();
    };
    const fresh = currentToken(this.#o);
    if (fresh === undefined) return;
    if (!isPromise<string>(fresh)) return use(fresh);
    fresh.then(use, (err: unknown) => {
      if (socket === this.#socket) this.#hooks.failed(err);
    });
  }
}
