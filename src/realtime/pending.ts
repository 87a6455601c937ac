/**
 * Sockets opened without credentials in the URL (v1.1): they wait, and are sent nothing, until an
 * `auth` frame arrives within `AUTH_TIMEOUT_MS`; then `Sessions.open` says hello. Any other frame
 * first (frames that do not decode, or not in the socket's encoding, included), a refused
 * credential or the timeout closes with 1008; a user at MAX_CONNS_PER_USER gets `error` `rate_limited`, then 1008. A pending socket counts towards the instance's capacity, but is nobody yet: presence and
 * rooms know nothing of it. Its timeout bounds its life, so the heartbeat round does not visit it.
 */
import type { WSContext } from 'hono/ws';
import { identify } from '../auth/identity.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors.ts';
import { log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { CLOSE } from '@parley/client/wire';
import { type Encoding, TOO_LARGE, encodeFrame, readClientFrame } from './codec.ts';
import type { Conn } from './conn.ts';
import type { SocketOps } from './runtime.ts';
import type { Sessions } from './session.ts';

/** Frames a client may send after its `auth` and before the answer; they are handled after `hello`. */
const MAX_EARLY_FRAMES = 32;

export type Refusal = 'auth_timeout' | 'auth_failed' | 'auth_first';

/** One socket that has not authenticated yet. */
export class PendingSocket {
  state: 'waiting' | 'verifying' | 'open' | 'closed' = 'waiting';
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Once `auth` arrived: resolves with the session, or undefined when it was refused. */
  ready: Promise<Conn | undefined> | undefined = undefined;
  conn: Conn | undefined = undefined;
  early = 0;
  constructor(
    readonly ws: WSContext,
    readonly encoding: Encoding,
  ) {}
}

export type PendingOptions = Pick<Config, 'auth' | 'authTimeoutMs'> & {
  metrics: Metrics;
  sockets: SocketOps;
  /** False while draining: a socket that authenticates then is closed with 1012. */
  accepting(): boolean;
};

export class PendingSockets {
  readonly #waiting = new Set<PendingSocket>();
  readonly #sessions: Sessions;
  readonly #opts: PendingOptions;

  constructor(sessions: Sessions, opts: PendingOptions) {
    this.#sessions = sessions;
    this.#opts = opts;
  }

  /** Sockets waiting for (or checking) their `auth` frame. */
  get size(): number {
    return this.#waiting.size;
  }

  /** A socket was upgraded without credentials: start its clock. Sends nothing. */
  open(ws: WSContext, encoding: Encoding = 'json'): PendingSocket {
    const p = new PendingSocket(ws, encoding);
    p.timer = setTimeout(() => this.#refuse(p, 'auth_timeout', 'authentication timed out'), this.#opts.authTimeoutMs);
    this.#waiting.add(p);
    return p;
  }

  /** A frame from a socket that has no session yet. Never throws. */
  async message(p: PendingSocket, data: unknown): Promise<void> {
    if (p.state === 'closed') return;
    if (p.state !== 'waiting') {
      // Sent after `auth`, before `hello`: kept in order and handled once the session is open.
      if (++p.early > MAX_EARLY_FRAMES) return this.#refuse(p, 'auth_first', 'too many frames before hello');
      const conn = await p.ready;
      if (conn) await this.#sessions.message(conn, data);
      return;
    }
    const { metrics } = this.#opts;
    const parsed = readClientFrame(p.encoding, data);
    if (parsed === TOO_LARGE) {
      metrics.framesIn.inc({ type: 'invalid' });
      this.#forget(p);
      p.ws.close(CLOSE.tooLarge, 'frame too large');
      return;
    }
    metrics.framesIn.inc({ type: parsed.ok ? parsed.frame.type : 'invalid' });
    if (!parsed.ok || parsed.frame.type !== 'auth') return this.#refuse(p, 'auth_first', 'the first frame must be auth');
    p.state = 'verifying';
    p.ready = this.#verify(p, { user: parsed.frame.user, token: parsed.frame.token });
    await p.ready;
  }

  /** The socket closed before its session opened. */
  close(p: PendingSocket): void {
    if (p.state !== 'open') this.#forget(p);
  }

  /** Draining: closes every pending socket with `code`. */
  closeAll(code: number, reason: string): void {
    for (const p of [...this.#waiting]) {
      this.#forget(p);
      this.#close(p, code, reason);
    }
  }

  async #verify(p: PendingSocket, cred: { user?: string | undefined; token?: string | undefined }): Promise<Conn | undefined> {
    let identity;
    try {
      identity = await identify(this.#opts.auth, cred);
    } catch (err) {
      if (err instanceof AppError) this.#refuse(p, 'auth_failed', err.message);
      else {
        log.error('auth frame failed', { err });
        this.#refuse(p, 'auth_failed', 'authentication failed');
      }
      return undefined;
    }
    if (p.state !== 'verifying') return undefined; // closed or timed out meanwhile
    let admitted;
    try {
      // MAX_CONNS_PER_USER: what answers the upgrade with 429 when the user is in the URL.
      admitted = await this.#sessions.admit(identity);
    } catch (err) {
      if (p.state !== 'verifying') return undefined;
      const code = err instanceof AppError && err.code === 'rate_limited' ? 'rate_limited' : 'unavailable';
      if (code === 'unavailable') log.warn('auth frame: connection count unavailable', { err });
      this.#forget(p);
      try {
        p.ws.send(encodeFrame(p.encoding, { type: 'error', code, message: err instanceof AppError ? err.message : 'try again later' }));
      } catch {
        // already closing
      }
      this.#opts.metrics.errors.inc({ code });
      this.#close(p, code === 'rate_limited' ? CLOSE.policy : CLOSE.overloaded, code === 'rate_limited' ? 'too many connections' : 'try again later');
      return undefined;
    }
    if (p.state !== 'verifying' || !this.#opts.accepting()) {
      this.#sessions.release(admitted);
      if (p.state !== 'verifying') return undefined;
      this.#forget(p);
      this.#close(p, CLOSE.restart, 'service restart');
      return undefined;
    }
    this.#forget(p);
    p.state = 'open';
    p.conn = this.#sessions.open(p.ws, admitted, p.encoding);
    return p.conn;
  }

  #refuse(p: PendingSocket, reason: Refusal, message: string): void {
    if (p.state === 'closed' || p.state === 'open') return;
    this.#opts.metrics.refused.inc({ reason });
    this.#forget(p);
    this.#close(p, CLOSE.policy, message);
  }

  #forget(p: PendingSocket): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    p.timer = undefined;
    this.#waiting.delete(p);
    if (p.state !== 'open') p.state = 'closed';
  }

  #close(p: PendingSocket, code: number, reason: string): void {
    try {
      p.ws.close(code, reason);
    } catch {
      // already closing
    }
    // A peer that is gone never completes the closing handshake.
    setTimeout(() => this.#opts.sockets.terminate(p.ws), 1000);
  }
}
