/**
 * The typed client of the chat service (docs/protocol.md v1). Runtime-neutral: it uses only fetch,
 * timers and a WebSocket constructor it is given, so it runs in browsers, Deno and Node (`ws`).
 *
 * What it guarantees the application: per room, `message` events in seq order and each once, across
 * reconnects and gaps; sends acked or rejected, resent by the same `cid` after a reconnect; joined
 * rooms resumed with `since`; a `reset` event when a room's log was lost; (v1.1) each text message's
 * current state, edits, deletes and reactions applied, equal to a fresh read of the same range.
 */
import { CLOSE, directRoom, type Member, type ServerFrame } from './wire.ts';
import { type Codec, jsonCodec, loadCodec } from './codec.ts';
import { Emitter } from './emitter.ts';
import { Heartbeat } from './heartbeat.ts';
import { authHeaders, resolveOptions, socketUrl, type ResolvedOptions } from './options.ts';
import { authFrame, currentToken, isPromise, TokenKeeper } from './credentials.ts';
import { Outbox } from './outbox.ts';
import { backoffDelay, shouldReconnect } from './policy.ts';
import {
  createGroup,
  deleteMember,
  fetchConversations,
  fetchGroup,
  fetchHistory,
  fetchReads,
  historyFetcher,
  jsonGetter,
  putMember,
  type Conversation,
  type GetJson,
  type HistoryPage,
  type HistoryQuery,
} from './rest.ts';
import type { OutgoingFrame, PendingSend } from './outbox.ts';
import { ReadTracker } from './reads.ts';
import { RoomStates } from './room-state.ts';
import type { Message } from './wire.ts';
import { Rooms } from './rooms.ts';
import {
  ClientError,
  type Ack,
  type ClientEvents,
  type ClientOptions,
  type ClientState,
  type Group,
  type WebSocketLike,
} from './types.ts';

export * from './types.ts';
export { backoffDelay, shouldReconnect, STOP_CODES, BACKOFF } from './policy.ts';
export type { Conversation, HistoryPage, HistoryQuery } from './rest.ts';

const WS_OPEN = 1;

/**
 * One client session. Usage: `new ParleyClient(opts)`, register listeners with `on`, `connect()`,
 * `join(...)`, `send(...)`. Methods never throw on a closed or reconnecting socket: joins and sends
 * wait for the next connection; typing is dropped.
 */
/** Resends of a send refused with `unavailable` before it fails: about 15 s of backoff in all. */
const UNAVAILABLE_RETRIES = 5;
/** Refusals of a `join` that pass (docs/protocol.md error table): the join is asked again later. */
const REJOIN_CODES: ReadonlySet<string> = new Set(['unavailable', 'internal', 'rate_limited']);
/** Refusals of a join that asking again would not change: the room is forgotten, as on `leave`. */
const REFUSED_FOR_GOOD: ReadonlySet<string> = new Set(['forbidden', 'too_many_rooms']);

export class ParleyClient extends Emitter<ClientEvents> {
  readonly #o: ResolvedOptions;
  #ws: WebSocketLike | null = null;
  // Client-local number of the current socket; tells which sends were written to it.
  #conn = 0;
  #state: ClientState = 'idle';
  #attempt = 0;
  #reconnectTimer: unknown = null;
  /** Counts `#open` calls, so that a token that arrives late for an abandoned attempt is dropped. */
  #opening = 0;
  /** How frames are written and read; null until the MessagePack codec has loaded. */
  #codec: Codec | null;
  /** The token the current socket authenticated with (jwt auth). */
  #token: string | undefined = undefined;
  readonly #tokens: TokenKeeper;
  #user: string | undefined;
  readonly #rooms: Rooms;
  readonly #outbox: Outbox;
  readonly #heartbeat: Heartbeat;
  readonly #get: GetJson;
  readonly #reads: ReadTracker;
  readonly #states = new RoomStates();
  /** Read positions asked for while the socket was not open: sent after the next `hello`. */
  readonly #unsentReads = new Map<string, number>();

  /** Creates a client; nothing happens until `connect()`. */
  constructor(options: ClientOptions) {
    super();
    this.#o = resolveOptions(options);
    this.#user = options.token === undefined ? options.user : undefined;
    this.#codec = this.#o.encoding === 'json' ? jsonCodec : null;
    this.#outbox = new Outbox(this.#o.random);
    this.#heartbeat = new Heartbeat({
      timers: this.#o.timers,
      retryDelay: this.#o.retryDelay,
      maxRetries: this.#o.maxRetries,
      send: (id) => this.#write({ type: 'heartbeat', id }),
      // The server's own code for the same condition; the client's close is local either way.
      broken: () => this.#drop(CLOSE.heartbeatTimeout, 'heartbeat timeout'),
    });
    this.#tokens = new TokenKeeper(this.#o, {
      send: (frame) => this.#write(frame),
      failed: (err) => this.emit('error', tokenFailed(err)),
    });
    this.#get = jsonGetter(this.#o.url, this.#o.fetch, () => authHeaders(this.#o));
    const fetchAfter = historyFetcher(this.#get);
    this.#reads = new ReadTracker({ me: () => this.#user, changed: (room, state) => this.emit('unread', { room, ...state }) });
    this.#rooms = new Rooms({
      me: () => this.#user,
      emit: (event, payload) => this.emit(event, payload),
      started: (room, epoch, messages) => this.#states.start(room, epoch, messages),
      streamDeps: (room) => ({
        fetchAfter,
        deliver: (m) => {
          const changed = this.#states.take(m);
          this.#reads.message(m);
          this.emit('message', m);
          if (changed) this.emit('change', { room, message: changed });
        },
        reset: (epoch, previousEpoch, messages) => {
          this.#states.start(room, epoch, messages);
          this.emit('reset', { room, epoch, previousEpoch, messages });
        },
        error: (err) => this.emit('error', err),
      }),
    });
  }

  /** The connection state; every change is also a `state` event. */
  get state(): ClientState {
    return this.#state;
  }

  /** The user name: from the options in dev auth, from `hello` once connected. */
  get user(): string | undefined {
    return this.#user;
  }

  /** Opens the connection; from then on the client reconnects by itself until `close()` or a stop code. */
  connect(): void {
    if (this.#state === 'idle') this.#open();
  }

  /** Closes for good (code 1000); pending sends are rejected with `closed`. */
  close(): void {
    if (this.#state === 'closed') return;
    const ws = this.#ws;
    this.#teardown();
    this.#rooms.dispose();
    this.#setState('closed');
    this.#outbox.failAll(() => new ClientError('closed', 'client closed'));
    if (ws) closeQuietly(ws, 1000, 'client closed');
    this.emit('close', { code: 1000, reason: 'client closed' });
  }

  /** Joins a public room (or a direct room by name); kept joined across reconnects until `leave`. */
  join(room: string): void {
    if (this.#rooms.want(room)) this.#write({ type: 'join', room });
  }

  /**
   * Opens the direct room with `user`. Returns its name when the own user name is known (always in
   * dev auth; after `hello` with a token), else `null`: the `joined` event names it then.
   */
  joinDirect(user: string): string | null {
    if (this.#rooms.wantDirect(user)) this.#write({ type: 'join', with: user });
    return this.#user === undefined ? null : directRoom(this.#user, user);
  }

  /** Leaves `room`: no more events from it; its pending sends are rejected with `left`. */
  leave(room: string): void {
    const was = this.#rooms.forget(room);
    this.#states.forget(room);
    this.#outbox.failAll(() => new ClientError('left', `left ${room}`), room);
    if (was) this.#write({ type: 'leave', room });
  }

  /** Tells the room's other members that the user is typing; dropped while not joined. */
  typing(room: string): void {
    if (this.#rooms.isJoined(room)) this.#write({ type: 'typing', room });
  }

  /**
   * Posts `text` to `room`. Resolves with the server's ack; rejects with a `ClientError` when the
   * server refuses it (error frame with its cid), or on `leave`/`close`/a stop code. Survives
   * reconnects: an unacked send is resent with the same cid once the room is joined again, and the
   * server stores it only once.
   */
  send(room: string, text: string): Promise<Ack> {
    return this.#submit(room, { type: 'send', text });
  }

  /**
   * v1.1: replaces the text of the user's own message `seq`. Acked, rejected and resent like `send`
   * (`forbidden`: not the author; `not_found`: no such text message, or deleted).
   */
  edit(room: string, seq: number, text: string): Promise<Ack> {
    return this.#submit(room, { type: 'edit', seq, text });
  }

  /** v1.1: deletes message `seq` (the author's; in a group also the owner and admins). Like `send`. */
  deleteMessage(room: string, seq: number): Promise<Ack> {
    return this.#submit(room, { type: 'delete', seq });
  }

  /** v1.1: adds (`on`, the default) or takes back the user's `emoji` on message `seq`. Like `send`. */
  react(room: string, seq: number, emoji: string, on = true): Promise<Ack> {
    return this.#submit(room, { type: 'react', seq, emoji, on });
  }

  /** v1.1: the text messages held of `room`, ascending seq, each in its current state. */
  messages(room: string): Message[] {
    return this.#states.messages(room);
  }

  /** v1.1: the current state of message `seq` of `room`, when held (see `messages`). */
  messageState(room: string, seq: number): Message | undefined {
    return this.#states.get(room, seq);
  }

  /**
   * A page of `room`'s history (`GET /v1/rooms/:room/messages`): `before` a seq to scroll back,
   * `after` one, or the latest. Of a joined room, its messages' state joins `messages(room)`
   * (`change` events for those that changed). Rejects with a `ClientError`.
   */
  async history(room: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    const page = await fetchHistory(this.#get, room, query);
    for (const message of this.#states.page(room, page.epoch, page.messages)) this.emit('change', { room, message });
    return page;
  }

  /** The room's members as last reported by `joined` and `presence` frames. */
  members(room: string): Member[] {
    return this.#rooms.members(room);
  }

  /**
   * The user's rooms, most recent first, with read positions and unread counts
   * (`GET /v1/conversations`); `unread(room)` follows them from then on. Rejects with a `ClientError`.
   */
  async conversations(): Promise<Conversation[]> {
    const items = await fetchConversations(this.#get);
    for (const i of items) this.#reads.listed(i.room, i.seq, i.lastRead, i.unread);
    return items;
  }

  /**
   * v1.1: marks `room` read up to `seq` (default: the latest message the client has of it), joined
   * or not. Every socket of the user gets the `read` event (`unread` follows); a position behind
   * the current one changes nothing. Sent once connected when the socket is not open.
   */
  markRead(room: string, seq?: number): void {
    const r = this.#reads.get(room);
    const target = seq ?? Math.max(this.#rooms.position(room)?.seq ?? 0, r?.latest ?? 0);
    if (target <= (r?.lastRead ?? 0) && seq === undefined) return;
    if (!this.#write({ type: 'read', room, seq: target })) this.#unsentReads.set(room, Math.max(target, this.#unsentReads.get(room) ?? 0));
  }

  /** v1.1: the user's read position in `room` as last known (0 before any read). */
  lastRead(room: string): number {
    return this.#reads.get(room)?.lastRead ?? 0;
  }

  /** v1.1: the others' messages in `room` after the read position, as last known. */
  unread(room: string): number {
    return this.#reads.get(room)?.unread ?? 0;
  }

  /** v1.1: how far the other members have read `room`, from receipts and `fetchReaders`, by user. */
  readers(room: string): { user: string; seq: number }[] {
    return [...(this.#reads.get(room)?.readers ?? new Map<string, number>())].map(([user, seq]) => ({ user, seq })).sort((a, b) => (a.user < b.user ? -1 : 1));
  }

  /** v1.1: every member's read position in `room` (`GET /v1/rooms/:room/reads`); updates `readers`. */
  async fetchReaders(room: string): Promise<{ user: string; seq: number }[]> {
    const reads = await fetchReads(this.#get, room);
    this.#reads.readers(room, reads);
    return reads;
  }

  /**
   * v1.1: creates a private group owned by the user (`POST /v1/groups`); the others in `members`
   * become `member`s. Its room is `grp:<id>`: `join` it to chat. Rejects with a `ClientError` of the
   * server's code (`conflict` when the id is taken, `invalid_request` for a bad id, name or title).
   */
  createGroup(input: { id?: string; title?: string; members?: string[] } = {}): Promise<Group> {
    return createGroup(this.#get, input);
  }

  /** v1.1: the group `id` (`GET /v1/groups/:id`); `forbidden` unless the user is a member. */
  group(id: string): Promise<Group> {
    return fetchGroup(this.#get, id);
  }

  /**
   * v1.1: adds `user` to the group `id` or changes its role (`PUT /v1/groups/:id/members/:user`);
   * resolves with the group. The owner and admins add members; only the owner grants or takes admin.
   */
  setMember(id: string, user: string, role: 'member' | 'admin' = 'member'): Promise<Group> {
    return putMember(this.#get, id, user, role);
  }

  /**
   * v1.1: removes `user` from the group `id` (`DELETE /v1/groups/:id/members/:user`); with the own
   * name, leaves the group. The removed user's client gets `left` with `reason: "removed"`.
   */
  removeMember(id: string, user: string): Promise<void> {
    return deleteMember(this.#get, id, user);
  }

  /** The position of the last message delivered in `room` (what a resume sends as `since`). */
  position(room: string): { epoch: string; seq: number } | undefined {
    return this.#rooms.position(room);
  }

  #open(): void {
    this.#setState(this.#conn === 0 ? 'connecting' : 'reconnecting');
    const attempt = ++this.#opening;
    const abandoned = () => attempt !== this.#opening || this.#state === 'closed' || this.#ws !== null;
    if (this.#codec === null) return this.#loadCodec(abandoned);
    const token = currentToken(this.#o);
    if (!isPromise<string>(token)) return this.#dial(token);
    token.then(
      (t) => {
        if (!abandoned()) this.#dial(t);
      },
      (err: unknown) => {
        if (abandoned()) return;
        this.emit('error', tokenFailed(err));
        this.#closed(CLOSE.abnormal, 'no token');
      },
    );
  }

  /** Imports the MessagePack codec, then opens; a failed import is retried like a failed connect. */
  #loadCodec(abandoned: () => boolean): void {
    Promise.resolve(loadCodec(this.#o.encoding)).then(
      (codec) => {
        this.#codec = codec;
        if (!abandoned()) this.#open();
      },
      (err: unknown) => {
        if (abandoned()) return;
        this.emit('error', new ClientError('codec_failed', `the ${this.#o.encoding} codec could not be loaded: ${String(err)}`));
        this.#closed(CLOSE.abnormal, 'no codec');
      },
    );
  }

  /** Opens the socket; without `authInUrl` its first frame is `auth` with the credentials. */
  #dial(token: string | undefined): void {
    const codec = this.#codec ?? jsonCodec;
    const url = socketUrl(this.#o, token);
    const ws = codec.protocol === undefined ? new this.#o.WebSocket(url) : new this.#o.WebSocket(url, [codec.protocol]);
    if (codec.binaryType !== undefined) ws.binaryType = codec.binaryType;
    this.#ws = ws;
    this.#conn++;
    this.#token = token;
    if (!this.#o.authInUrl) {
      ws.onopen = () => {
        if (this.#ws === ws) ws.send(codec.encode(authFrame(this.#o, token)));
      };
    }
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.#ws !== ws) return;
      for (const frame of codec.decode(ev.data)) this.#handle(frame);
    };
    ws.onclose = (ev: { code: number; reason: string }) => {
      if (this.#ws === ws) this.#closed(ev.code, ev.reason);
    };
    ws.onerror = ignoreError;
  }

  #handle(f: ServerFrame): void {
    switch (f.type) {
      case 'hello':
        return this.#hello(f);
      case 'joined':
        if (!this.#rooms.joined(f)) return;
        this.#reads.joined(f.room, f.lastRead, f.seq, f.messages);
        for (const p of this.#outbox.forRoom(f.room)) this.#resend(p);
        return;
      case 'read':
        this.#reads.read(f.room, f.user, f.seq);
        return this.emit('read', { room: f.room, user: f.user, seq: f.seq });
      case 'message': {
        const { type: _, ...message } = f;
        return this.#rooms.message(message);
      }
      case 'ack':
        if (f.cid !== undefined) this.#outbox.ack({ cid: f.cid, room: f.room, epoch: f.epoch, seq: f.seq, ts: f.ts });
        return;
      case 'error': {
        if (f.code === 'token_expired' && f.cid === undefined && this.#tokens.expired()) return;
        if (f.code === 'unavailable' && f.cid !== undefined && this.#retryLater(f.cid)) return;
        if (f.cid === undefined && f.room !== undefined && this.#rejoinLater(f.room, f.code)) return;
        const err = new ClientError(f.code, f.message, f.cid);
        if (f.cid === undefined && f.room !== undefined && REFUSED_FOR_GOOD.has(f.code) && this.#rooms.awaitsJoin(f.room)) this.#refused(f.room, err);
        if (f.cid === undefined || !this.#outbox.fail(f.cid, err)) this.emit('error', err);
        return;
      }
      case 'presence': {
        this.#rooms.presence(f);
        const { type: _, ...event } = f;
        return this.emit('presence', event);
      }
      case 'typing':
        return this.emit('typing', { room: f.room, user: f.user });
      case 'heartbeat':
        return this.#heartbeat.answer(f.id);
      case 'left':
        if (f.reason === 'removed') {
          // Removed from a group: as a `leave`, the room is forgotten (not joined again on a reconnect).
          this.#rooms.forget(f.room);
          this.#reads.forget(f.room);
          this.#states.forget(f.room);
          this.#outbox.failAll(() => new ClientError('left', `removed from ${f.room}`), f.room);
        } else {
          this.#rooms.left(f.room);
        }
        return this.emit('left', f.reason === undefined ? { room: f.room } : { room: f.room, reason: f.reason });
      case 'member': {
        this.#rooms.member(f.room, f.user, f.role);
        const { type: _, ...event } = f;
        return this.emit('member', event);
      }
      case 'batch': // decodeFrames already unwrapped batches, in order
        return;
    }
  }

  #hello(f: Extract<ServerFrame, { type: 'hello' }>): void {
    this.#user = f.user;
    this.#attempt = 0;
    this.#setState('open');
    this.#heartbeat.start(f.heartbeatMs > 0 ? f.heartbeatMs : this.#o.heartbeatMs);
    this.#tokens.opened(this.#token);
    this.emit('open', { user: f.user, conn: f.conn, instance: f.instance, heartbeatMs: f.heartbeatMs });
    for (const frame of this.#rooms.joinFrames()) this.#write(frame);
    for (const [room, seq] of this.#unsentReads) this.#write({ type: 'read', room, seq });
    this.#unsentReads.clear();
    // Sends to rooms never joined: let the server answer them (not_member) rather than hold them.
    for (const p of this.#outbox.pending()) if (!this.#rooms.awaitsJoin(p.room)) this.#resend(p);
  }

  /**
   * A send refused with `unavailable` (a backend outage or failover) may or may not be stored:
   * resend it by the same cid with backoff, which is safe either way. False once it was refused
   * too often, so that the caller fails it.
   */
  #retryLater(cid: string): boolean {
    const tries = this.#outbox.refused(cid);
    if (tries === 0 || tries > UNAVAILABLE_RETRIES) return false;
    this.#o.timers.setTimeout(() => {
      const p = this.#outbox.get(cid);
      if (p) this.#sendPending(p);
    }, backoffDelay(tries - 1, this.#o.random));
    return true;
  }

  /**
   * A join refused for a passing reason (a backend timeout or failover, the join rate): asked again
   * on the same socket with backoff, for as long as the room is wanted. Without this the room would
   * stay unjoined, and its sends held, until the next reconnect. False for other refusals.
   */
  #rejoinLater(room: string, code: string): boolean {
    if (!REJOIN_CODES.has(code) || !this.#rooms.awaitsJoin(room)) return false;
    const conn = this.#conn;
    this.#o.timers.setTimeout(() => {
      const frame = this.#rooms.awaitsJoin(room) && conn === this.#conn ? this.#rooms.joinFrame(room) : undefined;
      if (frame) this.#write(frame);
    }, backoffDelay(this.#rooms.refused(room), this.#o.random));
    return true;
  }

  /**
   * A join refused for good: the room is forgotten, so that no later socket asks for it again, and
   * the sends held for it are rejected with the refusal rather than held forever.
   */
  #refused(room: string, err: ClientError): void {
    this.#rooms.forget(room);
    this.#reads.forget(room);
    this.#states.forget(room);
    this.#outbox.failAll(() => new ClientError(err.code, err.message), room);
  }

  /** Writes a pending send unless this socket already carried it. */
  #resend(p: PendingSend): void {
    if (p.sentOn !== this.#conn) this.#sendPending(p);
  }

  /** Queues a frame to be acked; while a join is under way it waits for `joined` (else: not_member). */
  #submit(room: string, frame: OutgoingFrame): Promise<Ack> {
    const { entry, promise } = this.#outbox.add(room, frame);
    if (!this.#rooms.awaitsJoin(room)) this.#sendPending(entry);
    return promise;
  }

  #sendPending(p: PendingSend): void {
    const { type, ...rest } = p.frame;
    if (this.#write({ type, room: p.room, ...rest, cid: p.cid })) p.sentOn = this.#conn;
  }

  #closed(code: number, reason: string): void {
    this.#teardown();
    if (!shouldReconnect(code)) {
      this.#rooms.dispose();
      this.#setState('closed');
      this.#outbox.failAll(() => new ClientError('closed', `closed by server: ${code} ${reason}`));
      this.emit('close', { code, reason });
      return;
    }
    const delay = backoffDelay(this.#attempt++, this.#o.random);
    this.#setState('reconnecting');
    this.emit('close', { code, reason, reconnectInMs: delay });
    this.#reconnectTimer = this.#o.timers.setTimeout(() => {
      this.#reconnectTimer = null;
      this.#open();
    }, delay);
  }

  /** Gives up on a socket the client judged broken: it may never report its own close. */
  #drop(code: number, reason: string): void {
    const ws = this.#ws;
    if (!ws) return;
    closeQuietly(ws, code, reason);
    this.#closed(code, reason);
  }

  #teardown(): void {
    this.#ws = null;
    this.#rooms.connectionLost();
    this.#heartbeat.stop();
    if (this.#reconnectTimer !== null) this.#o.timers.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#tokens.stop();
  }

  /** Writes a frame once `hello` came on the current socket; false (dropped) otherwise. */
  #write(frame: object): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WS_OPEN || this.#state !== 'open') return false;
    ws.send((this.#codec ?? jsonCodec).encode(frame));
    return true;
  }

  #setState(s: ClientState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.emit('state', s);
  }
}

function tokenFailed(err: unknown): ClientError {
  return new ClientError('token_failed', `the token provider failed: ${String(err)}`);
}

/**
 * Socket errors are always followed by a close event, which is where the client acts. The handler
 * must still exist, also on abandoned sockets: `ws` (Node) throws an 'error' event nobody listens to.
 */
function ignoreError(): void {}

/** Abandons a socket: no more events from it, and a close that cannot throw. */
function closeQuietly(ws: WebSocketLike, code: number, reason: string): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = ignoreError;
  try {
    ws.close(code, reason);
  } catch {
    // Closing a socket that is still connecting or already dead may throw; it is abandoned either way.
  }
}
