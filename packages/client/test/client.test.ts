/**
 * Unit tests of the typed client's logic against a fake WebSocket and a fake fetch: only time,
 * randomness and the network are faked; the client code under test is the real one.
 */
import { describe, expect, it, vi } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import {
  backoffDelay,
  ClientError,
  ParleyClient,
  type ClientOptions,
  type Timers,
  type WebSocketCtor,
} from '../src/index.ts';
import type { Message } from '../src/wire.ts';
import { FakeSocket, fakeSocketsAndTimers, settle } from './fake-socket.ts';

const last = (): FakeSocket => {
  const s = FakeSocket.all.at(-1);
  if (!s) throw new Error('no socket was opened');
  return s;
};

const msg = (seq: number, extra: Partial<Message> = {}): Message => ({
  room: 'lobby',
  epoch: 'e1',
  seq,
  from: 'bob',
  text: `m${seq}`,
  ts: 1_700_000_000_000 + seq,
  ...extra,
});
const msgFrame = (seq: number, extra: Partial<Message> = {}) => ({ type: 'message', ...msg(seq, extra) });
const joined = (seq: number, extra: Record<string, unknown> = {}) => ({
  type: 'joined',
  room: 'lobby',
  epoch: 'e1',
  seq,
  recovered: false,
  messages: [],
  members: [{ user: 'bob', status: 'online' }],
  ...extra,
});

type Page = { epoch: string; messages: Message[]; hasMore: boolean };
function fakeFetch(pages: Page[]) {
  return vi.fn(async (_url: string, _init?: { headers?: Record<string, string> }) => {
    const page = pages.shift();
    if (!page) return { ok: false, status: 500, json: async () => ({ error: { code: 'internal', message: 'x' } }) };
    return { ok: true, status: 200, json: async () => ({ room: 'lobby', ...page }) };
  });
}


function makeClient(opts: Partial<ClientOptions> = {}) {
  const client = new ParleyClient({
    url: 'http://chat.test/',
    user: 'alice',
    WebSocket: FakeSocket,
    random: () => 0,
    fetch: fakeFetch([]),
    ...opts,
  });
  const seen: Message[] = [];
  client.on('message', (m) => seen.push(m));
  return { client, seen };
}

/** A connected client that has joined `lobby` at `seq`. */
/** A connected client that has asked to join `grp:secret` and `lobby`, with the errors it emits. */
function joiningSecretAndLobby() {
  const { client } = makeClient();
  const errors: ClientError[] = [];
  client.on('error', (e) => errors.push(e));
  client.connect();
  last().accept();
  client.join('grp:secret');
  client.join('lobby');
  return { client, errors };
}

function joinedClient(seq: number, opts: Partial<ClientOptions> = {}) {
  const c = makeClient(opts);
  c.client.connect();
  last().accept();
  c.client.join('lobby');
  last().push(joined(seq));
  return c;
}

fakeSocketsAndTimers();

describe('backoff', () => {
  it('is min(30 s, 500 ms · 2^attempt) + random(0..1000 ms)', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20].map((a) => backoffDelay(a, () => 0))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    expect(backoffDelay(0, () => 0.9999)).toBe(1499);
    expect(backoffDelay(6, () => 0.5)).toBe(30500);
  });

  it.each([1011, 1012, 1013, 4000, 4008, 1006])('reconnects after close %i with the backoff delay', (code) => {
    const delays: number[] = [];
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        delays.push(ms);
        return setTimeout(fn, ms);
      },
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    const { client } = makeClient({ timers, random: () => 0.25 });
    client.connect();
    last().accept();
    last().serverClose(code);
    expect(client.state).toBe('reconnecting');
    expect(delays.at(-1)).toBe(750);
    vi.advanceTimersByTime(749);
    expect(FakeSocket.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(2);
    expect(last().url).toBe('ws://chat.test/ws');
  });

  it.each([1000, 1008, 1009])('stops after close %i and rejects pending sends', async (code) => {
    const { client } = makeClient();
    const closes: unknown[] = [];
    client.on('close', (e) => closes.push(e));
    client.connect();
    last().accept();
    const pending = client.send('lobby', 'hi');
    last().serverClose(code, 'bye');
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    vi.advanceTimersByTime(120_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(client.state).toBe('closed');
    expect(closes).toEqual([{ code, reason: 'bye' }]);
  });

  it('grows while connects fail and starts over after a hello', () => {
    const { client } = makeClient();
    const delays: (number | undefined)[] = [];
    client.on('close', (e) => delays.push(e.reconnectInMs));
    client.connect();
    for (let i = 0; i < 3; i++) {
      last().serverClose(1006);
      vi.runOnlyPendingTimers();
    }
    last().accept();
    last().serverClose(1012);
    expect(delays).toEqual([500, 1000, 2000, 500]);
  });
});

describe('connection', () => {
  it('accepts the ws package and the standard WebSocket constructors', () => {
    // A compile-time check as much as a runtime one: both must fit `WebSocketCtor`.
    const ctors: WebSocketCtor[] = [NodeWebSocket];
    if (typeof WebSocket === 'function') ctors.push(WebSocket);
    expect(ctors.every((c) => typeof c === 'function')).toBe(true);
  });

  it('authenticates with a token in the first frame and over REST', async () => {
    const fetch = fakeFetch([{ epoch: 'e1', messages: [msg(1), msg(2)], hasMore: false }]);
    const { client, seen } = makeClient({ url: 'https://chat.test', user: undefined, token: () => 'a.b/c', fetch });
    client.connect();
    expect(last().url).toBe('wss://chat.test/ws');
    last().accept();
    expect(last().sent[0]).toEqual({ type: 'auth', token: 'a.b/c' });
    client.join('lobby');
    last().push(joined(0));
    last().push(msgFrame(3));
    await settle();
    expect(fetch.mock.calls[0]?.[1]?.headers).toEqual({ authorization: 'Bearer a.b/c' });
    expect(seen.map((m) => m.seq)).toEqual([1, 2, 3]);
  });

  it('keeps an error handler on every socket, also abandoned ones (ws throws unhandled errors)', () => {
    const { client } = makeClient({ retryDelay: 10, maxRetries: 0 });
    client.connect();
    const s = last();
    expect(s.onerror).toBeTypeOf('function');
    s.accept(100);
    vi.advanceTimersByTime(110); // heartbeat unanswered: the client drops the socket
    expect(s.closedWith?.code).toBe(4000);
    expect(s.onerror).toBeTypeOf('function');
    expect(s.onmessage).toBeNull();
  });

  it('closes with 1000 on close() and never reconnects', () => {
    const { client } = makeClient();
    client.connect();
    last().accept();
    client.close();
    expect(last().closedWith).toEqual({ code: 1000, reason: 'client closed' });
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
    expect(client.state).toBe('closed');
  });
});

describe('frames', () => {
  it('handles a batch exactly as the frames one by one, in order', () => {
    const { client } = makeClient();
    const log: string[] = [];
    client.on('joined', (e) => log.push(`joined:${e.room}:${e.seq}`));
    client.on('message', (m) => log.push(`message:${m.seq}`));
    client.on('presence', (p) => log.push(`presence:${p.user}:${p.status}`));
    client.on('typing', (t) => log.push(`typing:${t.user}`));
    client.connect();
    last().accept();
    client.join('lobby');
    last().push({
      type: 'batch',
      events: [
        joined(2),
        msgFrame(3),
        { type: 'presence', room: 'lobby', user: 'carol', status: 'online' },
        { type: 'batch', events: [msgFrame(4), { type: 'typing', room: 'lobby', user: 'bob' }] },
        msgFrame(5),
      ],
    });
    expect(log).toEqual([
      'joined:lobby:2',
      'message:3',
      'presence:carol:online',
      'message:4',
      'typing:bob',
      'message:5',
    ]);
    expect(client.members('lobby').map((m) => `${m.user}:${m.status}`)).toEqual(['bob:online', 'carol:online']);
  });

  it('delivers each seq once and ignores malformed frames', () => {
    const { seen } = joinedClient(0);
    last().push(msgFrame(1));
    last().push(msgFrame(1));
    last().onmessage?.({ data: 'not json' });
    last().push({ type: 'message', room: 'lobby', seq: 'two' });
    last().push(msgFrame(2));
    expect(seen.map((m) => m.seq)).toEqual([1, 2]);
  });
});

describe('gaps', () => {
  it('fills a seq gap from history, in order, without duplicates', async () => {
    const fetch = fakeFetch([
      { epoch: 'e1', messages: [msg(7)], hasMore: true },
      { epoch: 'e1', messages: [msg(8), msg(9)], hasMore: false },
    ]);
    const { seen } = joinedClient(5, { fetch });
    last().push(msgFrame(6));
    last().push(msgFrame(9)); // 7 and 8 are missing
    last().push(msgFrame(10));
    last().push(msgFrame(6)); // a late duplicate while the fill runs
    expect(seen.map((m) => m.seq)).toEqual([6]);
    await settle();
    expect(seen.map((m) => m.seq)).toEqual([6, 7, 8, 9, 10]);
    expect(fetch.mock.calls.map((c) => c[0])).toEqual([
      'http://chat.test/v1/rooms/lobby/messages?after=6&limit=200',
      'http://chat.test/v1/rooms/lobby/messages?after=7&limit=200',
    ]);
    expect(fetch.mock.calls[0]?.[1]?.headers).toEqual({ 'x-user': 'alice' });
    last().push(msgFrame(11));
    expect(seen.map((m) => m.seq)).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it('reports a failed fill and goes on with what it has', async () => {
    const { client, seen } = joinedClient(1, { fetch: fakeFetch([]) });
    const errors: ClientError[] = [];
    client.on('error', (e) => errors.push(e));
    last().push(msgFrame(4));
    await settle();
    expect(errors.map((e) => e.code)).toEqual(['internal']);
    expect(seen.map((m) => m.seq)).toEqual([4]);
  });
});

describe('resume', () => {
  it('rejoins with since = last seen position and delivers the recovered messages', () => {
    const { client, seen } = joinedClient(3);
    last().push(msgFrame(4));
    last().push(msgFrame(5));
    last().serverClose(1012);
    vi.advanceTimersByTime(500);
    last().accept();
    expect(last().frames('join')).toEqual([{ type: 'join', room: 'lobby', since: { epoch: 'e1', seq: 5 } }]);
    last().push(joined(7, { recovered: true, messages: [msg(5), msg(6), msg(7)] }));
    expect(seen.map((m) => m.seq)).toEqual([4, 5, 6, 7]);
    expect(client.position('lobby')).toEqual({ epoch: 'e1', seq: 7 });
  });

  it('emits reset when the epoch changed, and delivers nothing of the old position', () => {
    const { client, seen } = joinedClient(3);
    const resets: unknown[] = [];
    client.on('reset', (r) => resets.push(r));
    last().serverClose(1006);
    vi.advanceTimersByTime(500);
    last().accept();
    last().push(joined(2, { epoch: 'e2', messages: [msg(1, { epoch: 'e2' }), msg(2, { epoch: 'e2' })] }));
    expect(resets).toEqual([
      { room: 'lobby', epoch: 'e2', previousEpoch: 'e1', messages: [msg(1, { epoch: 'e2' }), msg(2, { epoch: 'e2' })] },
    ]);
    expect(seen).toEqual([]);
    last().push(msgFrame(3, { epoch: 'e2' }));
    expect(seen.map((m) => `${m.epoch}:${m.seq}`)).toEqual(['e2:3']);
  });

  it('fills from history when the same epoch could not be recovered', async () => {
    const fetch = fakeFetch([{ epoch: 'e1', messages: [msg(4), msg(5), msg(6)], hasMore: false }]);
    const { seen } = joinedClient(3, { fetch });
    last().serverClose(4008);
    vi.advanceTimersByTime(500);
    last().accept();
    // Not recovered: only the latest (7, 8) are in the reply; 4..6 must come from history.
    last().push(joined(8, { recovered: false, messages: [msg(7), msg(8)] }));
    await settle();
    expect(fetch.mock.calls.map((c) => c[0])).toEqual(['http://chat.test/v1/rooms/lobby/messages?after=3&limit=200']);
    expect(seen.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
  });

  it('catches up to the seq the joined reply announces, even past its messages', async () => {
    const fetch = fakeFetch([{ epoch: 'e1', messages: [msg(6)], hasMore: false }]);
    const { seen } = joinedClient(3, { fetch });
    last().serverClose(1006);
    vi.advanceTimersByTime(500);
    last().accept();
    last().push(joined(6, { recovered: true, messages: [msg(4), msg(5)] }));
    await settle();
    expect(fetch.mock.calls.map((c) => c[0])).toEqual(['http://chat.test/v1/rooms/lobby/messages?after=5&limit=200']);
    expect(seen.map((m) => m.seq)).toEqual([4, 5, 6]);
  });

  it('resumes a direct room by name', () => {
    const { client } = makeClient();
    client.connect();
    last().accept();
    expect(client.joinDirect('bob')).toBe('dm:alice:bob');
    expect(last().frames('join')).toEqual([{ type: 'join', with: 'bob' }]);
    last().push(joined(4, { room: 'dm:alice:bob' }));
    last().serverClose(1011);
    vi.advanceTimersByTime(500);
    last().accept();
    expect(last().frames('join')).toEqual([{ type: 'join', room: 'dm:alice:bob', since: { epoch: 'e1', seq: 4 } }]);
  });
});

describe('heartbeat', () => {
  it('sends heartbeats every heartbeatMs and stays connected while they are answered', () => {
    const { client } = makeClient({ retryDelay: 100, maxRetries: 2 });
    client.connect();
    const s = last();
    s.accept(1000);
    for (let i = 1; i <= 5; i++) {
      vi.advanceTimersByTime(i === 1 ? 1000 : 950); // a beat every 1000 ms
      expect(s.frames('heartbeat').at(-1)).toEqual({ type: 'heartbeat', id: i });
      vi.advanceTimersByTime(50);
      s.push({ type: 'heartbeat', id: i, success: true });
    }
    vi.advanceTimersByTime(900);
    expect(s.frames('heartbeat')).toHaveLength(5);
    expect(s.closedWith).toBeNull();
    expect(client.state).toBe('open');
  });

  it('resends an unanswered heartbeat maxRetries times, then closes and reconnects', () => {
    const { client } = makeClient({ retryDelay: 100, maxRetries: 2 });
    const closes: unknown[] = [];
    client.on('close', (e) => closes.push(e));
    client.connect();
    const s = last();
    s.accept(1000);
    vi.advanceTimersByTime(1000);
    expect(s.frames('heartbeat')).toEqual([{ type: 'heartbeat', id: 1 }]);
    vi.advanceTimersByTime(100);
    vi.advanceTimersByTime(100);
    expect(s.frames('heartbeat')).toEqual([1, 1, 1].map((id) => ({ type: 'heartbeat', id })));
    expect(s.closedWith).toBeNull();
    vi.advanceTimersByTime(100);
    expect(s.closedWith).toEqual({ code: 4000, reason: 'heartbeat timeout' });
    expect(closes).toEqual([{ code: 4000, reason: 'heartbeat timeout', reconnectInMs: 500 }]);
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(2);
  });
});

describe('send', () => {
  it('resolves with the ack, and resends an unacked message by the same cid after reconnect', async () => {
    const { client } = joinedClient(0);
    const first = client.send('lobby', 'hello');
    const [frame] = last().frames('send');
    expect(frame).toMatchObject({ type: 'send', room: 'lobby', text: 'hello' });
    const cid = frame?.['cid'];
    expect(typeof cid).toBe('string');

    last().serverClose(1006);
    const second = client.send('lobby', 'while away'); // queued: no socket
    vi.advanceTimersByTime(500);
    last().accept();
    expect(last().frames('send')).toEqual([]); // not before the room is joined again
    last().push(joined(0, { recovered: true }));
    const resent = last().frames('send');
    expect(resent.map((f) => f['text'])).toEqual(['hello', 'while away']);
    expect(resent[0]?.['cid']).toBe(cid);
    expect(resent[1]?.['cid']).not.toBe(cid);

    last().push({ type: 'ack', cid, room: 'lobby', epoch: 'e1', seq: 1, ts: 5 });
    last().push({ type: 'ack', cid: resent[1]?.['cid'], room: 'lobby', epoch: 'e1', seq: 2, ts: 6 });
    await expect(first).resolves.toEqual({ cid, room: 'lobby', epoch: 'e1', seq: 1, ts: 5 });
    await expect(second).resolves.toMatchObject({ seq: 2 });
  });

  it('rejects on an error frame carrying its cid; other errors become error events', async () => {
    const { client } = joinedClient(0);
    const errors: ClientError[] = [];
    client.on('error', (e) => errors.push(e));
    const p = client.send('lobby', 'spam');
    const cid = last().frames('send')[0]?.['cid'];
    last().push({ type: 'error', code: 'rate_limited', message: 'slow down', cid });
    await expect(p).rejects.toBeInstanceOf(ClientError);
    await expect(p).rejects.toMatchObject({ code: 'rate_limited', cid });
    last().push({ type: 'error', code: 'unknown_type', message: 'what' });
    expect(errors.map((e) => e.code)).toEqual(['unknown_type']);
  });

  it('resends a send refused with `unavailable` by the same cid with backoff, and fails it after 5 refusals', async () => {
    const { client } = joinedClient(0);
    const errors: ClientError[] = [];
    client.on('error', (e) => errors.push(e));
    const ok = client.send('lobby', 'during a failover');
    const cid = last().frames('send')[0]?.['cid'];
    last().push({ type: 'error', code: 'unavailable', message: 'retry later', cid });
    expect(last().frames('send')).toHaveLength(1);
    vi.advanceTimersByTime(500); // backoff: 500 ms · 2^0 + random(0) · 1000
    expect(last().frames('send').map((f) => f['cid'])).toEqual([cid, cid]);
    last().push({ type: 'ack', cid, room: 'lobby', epoch: 'e1', seq: 1, ts: 5 });
    await expect(ok).resolves.toMatchObject({ cid, seq: 1 });

    const doomed = client.send('lobby', 'never');
    const cid2 = last().frames('send').at(-1)?.['cid'];
    for (let i = 0; i < 5; i++) {
      last().push({ type: 'error', code: 'unavailable', message: 'retry later', cid: cid2 });
      vi.advanceTimersByTime(500 * 2 ** i); // 0.5, 1, 2, 4, 8 s: inside one 30 s heartbeat interval
    }
    expect(last().frames('send').filter((f) => f['cid'] === cid2)).toHaveLength(6);
    last().push({ type: 'error', code: 'unavailable', message: 'retry later', cid: cid2 });
    await expect(doomed).rejects.toMatchObject({ code: 'unavailable', cid: cid2 });
    expect(errors).toEqual([]);
  });

  it('asks again for a join refused `unavailable`, with backoff and `since`, and holds the room\'s sends until it is joined', async () => {
    const { client } = joinedClient(4);
    const errors: ClientError[] = [];
    client.on('error', (e) => errors.push(e));
    last().serverClose(1006);
    vi.advanceTimersByTime(500);
    last().accept();
    const held = client.send('lobby', 'after the failover');
    expect(last().frames('join')).toEqual([{ type: 'join', room: 'lobby', since: { epoch: 'e1', seq: 4 } }]);
    last().push({ type: 'error', code: 'unavailable', message: 'retry later', room: 'lobby' });
    vi.advanceTimersByTime(499);
    expect(last().frames('join')).toHaveLength(1);
    vi.advanceTimersByTime(1); // backoff: 500 ms · 2^0
    last().push({ type: 'error', code: 'internal', message: 'internal error', room: 'lobby' });
    vi.advanceTimersByTime(1000); // 500 ms · 2^1
    expect(last().frames('join')).toEqual(Array(3).fill({ type: 'join', room: 'lobby', since: { epoch: 'e1', seq: 4 } }));
    expect(last().frames('send')).toEqual([]);
    last().push(joined(4));
    const cid = last().frames('send')[0]?.['cid'];
    last().push({ type: 'ack', cid, room: 'lobby', epoch: 'e1', seq: 5, ts: 5 });
    await expect(held).resolves.toMatchObject({ seq: 5 });
    expect(errors).toEqual([]);
  });

  it('does not ask again for a join refused for good (`forbidden`), nor on a socket that has since closed', () => {
    const { errors } = joiningSecretAndLobby();
    last().push({ type: 'error', code: 'forbidden', message: 'not a member', room: 'grp:secret' });
    last().push({ type: 'error', code: 'unavailable', message: 'retry later', room: 'lobby' });
    const first = last();
    first.serverClose(1006);
    vi.advanceTimersByTime(60_000);
    expect(first.frames('join').map((f) => f['room'])).toEqual(['grp:secret', 'lobby']);
    expect(errors.map((e) => e.code)).toEqual(['forbidden']);
  });

  it('forgets a room whose join was refused for good: its held sends are rejected with the refusal, and no later socket asks for it', async () => {
    const { client, errors } = joiningSecretAndLobby();
    const held = client.send('grp:secret', 'hello?');
    last().push({ type: 'error', code: 'forbidden', message: 'not a member', room: 'grp:secret' });
    await expect(held).rejects.toMatchObject({ code: 'forbidden' });
    last().push(joined(0));
    last().serverClose(1006);
    vi.advanceTimersByTime(60_000);
    last().accept();
    expect(last().frames('join').map((f) => f['room'])).toEqual(['lobby']);
    expect(errors.map((e) => e.code)).toEqual(['forbidden']);
  });

  it('gives every message a unique cid: random prefix and counter', () => {
    const a = joinedClient(0, { random: () => 0.1 });
    void a.client.send('lobby', 'x');
    void a.client.send('lobby', 'y');
    const b = joinedClient(0, { random: () => 0.2 });
    void b.client.send('lobby', 'x');
    const cids = [...FakeSocket.all[0]!.frames('send'), ...FakeSocket.all[1]!.frames('send')].map((f) => f['cid']);
    expect(new Set(cids).size).toBe(3);
  });
});

/** An unsigned JWT-shaped token (the client reads `exp`, it never verifies) for `sub`, expiring at `exp` (s). */
const jwt = (sub: string, exp?: number): string => {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(exp === undefined ? { sub } : { sub, exp })}.sig`;
};
const nowS = () => Math.floor(Date.now() / 1000);

describe('authentication', () => {
  it('sends the dev user in the first frame, before anything else, with nothing in the URL', () => {
    const { client } = makeClient();
    client.connect();
    client.join('lobby');
    expect(last().url).toBe('ws://chat.test/ws');
    expect(last().sent).toEqual([]); // nothing before the socket is open
    last().accept();
    expect(last().sent[0]).toEqual({ type: 'auth', user: 'alice' });
    expect(last().sent[1]).toMatchObject({ type: 'join', room: 'lobby' });
  });

  it('puts the credentials in the URL with authInUrl (servers before v1.1), and sends no auth frame', () => {
    const dev = makeClient({ authInUrl: true }).client;
    dev.connect();
    last().accept();
    expect(last().url).toBe('ws://chat.test/ws?user=alice');
    expect(last().frames('auth')).toEqual([]);
    const jwtClient = makeClient({ user: undefined, token: 'a.b/c', authInUrl: true }).client;
    jwtClient.connect();
    expect(last().url).toBe('ws://chat.test/ws?token=a.b%2Fc');
  });

  it('asks an async token provider on every connect and reconnect, and dials only once it answered', async () => {
    let n = 0;
    const token = vi.fn(async () => `tok-${++n}`);
    const { client } = makeClient({ user: undefined, token });
    client.connect();
    expect(FakeSocket.all).toHaveLength(0);
    await settle();
    expect(FakeSocket.all).toHaveLength(1);
    last().accept();
    expect(last().sent[0]).toEqual({ type: 'auth', token: 'tok-1' });
    last().serverClose(4001, 'token expired');
    expect(client.state).toBe('reconnecting');
    vi.advanceTimersByTime(500);
    await settle();
    expect(FakeSocket.all).toHaveLength(2);
    last().accept();
    expect(last().sent[0]).toEqual({ type: 'auth', token: 'tok-2' });
    expect(token).toHaveBeenCalledTimes(2);
  });

  it('reports a failing token provider as token_failed and tries again with backoff', async () => {
    let fail = true;
    const { client } = makeClient({
      user: undefined,
      token: () => {
        if (fail) throw new Error('sso down');
        return 'ok.tok.en';
      },
    });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    await settle();
    expect(errors).toEqual(['token_failed']);
    expect(FakeSocket.all).toHaveLength(0);
    expect(client.state).toBe('reconnecting');
    fail = false;
    vi.advanceTimersByTime(500);
    await settle();
    last().accept();
    expect(last().sent[0]).toEqual({ type: 'auth', token: 'ok.tok.en' });
  });

  it('re-authenticates with a fresh token from the provider before the current one expires', async () => {
    let exp = nowS() + 120;
    const token = vi.fn(() => jwt('alice', exp));
    const { client } = makeClient({ user: undefined, token });
    client.connect();
    last().accept(3_600_000); // no heartbeats in the way
    const first = last().sent[0];
    exp = nowS() + 3600;
    vi.advanceTimersByTime(89_000); // 30 s ahead of the expiry: not yet
    expect(last().frames('auth')).toHaveLength(1);
    vi.advanceTimersByTime(1_000);
    await settle();
    const auths = last().frames('auth');
    expect(auths).toHaveLength(2);
    expect(auths[1]).toEqual({ type: 'auth', token: jwt('alice', exp) });
    expect(auths[1]).not.toEqual(first);
    expect(client.state).toBe('open');
  });

  it('answers token_expired with a fresh token from the provider, a few times at most per socket', async () => {
    const token = vi.fn(() => jwt('alice'));
    const { client } = makeClient({ user: undefined, token });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    last().accept();
    for (let i = 0; i < 4; i++) last().push({ type: 'error', code: 'token_expired', message: 'expired' });
    await settle();
    expect(last().frames('auth')).toHaveLength(4); // the first frame and three fresh tokens
    expect(errors).toEqual(['token_expired']); // the fourth is the application's to see
  });

  it('passes token_expired on as an error event with a fixed token (nothing fresh to send)', () => {
    const { client } = makeClient({ user: undefined, token: jwt('alice', nowS() + 5) });
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.code));
    client.connect();
    last().accept(3_600_000);
    vi.advanceTimersByTime(60_000);
    last().push({ type: 'error', code: 'token_expired', message: 'expired' });
    expect(errors).toEqual(['token_expired']);
    expect(last().frames('auth')).toHaveLength(1);
  });

  it('drops a token that arrives after close()', async () => {
    let resolve!: (t: string) => void;
    const { client } = makeClient({ user: undefined, token: () => new Promise<string>((r) => (resolve = r)) });
    client.connect();
    client.close();
    resolve('late.tok.en');
    await settle();
    expect(FakeSocket.all).toHaveLength(0);
    expect(client.state).toBe('closed');
  });
});

describe('groups', () => {
  type Call = { url: string; method: string; headers: Record<string, string>; body: unknown };
  /** A fake fetch answering each request with the next of `answers` (status, body), recording it. */
  function restFetch(answers: { status: number; body?: unknown }[]) {
    const calls: Call[] = [];
    const fetch = vi.fn(async (url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => {
      calls.push({
        url,
        method: init?.method ?? 'GET',
        headers: init?.headers ?? {},
        body: init?.body === undefined ? undefined : JSON.parse(init.body),
      });
      const a = answers.shift() ?? { status: 500, body: { error: { code: 'internal', message: 'x' } } };
      return {
        ok: a.status >= 200 && a.status < 300,
        status: a.status,
        json: async () => {
          if (a.body === undefined) throw new SyntaxError('no body');
          return a.body;
        },
      };
    });
    return { fetch, calls };
  }
  const group = (members: [string, string][]) => ({
    room: 'grp:team',
    id: 'team',
    title: 'Team',
    owner: 'alice',
    members: members.map(([user, role]) => ({ user, role })),
  });
  const gJoined = (seq: number, members: string[] = ['alice', 'bob']) =>
    joined(seq, { room: 'grp:team', members: members.map((user) => ({ user, status: 'online' })) });

  it('creates, reads and changes groups over REST with the auth headers', async () => {
    const { fetch, calls } = restFetch([
      { status: 201, body: group([['alice', 'owner'], ['bob', 'member']]) },
      { status: 200, body: group([['alice', 'owner'], ['bob', 'member']]) },
      { status: 200, body: group([['alice', 'owner'], ['bob', 'member'], ['carol', 'admin']]) },
      { status: 204 },
    ]);
    const { client } = makeClient({ fetch });
    await expect(client.createGroup({ id: 'team', title: 'Team', members: ['bob'] })).resolves.toEqual(
      group([['alice', 'owner'], ['bob', 'member']]),
    );
    await expect(client.group('team')).resolves.toMatchObject({ room: 'grp:team', owner: 'alice' });
    await expect(client.setMember('team', 'carol', 'admin')).resolves.toMatchObject({
      members: [{ user: 'alice' }, { user: 'bob' }, { user: 'carol', role: 'admin' }],
    });
    await expect(client.removeMember('team', 'bob')).resolves.toBeUndefined();
    expect(calls).toEqual([
      {
        url: 'http://chat.test/v1/groups',
        method: 'POST',
        headers: { 'x-user': 'alice', 'content-type': 'application/json' },
        body: { id: 'team', title: 'Team', members: ['bob'] },
      },
      { url: 'http://chat.test/v1/groups/team', method: 'GET', headers: { 'x-user': 'alice' }, body: undefined },
      {
        url: 'http://chat.test/v1/groups/team/members/carol',
        method: 'PUT',
        headers: { 'x-user': 'alice', 'content-type': 'application/json' },
        body: { role: 'admin' },
      },
      { url: 'http://chat.test/v1/groups/team/members/bob', method: 'DELETE', headers: { 'x-user': 'alice' }, body: undefined },
    ]);
  });

  it('sends a bearer token to the group routes', async () => {
    const { fetch, calls } = restFetch([{ status: 200, body: group([['alice', 'owner']]) }]);
    const { client } = makeClient({ fetch, user: undefined, token: () => 'a.b.c' });
    await client.setMember('team', 'bob', 'member');
    expect(calls[0]?.headers).toEqual({ authorization: 'Bearer a.b.c', 'content-type': 'application/json' });
  });

  it('rejects with a ClientError of the REST error code', async () => {
    const err = (code: string, status: number) => ({ status, body: { error: { code, message: `${code}!` } } });
    const { fetch } = restFetch([
      err('conflict', 409),
      err('invalid_request', 400),
      err('forbidden', 403),
      { status: 200, body: { room: 'grp:team' } },
      { status: 502 },
    ]);
    const { client } = makeClient({ fetch });
    await expect(client.createGroup({ id: 'team' })).rejects.toMatchObject({ name: 'ClientError', code: 'conflict' });
    await expect(client.createGroup({ id: 'bad id' })).rejects.toMatchObject({ code: 'invalid_request' });
    const refused = client.removeMember('team', 'alice');
    await expect(refused).rejects.toBeInstanceOf(ClientError);
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', message: expect.stringContaining('forbidden!') });
    await expect(client.group('team')).rejects.toMatchObject({ code: 'history_failed' }); // malformed answer
    await expect(client.setMember('team', 'bob', 'member')).rejects.toMatchObject({ code: 'history_failed' });
  });

  it('emits member events and keeps the member list in step', () => {
    const { client } = makeClient();
    const events: unknown[] = [];
    client.on('member', (e) => events.push(e));
    client.connect();
    last().accept();
    client.join('grp:team');
    last().push(gJoined(0));
    last().push({ type: 'member', room: 'grp:team', user: 'carol', role: 'member', by: 'alice' });
    last().push({ type: 'member', room: 'grp:team', user: 'carol', role: 'admin', by: 'alice' });
    last().push({ type: 'member', room: 'grp:team', user: 'bob', role: null, by: 'alice' });
    last().push({ type: 'member', room: 'grp:team', user: 'dave', role: 'owner', by: 'alice' }); // malformed: dropped
    // The removed user's departure from the room: a presence frame that must not list it again.
    last().push({ type: 'presence', room: 'grp:team', user: 'bob', status: 'offline', lastSeen: 5 });
    last().push({ type: 'presence', room: 'grp:team', user: 'carol', status: 'online' });
    expect(events).toEqual([
      { room: 'grp:team', user: 'carol', role: 'member', by: 'alice' },
      { room: 'grp:team', user: 'carol', role: 'admin', by: 'alice' },
      { room: 'grp:team', user: 'bob', role: null, by: 'alice' },
    ]);
    expect(client.members('grp:team')).toEqual([
      { user: 'alice', status: 'online' },
      { user: 'carol', status: 'online' },
    ]);
  });

  it('forgets a group it was removed from: left with the reason, pending sends rejected, no rejoin', async () => {
    const { client, seen } = makeClient();
    const lefts: unknown[] = [];
    client.on('left', (e) => lefts.push(e));
    client.connect();
    last().accept();
    client.join('grp:team');
    client.join('lobby');
    last().push(gJoined(3));
    last().push(joined(0));
    const pending = client.send('grp:team', 'too late');
    last().push({ type: 'left', room: 'grp:team', reason: 'removed' });
    await expect(pending).rejects.toMatchObject({ code: 'left' });
    expect(lefts).toEqual([{ room: 'grp:team', reason: 'removed' }]);
    expect(client.members('grp:team')).toEqual([]);
    expect(client.position('grp:team')).toBeUndefined();
    last().push(msgFrame(4, { room: 'grp:team' })); // nothing more is delivered from it
    expect(seen).toEqual([]);
    // A plain `left` (the answer to a leave) carries no reason.
    client.leave('lobby');
    last().push({ type: 'left', room: 'lobby' });
    expect(lefts.at(-1)).toEqual({ room: 'lobby' });

    client.join('general');
    last().serverClose(1012);
    vi.advanceTimersByTime(500);
    last().accept();
    expect(last().frames('join')).toEqual([{ type: 'join', room: 'general' }]);
  });

  it('still rejoins a group after a plain reconnect', () => {
    const { client } = makeClient();
    client.connect();
    last().accept();
    client.join('grp:team');
    last().push(gJoined(2));
    last().serverClose(1006);
    vi.advanceTimersByTime(500);
    last().accept();
    expect(last().frames('join')).toEqual([{ type: 'join', room: 'grp:team', since: { epoch: 'e1', seq: 2 } }]);
  });
});
