/**
 * The WebSocket session: what happens on open, on each client frame, on close, and on the
 * heartbeat round. Frames are validated by `src/protocol/inbound.ts`; refusals are `error` frames.
 */
import type { WSContext } from 'hono/ws';
import { type Identity, Unauthorized, identify } from '../auth/identity.ts';
import type { Chat } from '../chat/chat.ts';
import { take } from '../chat/rate-limit.ts';
import type { Config } from '../config.ts';
import { AppError, BackendUnavailable, unavailable } from '../errors.ts';
import { log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { CLOSE, ERROR_CODES, type ErrorCode, type RoomKind, type ServerFrame, directRoom } from '@parley/client/wire';
import type { ClientFrame } from '../protocol/inbound.ts';
import { type Encoding, TOO_LARGE, encodeFrame, readClientFrame } from './codec.ts';
import { Conn } from './conn.ts';
import type { Hub } from './hub.ts';
import type { SocketOps } from './runtime.ts';
import { TokenClock } from './token-clock.ts';
import { UserReads } from './user-reads.ts';

type Frame<T extends ClientFrame['type']> = Extract<ClientFrame, { type: T }>;

/** Refused frames a socket may send at the sustained rate before it is closed with 1008. */
const ABUSE = { burst: 50, rate: 5 } as const;
/** `Retry-After` of an upgrade refused for the user's connection count. */
const CONNS_RETRY_AFTER_S = 5;

/** A user let in by `Sessions.admit`: its identity, and the id its connection is registered under. */
export type Admitted = Identity & { connId: string };

/** What a session needs to know of the instance. */
export type SessionOptions = Pick<Config, 'instanceId' | 'heartbeatMs' | 'rates' | 'limits' | 'auth' | 'tokenGraceMs'> & { metrics: Metrics };

export class Sessions {
  readonly #chat: Chat;
  readonly #hub: Hub;
  readonly #sockets: SocketOps;
  readonly #opts: SessionOptions;
  /**
   * Joins in progress, by socket and room: a second `join` of a room by the same socket waits for
   * the first to finish, so that each answer's history and the live messages after it stay in order.
   */
  readonly #joins = new Map<string, Promise<void>>();
  readonly #clock: TokenClock;
  readonly #userReads: UserReads;

  constructor(chat: Chat, hub: Hub, sockets: SocketOps, opts: SessionOptions) {
    this.#chat = chat;
    this.#hub = hub;
    this.#sockets = sockets;
    this.#opts = opts;
    this.#userReads = new UserReads({ watch: (user, handler) => chat.reads.watch(user, handler), send: (conn, frame) => hub.send(conn, frame) });
    this.#clock = new TokenClock({
      graceMs: opts.tokenGraceMs,
      onExpired: (conn) => this.#error(conn, 'token_expired', `the token has expired; send a fresh one within ${opts.tokenGraceMs} ms`),
      onGraceOver: (conn) => {
        log.info('token expired', { conn: conn.id, user: conn.user });
        opts.metrics.refused.inc({ reason: 'token_expired' });
        this.#shut(conn, CLOSE.tokenExpired, 'token expired');
      },
    });
  }

  /**
   * Whether `identity` may open one more socket; when it may, its connection is registered in
   * presence at once, under the id returned (`open` takes it). Refused with `rate_limited` (429 on
   * the upgrade) at `MAX_CONNS_PER_USER` live connections on every instance together (counted and
   * registered in one step: upgrades racing each other cannot pass it together), and for
   * `ABUSE_BAR_MS` after one of the user's sockets was closed for abuse (otherwise each reconnect
   * would bring a fresh burst of every per-socket limit).
   */
  async admit(identity: Identity): Promise<Admitted> {
    const { metrics, limits, instanceId } = this.#opts;
    const ref = { id: newConnId(), user: identity.user, instance: instanceId };
    const { admitted, barredMs } = await this.#chat.presence.admit(ref, limits.connsPerUser);
    if (barredMs > 0) {
      metrics.refused.inc({ reason: 'abuse_bar' });
      throw new AppError('rate_limited', 'closed for abuse recently; wait before reconnecting', Math.ceil(barredMs / 1000));
    }
    if (admitted) return { ...identity, connId: ref.id };
    metrics.refused.inc({ reason: 'conns_per_user' });
    throw new AppError('rate_limited', `at most ${limits.connsPerUser} connections per user; close one first`, CONNS_RETRY_AFTER_S);
  }

  /** Undoes `admit` for a socket that will never open (it closed while being admitted). */
  release(admitted: Admitted): void {
    void this.#chat.presence.disconnect({ id: admitted.connId, user: admitted.user, instance: this.#opts.instanceId }, []);
  }

  /** An admitted socket opened (its token valid until `exp`): say hello, in the socket's encoding. */
  open(ws: WSContext, { user, exp, connId }: Admitted, encoding: Encoding = 'json'): Conn {
    const { instanceId, heartbeatMs, rates, metrics } = this.#opts;
    const conn = new Conn(connId, user, instanceId, ws, { send: rates.send.burst, typing: rates.typing.burst, join: rates.join.burst, abuse: ABUSE.burst }, Date.now());
    conn.encoding = encoding;
    this.#hub.add(conn);
    this.#userReads.add(conn);
    metrics.connectionsTotal.inc({ encoding });
    this.#sockets.watchLiveness(ws, conn);
    // Written directly, never queued: `hello` is the first frame and is never part of a batch.
    ws.send(encodeFrame(encoding, { type: 'hello', user, conn: conn.id, instance: instanceId, heartbeatMs }));
    metrics.framesOut.inc({ type: 'hello' });
    this.#clock.arm(conn, exp);
    return conn;
  }

  /** One inbound frame. Never throws. */
  async message(conn: Conn, data: unknown): Promise<void> {
    if (conn.closed || conn.closing) return;
    conn.missed = 0;
    const { metrics } = this.#opts;
    const parsed = readClientFrame(conn.encoding, data);
    if (parsed === TOO_LARGE) {
      metrics.framesIn.inc({ type: 'invalid' });
      this.#shut(conn, CLOSE.tooLarge, 'frame too large');
      return;
    }
    if (!parsed.ok) {
      metrics.framesIn.inc({ type: 'invalid' });
      return this.#error(conn, parsed.code, parsed.message, parsed.cid);
    }
    const frame = parsed.frame;
    metrics.framesIn.inc({ type: frame.type });
    try {
      switch (frame.type) {
        case 'join':
          return await this.#join(conn, frame);
        case 'leave':
          return await this.#leave(conn, frame);
        case 'send':
          return await this.#send(conn, frame);
        case 'typing':
          return await this.#typing(conn, frame);
        case 'read':
          return await this.#read(conn, frame);
        case 'edit':
        case 'delete':
        case 'react':
          return await this.#change(conn, frame);
        case 'heartbeat':
          return this.#hub.send(conn, frame.id === undefined ? { type: 'heartbeat', success: true } : { type: 'heartbeat', id: frame.id, success: true });
        case 'auth':
          return await this.#reauth(conn, frame);
      }
    } catch (err) {
      // docs/protocol.md: an error carries the `cid` of the frame it answers, whatever the frame's type.
      const cid = parsed.cid;
      const room = frameRoom(conn, frame);
      if (err instanceof AppError && isWsCode(err.code)) return this.#error(conn, err.code, err.message, cid, room);
      // A store that timed out or is failing over, in a step no store call mapped: retry later.
      if (err instanceof BackendUnavailable) {
        log.warn('backend unavailable', { conn: conn.id, type: frame.type, err });
        return this.#error(conn, 'unavailable', unavailable().message, cid, room);
      }
      log.error('frame failed', { conn: conn.id, type: frame.type, err });
      return this.#error(conn, 'internal', 'internal error', cid, room);
    }
  }

  /** The socket closed (any reason): leave its rooms, announce transitions. Never throws. */
  async close(conn: Conn, code: number): Promise<void> {
    this.#clock.disarm(conn);
    if (!this.#hub.conns.has(conn.id)) return;
    this.#opts.metrics.closes.inc({ code: closeLabel(code) });
    this.#userReads.remove(conn);
    await this.#chat.presence.disconnect(conn, this.#hub.remove(conn));
  }

  /** One heartbeat round: pings every socket and closes those silent for two rounds with 4000. */
  heartbeat(): void {
    for (const conn of this.#hub.conns.values()) {
      if (conn.missed >= 2) {
        this.#timeout(conn);
        continue;
      }
      // A pong or any inbound frame resets the count; where the runtime cannot ping (Deno), the
      // client's own heartbeats are the sign of life.
      this.#sockets.ping(conn.ws);
      conn.missed++;
    }
  }

  /** One presence round over this instance's sockets (see `PresenceService.round`). */
  presenceRound(spreadMs = 0, stopped: () => boolean = () => false): Promise<void> {
    return this.#chat.presence.round([...this.#hub.conns.values()], spreadMs, stopped);
  }

  #timeout(conn: Conn): void {
    log.info('heartbeat timeout', { conn: conn.id, user: conn.user });
    this.#shut(conn, CLOSE.heartbeatTimeout, 'heartbeat timeout');
    // A peer that is gone never completes the closing handshake.
    setTimeout(() => this.#sockets.terminate(conn.ws), 1000);
    void this.close(conn, CLOSE.heartbeatTimeout);
  }

  /**
   * `auth` on an open socket: a fresh credential for the same user replaces the token's expiry and
   * is not answered. Anything else is refused with an `error` and the socket keeps its identity.
   */
  async #reauth(conn: Conn, frame: Frame<'auth'>): Promise<void> {
    let id: Identity;
    try {
      id = await identify(this.#opts.auth, { user: frame.user, token: frame.token });
    } catch (err) {
      if (!(err instanceof Unauthorized)) throw err;
      throw new AppError(err.expired ? 'token_expired' : 'invalid_message', err.message);
    }
    if (id.user !== conn.user) throw new AppError('forbidden', 'the credential is for another user; this socket stays ' + conn.user);
    if (!conn.closed) this.#clock.arm(conn, id.exp);
  }

  async #join(conn: Conn, frame: Frame<'join'>): Promise<void> {
    // Every join spends a token, a repeated join of a room the socket is in too.
    if (!this.#allow(conn, 'join')) throw new AppError('rate_limited', 'too many joins; slow down');
    const room = 'with' in frame ? this.#chat.directRoom(conn.user, frame.with) : frame.room;
    const kind = await this.#chat.access(conn.user, room);
    const since = 'since' in frame ? frame.since : undefined;

    const key = `${conn.id}\u0000${room}`;
    const previous = this.#joins.get(key);
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.#joins.set(key, mine);
    try {
      if (previous) await previous;
      await this.#joinNow(conn, room, kind, since);
    } finally {
      done();
      if (this.#joins.get(key) === mine) this.#joins.delete(key);
    }
  }

  async #joinNow(conn: Conn, room: string, kind: RoomKind, since: { epoch: string; seq: number } | undefined): Promise<void> {
    const chat = this.#chat;
    // Checked right before the hub counts the room (synchronously, in `beginJoin`), so that joins in
    // flight together cannot pass the limit; a room the socket is in already counts once.
    const max = this.#opts.limits.roomsPerConn;
    if (!conn.inRoom(room) && conn.roomCount() >= max) {
      this.#opts.metrics.refused.inc({ reason: 'rooms_per_conn' });
      throw new AppError('too_many_rooms', `at most ${max} rooms per connection; leave one first`);
    }
    await this.#hub.beginJoin(conn, room);
    try {
      // Asked again now that the room's subscription is live: a removal between the first check and
      // the subscription would otherwise go unseen, while one after it reaches the hub as an event.
      if (kind.kind === 'group') await chat.access(conn.user, room);
      const { first } = await chat.presence.enter(room, conn);
      // Entered first, so that the roster holds this user; the three reads go out together.
      const [{ page, recovered }, lastRead, members] = await Promise.all([
        chat.history.forJoin(room, since),
        chat.reads.lastRead(conn.user, room),
        chat.presence.members(room, kind, this.#opts.limits.groupRosterMax),
      ]);
      if (conn.closed || !conn.inRoom(room)) return; // closed or left while joining
      this.#hub.finishJoin(conn, room, { type: 'joined', room, epoch: page.epoch, seq: page.seq, recovered, messages: page.messages, members, lastRead });
      chat.conversations.record(conn.user, room, kind);
      if (first) await chat.presence.announceOnline(room, conn.user);
    } catch (err) {
      this.#hub.leave(conn, room);
      await chat.presence.forget(room, conn);
      // The socket closed while it joined (its presence entry is gone): nobody is left to answer.
      if (conn.closed || conn.closing) return;
      throw err;
    }
  }

  async #leave(conn: Conn, frame: Frame<'leave'>): Promise<void> {
    if (!this.#hub.leave(conn, frame.room)) throw new AppError('not_member', `not a member of ${frame.room.slice(0, 80)}`);
    this.#hub.send(conn, { type: 'left', room: frame.room });
    await this.#chat.presence.leave(frame.room, conn, Date.now());
  }

  async #send(conn: Conn, frame: Frame<'send'>): Promise<void> {
    // A joined socket's group membership is checked by the append itself, in the same step.
    const kind = await this.#joinedOrRefused(conn, frame.room, `join ${frame.room.slice(0, 80)} before sending`);
    if (!this.#allow(conn, 'send')) throw new AppError('rate_limited', 'too many messages; slow down');
    const { message } = await this.#chat.posting.post(conn.user, frame.room, kind, frame.text, frame.cid);
    // Removed from the group while the append was under way: the message was stored before the
    // removal, so this socket got it (with its cid) before `left`; after `left` nothing more comes.
    if (kind.kind === 'group' && !conn.inRoom(frame.room)) return;
    const { room, epoch, seq, ts } = message;
    this.#hub.send(conn, frame.cid === undefined ? { type: 'ack', room, epoch, seq, ts } : { type: 'ack', cid: frame.cid, room, epoch, seq, ts });
  }

  /** v1.1 `edit`, `delete`, `react`: rate-limited and acknowledged like a send. */
  async #change(conn: Conn, frame: Frame<'edit' | 'delete' | 'react'>): Promise<void> {
    await this.#joinedOrRefused(conn, frame.room, `join ${frame.room.slice(0, 80)} first`);
    if (!this.#allow(conn, 'send')) throw new AppError('rate_limited', 'too many messages; slow down');
    const { seq: target, room } = frame;
    const change =
      frame.type === 'edit' ? { kind: 'edit' as const, target, text: frame.text }
      : frame.type === 'delete' ? { kind: 'delete' as const, target }
      : { kind: 'reaction' as const, target, emoji: frame.emoji, on: frame.on };
    const { epoch, seq, ts } = await this.#chat.changes.apply(conn.user, room, change, frame.cid);
    if (!conn.inRoom(room) && room.startsWith('grp:')) return; // removed meanwhile: nothing after `left`
    this.#hub.send(conn, frame.cid === undefined ? { type: 'ack', room, epoch, seq, ts } : { type: 'ack', cid: frame.cid, room, epoch, seq, ts });
  }

  async #typing(conn: Conn, frame: Frame<'typing'>): Promise<void> {
    await this.#joinedOrRefused(conn, frame.room, `join ${frame.room.slice(0, 80)} first`);
    if (!this.#allow(conn, 'typing')) throw new AppError('rate_limited', 'too many typing events; slow down');
    await this.#chat.typing(frame.room, conn.user);
  }

  /**
   * `read`: any room the user may read, joined or not. The socket hears of it, like the user's other
   * sockets, through the user's read events (`UserReads`); nothing answers a read that did not move.
   */
  async #read(conn: Conn, frame: Frame<'read'>): Promise<void> {
    const kind = conn.inRoom(frame.room) ? this.#chat.roomKind(conn.user, frame.room) : await this.#chat.access(conn.user, frame.room);
    await this.#chat.reads.mark(conn.user, frame.room, kind, frame.seq);
  }

  /**
   * The room's kind when the socket has joined it; otherwise refuses: `forbidden` for a room the user
   * may not use (a group it is not in: asked of the groups store only then), else `not_member`.
   * A joined socket of a removed member is no longer in the room: the hub took it out on the
   * removal's event.
   */
  async #joinedOrRefused(conn: Conn, room: string, notMember: string): Promise<RoomKind> {
    const kind = this.#chat.roomKind(conn.user, room);
    if (conn.inRoom(room)) return kind;
    if (kind.kind === 'group') await this.#chat.access(conn.user, room);
    throw new AppError('not_member', notMember);
  }

  /** Token buckets per socket; a socket that keeps hitting the limit is closed with 1008. */
  #allow(conn: Conn, what: 'send' | 'typing' | 'join'): boolean {
    const now = Date.now();
    const { rate, burst } = this.#opts.rates[what];
    const ok =
      what === 'send'
        ? take(conn, 'sendTokens', 'sendAt', rate, burst, now)
        : what === 'typing'
          ? take(conn, 'typingTokens', 'typingAt', rate, burst, now)
          : take(conn, 'joinTokens', 'joinAt', rate, burst, now);
    if (ok) return true;
    this.#opts.metrics.refused.inc({ reason: `${what}_rate` });
    if (!take(conn, 'abuseTokens', 'abuseAt', ABUSE.rate, ABUSE.burst, now)) {
      const barMs = this.#opts.limits.abuseBarMs;
      log.warn('closing abusive socket', { conn: conn.id, user: conn.user, barMs });
      this.#shut(conn, CLOSE.policy, 'rate limit exceeded repeatedly');
      if (barMs > 0) this.#chat.presence.bar(conn.user, barMs);
    }
    return false;
  }

  /** Closes the socket from the server's side; what the client still sends until it answers is ignored. */
  #shut(conn: Conn, code: number, reason: string): void {
    conn.closing = true;
    try {
      conn.ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  #error(conn: Conn, code: ErrorCode, message: string, cid?: string, room?: string): void {
    this.#opts.metrics.errors.inc({ code });
    const frame: ServerFrame = { type: 'error', code, message };
    if (cid !== undefined) frame.cid = cid;
    if (room !== undefined) frame.room = room;
    this.#hub.send(conn, frame);
  }
}

/** The room a refused frame was about, so that a client can tell which join or send failed. */
function frameRoom(conn: Conn, frame: ClientFrame): string | undefined {
  if (frame.type === 'heartbeat' || frame.type === 'auth') return undefined;
  if ('with' in frame) return frame.with === conn.user ? undefined : directRoom(conn.user, frame.with);
  return frame.room;
}

const KNOWN_CLOSE_CODES = new Set<number>(Object.values(CLOSE));

/** The metric label of a close code; clients choose codes freely, so the rest share one label. */
function closeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}

function isWsCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

function newConnId(): string {
  const b = crypto.getRandomValues(new Uint8Array(9));
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_');
}
