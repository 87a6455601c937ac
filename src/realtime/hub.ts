/**
 * The local hub: this instance's sockets and the rooms they are in. It keeps one room-log
 * subscription per room with local members (the first member subscribes, the last unsubscribes),
 * encodes each event once per encoding its members speak (`OutFrame`) and writes it to every local
 * member, batching what one socket is sent within one turn of the event loop into a single `batch` frame.
 */
import { log } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { CLOSE, type ServerFrame } from '@parley/client/wire';
import type { RoomEvent, RoomHandler } from '../rooms/types.ts';
import { OutFrame } from './codec.ts';
import type { Conn } from './conn.ts';
import type { SocketOps } from './runtime.ts';

/**
 * Runs a callback after the current I/O phase, so that everything that arrived in it is batched.
 * `setImmediate` where the runtime has it (Node), else a zero timer.
 */
const nextTurn: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (fn) => (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate(fn)
    : (fn) => setTimeout(fn, 0);

/**
 * After a slow consumer's close frame (queued behind everything it has not read), how long it has
 * to read up to it and answer before its connection is cut, so that its buffer is freed.
 */
const SLOW_CONSUMER_CLOSE_WAIT_MS = 5000;
/** How long a socket's send buffer may stay past the hard limit before it is closed with `CLOSE.slowConsumer`. */
const SLOW_CONSUMER_GRACE_MS = 1000;

type LocalRoom = {
  members: Set<Conn>;
  /** Resolves once the room-log subscription is live. */
  subscribed: Promise<() => Promise<void>>;
  /** Members still being answered `joined`: events for them wait here, with their seq. */
  joining: Map<Conn, { seq: number; frame: OutFrame; type: string }[]> | null;
  /** The last message the subscription delivered. */
  last: { epoch: string; seq: number } | null;
  /**
   * Members answered `joined` at a seq the subscription has not delivered yet (the history was read
   * after a message was stored and before its publication arrived): messages up to that seq, which
   * the `joined` already holds, are not sent to them again.
   */
  floors: Map<Conn, { epoch: string; seq: number }> | null;
};

/** Where room events come from (`Chat.subscribe`). */
export type RoomFeed = { subscribe(room: string, handler: RoomHandler): Promise<() => Promise<void>> };

export type HubOptions = {
  feed: RoomFeed;
  sockets: SocketOps;
  metrics: Metrics;
  sendBuffer: { soft: number; hard: number };
  /**
   * 0: flush after the current turn; more: while a socket's send buffer is not empty, writes to it
   * at least this many ms apart (see `Config.batchWindowMs`).
   */
  batchWindowMs?: number;
  /**
   * A socket was taken out of a group room because its user was removed from the group (presence
   * leave). Called after the socket left the room locally; must not throw.
   */
  onRemoved?: (conn: Conn, room: string) => void;
};

export class Hub {
  readonly conns = new Map<string, Conn>();
  readonly #rooms = new Map<string, LocalRoom>();
  /** Unsubscribes in flight, so that a quick re-join waits for them instead of racing. */
  readonly #unsubscribing = new Map<string, Promise<void>>();
  /** Sockets with frames for the next turn's flush. */
  #dirty: Conn[] = [];
  #flushScheduled = false;
  /** Backlogged sockets whose frames wait for their batch window to pass, and its timer. */
  #held: Conn[] = [];
  #heldTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  #heldDue = 0;
  readonly #opts: HubOptions;

  constructor(opts: HubOptions) {
    this.#opts = opts;
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  add(conn: Conn): void {
    this.conns.set(conn.id, conn);
    this.#opts.metrics.connections.set(this.conns.size);
  }

  /** Forgets a connection and leaves its rooms locally; returns the rooms it was in. */
  remove(conn: Conn): string[] {
    conn.closed = true;
    this.conns.delete(conn.id);
    this.#opts.metrics.connections.set(this.conns.size);
    const rooms = conn.joinedRooms();
    for (const room of rooms) this.leave(conn, room);
    conn.pending = null;
    return rooms;
  }

  /**
   * Adds `conn` to a room's local members and makes sure the room is subscribed. Until
   * `finishJoin`, events for `conn` in this room are held back.
   */
  async beginJoin(conn: Conn, room: string): Promise<void> {
    // A socket that closed while its join was being checked has left every room already (`remove`);
    // taking it in now would keep it, and every event held for it, as long as the room lives.
    if (conn.closed) throw new Error(`connection ${conn.id} closed before it joined ${room}`);
    let local = this.#rooms.get(room);
    if (!local) {
      const previous = this.#unsubscribing.get(room);
      local = {
        members: new Set(),
        subscribed: (async () => {
          if (previous) await previous;
          return this.#opts.feed.subscribe(room, (event) => this.#onEvent(room, event));
        })(),
        joining: null,
        last: null,
        floors: null,
      };
      this.#rooms.set(room, local);
      this.#opts.metrics.rooms.set(this.#rooms.size);
    }
    local.members.add(conn);
    conn.addRoom(room);
    (local.joining ??= new Map()).set(conn, []);
    try {
      await local.subscribed;
    } catch (err) {
      this.leave(conn, room);
      throw err;
    }
  }

  /** Sends `joined` and then the events held back since `beginJoin` that came after `seq`. */
  finishJoin(conn: Conn, room: string, joined: ServerFrame & { epoch: string; seq: number }): void {
    const local = this.#rooms.get(room);
    const held = local?.joining?.get(conn);
    if (!local || !held) return; // left or closed meanwhile
    local.joining?.delete(conn);
    if (local.joining?.size === 0) local.joining = null;
    this.send(conn, joined);
    for (const e of held) {
      if ((e.seq === 0 || e.seq > joined.seq) && this.#enqueue(conn, e.frame, e.type)) this.#opts.metrics.framesOut.inc({ type: e.type });
    }
    const last = local.last;
    if (!last || last.epoch !== joined.epoch || last.seq < joined.seq) {
      (local.floors ??= new Map()).set(conn, { epoch: joined.epoch, seq: joined.seq });
    }
  }

  /** Removes `conn` from a room's local members; the last member out unsubscribes. */
  leave(conn: Conn, room: string): boolean {
    if (!conn.removeRoom(room)) return false;
    const local = this.#rooms.get(room);
    if (!local) return true;
    local.members.delete(conn);
    local.joining?.delete(conn);
    local.floors?.delete(conn);
    if (local.members.size === 0) {
      this.#rooms.delete(room);
      this.#opts.metrics.rooms.set(this.#rooms.size);
      const done = local.subscribed
        .then((unsubscribe) => unsubscribe())
        .catch((err) => log.warn('unsubscribe failed', { room, err }))
        .finally(() => {
          if (this.#unsubscribing.get(room) === done) this.#unsubscribing.delete(room);
        });
      this.#unsubscribing.set(room, done);
    }
    return true;
  }

  /** Sends one frame to one socket (batched with others of this turn). */
  send(conn: Conn, frame: ServerFrame): void {
    if (this.#enqueue(conn, new OutFrame(frame), frame.type)) this.#opts.metrics.framesOut.inc({ type: frame.type });
  }

  /** Delivers a room event to every local member: encoded once per encoding, written to each. */
  #onEvent(room: string, event: RoomEvent): void {
    const local = this.#rooms.get(room);
    if (!local) return;
    const { metrics } = this.#opts;
    let value: object;
    let seq = 0;
    let skipUser: string | undefined;
    let epoch = '';
    if (event.type === 'message') {
      value = { type: 'message', ...event.message };
      seq = event.message.seq;
      epoch = event.message.epoch;
      local.last = { epoch, seq };
      metrics.deliveryLatency.observe(Math.max(0, Date.now() - event.message.ts) / 1000);
    } else if (event.type === 'member') {
      if (event.role === null) this.#removed(room, local, event.user);
      value = event;
    } else if (event.type === 'roster') {
      // Removals pub/sub may have lost: their sockets leave now, before any later message.
      const members = new Set(event.users);
      for (const user of new Set([...local.members].map((c) => c.user))) if (!members.has(user)) this.#removed(room, local, user);
      return;
    } else {
      value = event;
      skipUser = event.user; // nobody is told about their own typing or presence
    }
    const frame = new OutFrame(value);
    let n = 0;
    for (const conn of local.members) {
      if (conn.user === skipUser) continue;
      const held = local.joining?.get(conn);
      if (held) {
        frame.prepare(conn.encoding); // now: a socket still joining gets the event as it was when it came
        held.push({ seq, frame, type: event.type });
        continue;
      }
      if (seq > 0 && local.floors) {
        const floor = local.floors.get(conn);
        if (floor && floor.epoch === epoch && seq <= floor.seq) continue; // in its `joined` already
        if (floor) local.floors.delete(conn);
        if (local.floors.size === 0) local.floors = null;
      }
      if (this.#enqueue(conn, frame, event.type)) n++;
    }
    metrics.framesOut.inc({ type: event.type }, n);
  }

  /**
   * `user` was removed from the group of `room`: its local sockets leave the room now, within the
   * delivery of the removal's event, so that no later event of the room reaches them (the removal is
   * published in the same step as the change, on the channel that carries the room's messages). Each
   * gets `left` with reason `removed`, sockets still joining included.
   */
  #removed(room: string, local: LocalRoom, user: string): void {
    for (const conn of [...local.members]) {
      if (conn.user !== user) continue;
      this.leave(conn, room);
      this.send(conn, { type: 'left', room, reason: 'removed' });
      this.#opts.onRemoved?.(conn, room);
    }
  }

  /** Queues a serialized frame for `conn`; false when it was dropped. */
  #enqueue(conn: Conn, frame: OutFrame, type: string): boolean {
    if (conn.closed) return false;
    const { sockets, sendBuffer, metrics } = this.#opts;
    const buffered = sockets.bufferedAmount(conn.ws);
    if (buffered > sendBuffer.hard) {
      // One burst can pass the limit for a moment (Deno counts bytes still being written); a
      // consumer is slow when the buffer stays past it.
      const now = Date.now();
      if (conn.overSince === 0) {
        conn.overSince = now;
        setTimeout(() => this.#recheck(conn), SLOW_CONSUMER_GRACE_MS);
      } else if (now - conn.overSince >= SLOW_CONSUMER_GRACE_MS) {
        this.#slowConsumer(conn);
        return false;
      }
    } else conn.overSince = 0;
    if (buffered > sendBuffer.soft && (type === 'typing' || type === 'presence')) {
      metrics.dropped.inc({ reason: 'backpressure' });
      return false;
    }
    frame.prepare(conn.encoding);
    if (conn.pending) conn.pending.push(frame);
    else {
      conn.pending = [frame];
      this.#dirty.push(conn);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        nextTurn(this.#flushBound);
      }
    }
    return true;
  }

  readonly #flushBound = () => {
    this.#flushScheduled = false;
    const dirty = this.#dirty;
    this.#dirty = [];
    this.#flush(dirty);
  };

  readonly #flushHeldBound = () => {
    this.#heldTimer = undefined;
    const held = this.#held;
    this.#held = [];
    this.#flush(held);
  };

  /**
   * Writes each socket's pending frames as one frame. With a batch window, a socket whose send buffer
   * is not empty (the network or the client is behind) and that was written to less than a window
   * ago is held instead, gathering what comes meanwhile, until its window has passed. A socket that
   * keeps up is never held: the window costs it no latency.
   */
  #flush(conns: Conn[]): void {
    const now = Date.now();
    const windowMs = this.#opts.batchWindowMs ?? 0;
    let written = 0;
    for (const conn of conns) {
      const pending = conn.pending;
      if (!pending || conn.closed) {
        conn.pending = null;
        continue;
      }
      if (windowMs > 0 && now - conn.lastWrite < windowMs && this.#opts.sockets.bufferedAmount(conn.ws) > 0) {
        this.#hold(conn, conn.lastWrite + windowMs);
        continue;
      }
      conn.pending = null;
      conn.lastWrite = now;
      written++;
      const frame = pending.length === 1 ? (pending[0] as OutFrame) : OutFrame.batch(pending);
      try {
        if (conn.encoding === 'msgpack') this.#opts.sockets.sendBinary(conn.ws, frame.packed);
        else this.#opts.sockets.send(conn.ws, frame);
      } catch (err) {
        log.debug('send failed', { conn: conn.id, err });
      }
    }
    this.#opts.metrics.wsFramesOut.inc(written);
  }

  /** Holds `conn` until `due` (ms since the epoch); one timer, for the earliest. */
  #hold(conn: Conn, due: number): void {
    this.#held.push(conn);
    if (this.#heldTimer !== undefined && due >= this.#heldDue) return;
    clearTimeout(this.#heldTimer);
    this.#heldDue = due;
    this.#heldTimer = setTimeout(this.#flushHeldBound, due - Date.now());
  }

  /**
   * A grace period after the send buffer passed the hard limit: past it ever since, the socket goes.
   * A buffer that drained and passed the limit again meanwhile is judged by that excursion's own
   * recheck, a whole grace after it began.
   */
  #recheck(conn: Conn): void {
    if (conn.closed || conn.overSince === 0) return;
    if (this.#opts.sockets.bufferedAmount(conn.ws) <= this.#opts.sendBuffer.hard) conn.overSince = 0;
    else if (Date.now() - conn.overSince >= SLOW_CONSUMER_GRACE_MS) this.#slowConsumer(conn);
  }

  #slowConsumer(conn: Conn): void {
    if (conn.closed) return;
    this.#opts.metrics.dropped.inc({ reason: 'slow_consumer' });
    log.warn('slow consumer closed', { conn: conn.id, user: conn.user });
    conn.closed = true;
    conn.pending = null;
    try {
      conn.ws.close(CLOSE.slowConsumer, 'slow consumer');
    } catch {
      this.#opts.sockets.terminate(conn.ws);
      return;
    }
    const ws = conn.ws;
    setTimeout(() => this.#opts.sockets.terminate(ws), SLOW_CONSUMER_CLOSE_WAIT_MS).unref?.();
  }
}
