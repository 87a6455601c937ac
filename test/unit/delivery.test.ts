/**
 * What a socket is sent (src/realtime/hub.ts): events of one turn batched into one frame, nothing
 * lost or repeated around a join, nobody told about their own typing, and a reader that does not
 * read losing typing and presence first and its connection last. The hub is the real one; its room
 * feed, its sockets and the clock are fakes.
 */
import type { WSContext } from 'hono/ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { configureLog } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { CLOSE, type Message, type ServerFrame } from '@parley/client/wire';
import { Conn } from '../../src/realtime/conn.ts';
import { Hub } from '../../src/realtime/hub.ts';
import type { SocketOps } from '../../src/realtime/runtime.ts';
import type { RoomEvent, RoomHandler } from '../../src/rooms/types.ts';

// The slow-consumer warning would bury test output.
configureLog('error', {});

const SOFT = 1_000;
const HARD = 10_000;
/** The hub's grace past the hard limit, and the wait for a closed slow consumer to answer. */
const GRACE_MS = 1_000;
const CLOSE_WAIT_MS = 5_000;

/** A WebSocket as the hub sees it: what it was sent, how it was closed, what it has buffered. */
class FakeSocket {
  readonly sent: string[] = [];
  readonly closes: { code?: number; reason?: string }[] = [];
  buffered = 0;
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number, reason?: string): void {
    this.closes.push({ code, reason });
  }
  /** The frames sent since the last call, parsed. */
  take(): ServerFrame[] {
    return this.sent.splice(0).map((s) => JSON.parse(s) as ServerFrame);
  }
}

function setup(opts: { batchWindowMs?: number } = {}) {
  const handlers = new Map<string, RoomHandler>();
  const terminated: FakeSocket[] = [];
  const sockets: SocketOps = {
    send: (ws, frame) => (ws as unknown as FakeSocket).send(frame.text),
    sendBinary: () => {
      throw new Error('these sockets speak JSON'); // MessagePack sockets: encodings.test.ts
    },
    ping: () => false,
    watchLiveness: () => undefined,
    terminate: (ws) => void terminated.push(ws as unknown as FakeSocket),
    bufferedAmount: (ws) => (ws as unknown as FakeSocket).buffered,
  };
  const metrics = createMetrics('test');
  const feed = {
    async subscribe(room: string, handler: RoomHandler) {
      handlers.set(room, handler);
      return async () => void handlers.delete(room);
    },
  };
  const hub = new Hub({ feed, sockets, metrics, sendBuffer: { soft: SOFT, hard: HARD }, batchWindowMs: opts.batchWindowMs });
  let n = 0;
  return {
    hub,
    metrics,
    terminated,
    connect(user: string) {
      const sock = new FakeSocket();
      const conn = new Conn(`c${++n}`, user, 'test-instance', sock as unknown as WSContext, { send: 10, typing: 10, join: 10, abuse: 10 }, Date.now());
      hub.add(conn);
      return { conn, sock };
    },
    /** The room feed delivering an event, as the room log's subscription does. */
    emit(room: string, event: RoomEvent) {
      const handler = handlers.get(room);
      if (!handler) throw new Error(`${room} is not subscribed`);
      handler(event);
    },
    /** A whole join answered at `seq`: `joined` goes out with the next flush. */
    async join(conn: Conn, room: string, seq = 0) {
      await hub.beginJoin(conn, room);
      hub.finishJoin(conn, room, joined(room, seq));
    },
  };
}

const EPOCH = 'epoch-1';
const msg = (seq: number, from = 'bob', room = 'lobby', epoch = EPOCH): RoomEvent => ({
  type: 'message',
  message: { room, epoch, seq, from, text: `m${seq}`, ts: 1_700_000_000_000 + seq },
});
const joined = (room: string, seq: number, epoch = EPOCH): Extract<ServerFrame, { type: 'joined' }> => ({
  type: 'joined',
  room,
  epoch,
  seq,
  recovered: true,
  messages: [],
  members: [],
});
const typing = (user: string, room = 'lobby'): RoomEvent => ({ type: 'typing', room, user });
const presence = (user: string, room = 'lobby'): RoomEvent => ({ type: 'presence', room, user, status: 'online' });

/** The frame a message event goes out as. */
const asFrame = (e: RoomEvent): ServerFrame => {
  if (e.type === 'roster') throw new Error('a roster is never sent');
  return e.type === 'message' ? { type: 'message', ...e.message } : e;
};
/** The seqs of message frames, batch or not, in the order sent. */
const seqs = (frames: ServerFrame[]): number[] =>
  frames.flatMap((f) => (f.type === 'batch' ? f.events : [f])).flatMap((f) => (f.type === 'message' ? [(f as Message).seq] : []));

/** Lets the hub flush what this turn queued (a zero-delay timer: `setImmediate` on Node). */
const flush = () => vi.advanceTimersByTime(0);
const counter = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string> = {}) =>
  (await c.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('several events at once', () => {
  it('reach a socket as one batch frame, in order; one event alone goes as a plain frame', async () => {
    const t = setup();
    const alice = t.connect('alice');
    await t.join(alice.conn, 'lobby');
    flush();
    expect(alice.sock.take()).toEqual([joined('lobby', 0)]);

    const events = [msg(1), typing('bob'), msg(2), presence('carol'), msg(3)];
    for (const e of events) t.emit('lobby', e);
    expect(alice.sock.sent).toEqual([]); // nothing is written within the turn
    flush();
    expect(alice.sock.sent.splice(0)).toEqual([`{"type":"batch","events":[${events.map((e) => JSON.stringify(asFrame(e))).join(',')}]}`]);

    t.emit('lobby', msg(4));
    flush();
    expect(alice.sock.sent).toEqual([JSON.stringify(asFrame(msg(4)))]);
    expect(await counter(t.metrics.wsFramesOut)).toBe(3);
    expect(await counter(t.metrics.framesOut, { type: 'message' })).toBe(4);
  });

  it('batch each socket on its own, with frames sent to it directly in the same turn', async () => {
    const t = setup();
    const alice = t.connect('alice');
    const dave = t.connect('dave');
    await t.join(alice.conn, 'lobby');
    await t.join(dave.conn, 'lobby');
    t.hub.send(alice.conn, { type: 'ack', room: 'lobby', epoch: EPOCH, seq: 1, ts: 1 });
    t.emit('lobby', msg(1, 'alice'));
    flush();
    expect(alice.sock.take()).toEqual([
      { type: 'batch', events: [joined('lobby', 0), { type: 'ack', room: 'lobby', epoch: EPOCH, seq: 1, ts: 1 }, asFrame(msg(1, 'alice'))] },
    ]);
    expect(dave.sock.take()).toEqual([{ type: 'batch', events: [joined('lobby', 0), asFrame(msg(1, 'alice'))] }]);
  });
});

describe('joining a room', () => {
  it('sends what arrived while joining after `joined`, only what is newer than it', async () => {
    const t = setup();
    const alice = t.connect('alice');
    await t.join(alice.conn, 'lobby', 4);
    flush();
    alice.sock.take();

    const bob = t.connect('bob');
    await t.hub.beginJoin(bob.conn, 'lobby');
    // Bob's history is being read meanwhile: it will hold up to 6.
    for (const e of [msg(5), typing('carol'), msg(6), msg(7)]) t.emit('lobby', e);
    flush();
    expect(seqs(alice.sock.take())).toEqual([5, 6, 7]);
    expect(bob.sock.sent).toEqual([]);

    t.hub.finishJoin(bob.conn, 'lobby', joined('lobby', 6));
    flush();
    expect(bob.sock.take()).toEqual([{ type: 'batch', events: [joined('lobby', 6), asFrame(typing('carol')), asFrame(msg(7))] }]);

    t.emit('lobby', msg(8));
    flush();
    expect(seqs(bob.sock.take())).toEqual([8]);
    expect(seqs(alice.sock.take())).toEqual([8]);
  });

  it('does not repeat a message `joined` already held when its publication comes later, and sends the next', async () => {
    const t = setup();
    const alice = t.connect('alice');
    await t.join(alice.conn, 'lobby', 7);
    t.emit('lobby', msg(7)); // the subscription has delivered 7
    const bob = t.connect('bob');
    await t.hub.beginJoin(bob.conn, 'lobby');
    // 8 was stored and Bob's history read it before its publication arrived.
    t.hub.finishJoin(bob.conn, 'lobby', joined('lobby', 8));
    flush();
    alice.sock.take();
    expect(bob.sock.take()).toEqual([joined('lobby', 8)]);

    t.emit('lobby', msg(8));
    flush();
    expect(seqs(alice.sock.take())).toEqual([8]);
    expect(bob.sock.sent).toEqual([]);

    t.emit('lobby', msg(9));
    t.emit('lobby', msg(10));
    flush();
    expect(seqs(bob.sock.take())).toEqual([9, 10]);
    expect(seqs(alice.sock.take())).toEqual([9, 10]);
  });

  it('holds back nothing of a room that started a new epoch after `joined`', async () => {
    const t = setup();
    const bob = t.connect('bob');
    await t.join(bob.conn, 'lobby', 8); // nothing delivered yet: a floor at 8
    flush();
    bob.sock.take();
    t.emit('lobby', msg(1, 'alice', 'lobby', 'epoch-2'));
    flush();
    expect(bob.sock.take()).toEqual([asFrame(msg(1, 'alice', 'lobby', 'epoch-2'))]);
  });

  it('sends nothing to a socket that left before its `joined`', async () => {
    const t = setup();
    const alice = t.connect('alice');
    await t.join(alice.conn, 'lobby');
    const bob = t.connect('bob');
    await t.hub.beginJoin(bob.conn, 'lobby');
    t.emit('lobby', msg(1));
    t.hub.leave(bob.conn, 'lobby');
    t.hub.finishJoin(bob.conn, 'lobby', joined('lobby', 0));
    flush();
    expect(bob.sock.sent).toEqual([]);
    expect(seqs(alice.sock.take())).toEqual([1]);
  });

  it('keeps nothing of a socket that closed before its join reached the room: the room is let go', async () => {
    const t = setup();
    const bob = t.connect('bob');
    // Bob's socket closes while its join is still being checked (access, an earlier join).
    t.hub.remove(bob.conn);
    await expect(t.hub.beginJoin(bob.conn, 'lobby')).rejects.toThrow(/closed/);
    expect(t.hub.roomCount).toBe(0);
    expect(bob.conn.joinedRooms()).toEqual([]);
    // Nobody holds the room, so nothing is subscribed that would hold its events for Bob.
    expect(() => t.emit('lobby', msg(1))).toThrow(/not subscribed/);
  });
});

describe('typing and presence', () => {
  it('are not sent back to their own user, on any of the user’s sockets; messages are', async () => {
    const t = setup();
    const tab1 = t.connect('alice');
    const tab2 = t.connect('alice');
    const bob = t.connect('bob');
    for (const c of [tab1, tab2, bob]) await t.join(c.conn, 'lobby');
    flush();
    for (const c of [tab1, tab2, bob]) c.sock.take();

    t.emit('lobby', typing('alice'));
    t.emit('lobby', presence('alice'));
    t.emit('lobby', msg(1, 'alice'));
    flush();
    expect(tab1.sock.take()).toEqual([asFrame(msg(1, 'alice'))]);
    expect(tab2.sock.take()).toEqual([asFrame(msg(1, 'alice'))]);
    expect(bob.sock.take()).toEqual([{ type: 'batch', events: [typing('alice'), presence('alice'), asFrame(msg(1, 'alice'))] }]);
  });
});

describe('a reader that does not keep up', () => {
  async function reader() {
    const t = setup();
    const bob = t.connect('bob');
    await t.join(bob.conn, 'lobby');
    flush();
    bob.sock.take();
    return { t, bob };
  }

  it('is not sent typing and presence while its send buffer is past the soft limit, but every message', async () => {
    const { t, bob } = await reader();
    bob.sock.buffered = SOFT; // at the limit: still everything
    t.emit('lobby', typing('alice'));
    flush();
    expect(bob.sock.take()).toEqual([typing('alice')]);

    bob.sock.buffered = SOFT + 1;
    for (const e of [typing('alice'), msg(1, 'alice'), presence('carol'), msg(2, 'alice')]) t.emit('lobby', e);
    flush();
    expect(bob.sock.take()).toEqual([{ type: 'batch', events: [asFrame(msg(1, 'alice')), asFrame(msg(2, 'alice'))] }]);
    expect(await counter(t.metrics.dropped, { reason: 'backpressure' })).toBe(2);
    expect(bob.sock.closes).toEqual([]);
  });

  it('keeps getting messages for a moment past the hard limit, then is closed with 4008 and cut after a wait', async () => {
    const { t, bob } = await reader();
    bob.sock.buffered = HARD + 1;
    t.emit('lobby', msg(1));
    t.emit('lobby', typing('alice'));
    flush();
    expect(bob.sock.take()).toEqual([asFrame(msg(1))]);

    vi.advanceTimersByTime(GRACE_MS - 1);
    t.emit('lobby', msg(2));
    flush();
    expect(seqs(bob.sock.take())).toEqual([2]);
    expect(bob.sock.closes).toEqual([]);

    vi.advanceTimersByTime(1); // past the limit for the whole grace
    expect(bob.sock.closes).toEqual([{ code: CLOSE.slowConsumer, reason: 'slow consumer' }]);
    expect(CLOSE.slowConsumer).toBe(4008);
    expect(await counter(t.metrics.dropped, { reason: 'slow_consumer' })).toBe(1);

    t.emit('lobby', msg(3));
    flush();
    expect(bob.sock.sent).toEqual([]);
    expect(t.terminated).toEqual([]);
    vi.advanceTimersByTime(CLOSE_WAIT_MS); // it never answered the close: the connection is cut
    expect(t.terminated).toEqual([bob.sock]);
  });

  it('is closed by the next event once the grace is over, even when the recheck is late', async () => {
    const { t, bob } = await reader();
    bob.sock.buffered = HARD + 1;
    t.emit('lobby', msg(1));
    flush();
    bob.sock.take();
    vi.setSystemTime(Date.now() + GRACE_MS); // the clock moves on, the recheck timer has not run
    t.emit('lobby', msg(2));
    flush();
    expect(bob.sock.sent).toEqual([]);
    expect(bob.sock.closes).toEqual([{ code: CLOSE.slowConsumer, reason: 'slow consumer' }]);
  });

  it('stays open when its buffer drains below the hard limit within the grace', async () => {
    const { t, bob } = await reader();
    bob.sock.buffered = HARD + 1;
    t.emit('lobby', msg(1));
    flush();
    vi.advanceTimersByTime(GRACE_MS / 2);
    bob.sock.buffered = HARD;
    vi.advanceTimersByTime(GRACE_MS);
    t.emit('lobby', msg(2));
    flush();
    expect(seqs(bob.sock.take())).toEqual([1, 2]);
    expect(bob.sock.closes).toEqual([]);
  });

  it('past the hard limit again after draining, gets the whole grace again', async () => {
    const { t, bob } = await reader();
    bob.sock.buffered = HARD + 1;
    t.emit('lobby', msg(1)); // t=0: past the limit, recheck at 1000
    vi.advanceTimersByTime(500);
    bob.sock.buffered = 0;
    t.emit('lobby', msg(2)); // t=500: drained
    vi.advanceTimersByTime(400);
    bob.sock.buffered = HARD + 1;
    t.emit('lobby', msg(3)); // t=900: past it again, for 100 ms at t=1000
    vi.advanceTimersByTime(100);
    expect(bob.sock.closes).toEqual([]);
    vi.advanceTimersByTime(GRACE_MS - 100);
    expect(bob.sock.closes).toEqual([{ code: CLOSE.slowConsumer, reason: 'slow consumer' }]);
  });
});

describe('with a batch window', () => {
  it('writes at once to a socket that keeps up, however close the events', async () => {
    const t = setup({ batchWindowMs: 50 });
    const alice = t.connect('alice');
    await t.join(alice.conn, 'lobby');
    flush();
    expect(alice.sock.take()).toEqual([joined('lobby', 0)]);
    for (let seq = 1; seq <= 3; seq++) {
      vi.advanceTimersByTime(5);
      t.emit('lobby', msg(seq));
      flush();
      expect(seqs(alice.sock.take())).toEqual([seq]);
    }
  });

  it('while a socket\'s send buffer is not empty, writes to it at most once per window, everything since in one frame', async () => {
    const t = setup({ batchWindowMs: 50 });
    const alice = t.connect('alice');
    const bob = t.connect('bob');
    await t.join(alice.conn, 'lobby');
    await t.join(bob.conn, 'lobby');
    flush();
    alice.sock.take();
    bob.sock.take();
    alice.sock.buffered = 1; // behind: the network or the client has not taken the last write yet

    vi.advanceTimersByTime(10);
    t.emit('lobby', msg(1));
    flush();
    expect(seqs(bob.sock.take())).toEqual([1]); // bob keeps up: not held
    vi.advanceTimersByTime(20);
    t.emit('lobby', msg(2));
    flush();
    expect(seqs(bob.sock.take())).toEqual([2]);
    vi.advanceTimersByTime(19); // 49 ms after the last write to alice
    expect(alice.sock.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(alice.sock.take()).toEqual([{ type: 'batch', events: [asFrame(msg(1)), asFrame(msg(2))] }]);

    t.emit('lobby', msg(3)); // right after a write, still behind: waits the whole window
    flush();
    vi.advanceTimersByTime(49);
    expect(alice.sock.sent).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seqs(alice.sock.take())).toEqual([3]);

    alice.sock.buffered = 0; // caught up: the next goes at once
    vi.advanceTimersByTime(5);
    t.emit('lobby', msg(4));
    flush();
    expect(seqs(alice.sock.take())).toEqual([4]);
  });
});

describe('metrics', () => {
  it('count every event a socket is sent, also those held while it joined', async () => {
    const t = setup();
    const alice = t.connect('alice');
    await t.hub.beginJoin(alice.conn, 'lobby');
    t.emit('lobby', msg(1));
    t.emit('lobby', msg(2));
    t.hub.finishJoin(alice.conn, 'lobby', joined('lobby', 0));
    flush();
    expect(seqs(alice.sock.take())).toEqual([1, 2]);
    expect(await counter(t.metrics.framesOut, { type: 'message' })).toBe(2);
  });
});
