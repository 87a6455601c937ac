/**
 * Token expiry on open sockets (v1.1): a socket remembers its token's `exp`. When it passes, the
 * socket is told once (`onExpired`: `error` `token_expired`); without a fresh token within the
 * grace it is closed (`onGraceOver`: 4001). At most one timer per socket, on the `Conn` itself;
 * `disarm` on close frees it.
 */
import type { Conn } from './conn.ts';

/** setTimeout's largest delay; a longer one would fire at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export type TokenClockOptions = {
  graceMs: number;
  onExpired(conn: Conn): void;
  onGraceOver(conn: Conn): void;
};

export class TokenClock {
  readonly #opts: TokenClockOptions;

  constructor(opts: TokenClockOptions) {
    this.#opts = opts;
  }

  /** Starts (or restarts, for a fresh token) the socket's clock; `exp` in seconds, absent: never expires. */
  arm(conn: Conn, exp: number | undefined): void {
    this.disarm(conn);
    if (exp === undefined) {
      conn.expiresAt = 0;
      return;
    }
    conn.expiresAt = exp * 1000;
    this.#schedule(conn, conn.expiresAt - Date.now(), false);
  }

  disarm(conn: Conn): void {
    if (conn.expiry !== undefined) clearTimeout(conn.expiry);
    conn.expiry = undefined;
  }

  #schedule(conn: Conn, delayMs: number, graceOver: boolean): void {
    const timer = setTimeout(() => this.#fire(conn, graceOver), Math.min(Math.max(0, delayMs), MAX_DELAY_MS));
    // Deno and Node both allow a timer that does not hold the process open.
    (timer as { unref?: () => void }).unref?.();
    conn.expiry = timer;
  }

  #fire(conn: Conn, graceOver: boolean): void {
    conn.expiry = undefined;
    if (conn.closed) return;
    if (graceOver) return this.#opts.onGraceOver(conn);
    const left = conn.expiresAt - Date.now();
    if (left > 0) return this.#schedule(conn, left, false); // a delay past setTimeout's range
    this.#opts.onExpired(conn);
    this.#schedule(conn, this.#opts.graceMs, true);
  }
}
