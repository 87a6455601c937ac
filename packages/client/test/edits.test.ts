/**
 * Edits, deletes and reactions (protocol v1.1) in the typed client, against a fake WebSocket and a
 * fake fetch: the frames and their acks, the message state it keeps per room from `joined`, live
 * entries, recovery and history, and what they do to unread counts.
 */
import { describe, expect, it, vi } from 'vitest';
import { ClientError, ParleyClient, type Ack } from '../src/index.ts';
import type { Message } from '../src/wire.ts';
import { FakeSocket, fakeSocketsAndTimers, settle, sock, type Frame } from './fake-socket.ts';
import { LogModel } from './log-model.ts';

const entries = (ms: Message[]) => ms.map((m) => ({ type: 'message', ...m }));
const ackOf = (f: Frame, seq: number): Ack => ({ cid: f['cid'] as string, room: 'lobby', epoch: 'e1', seq, ts: 5 });

function client(pages: unknown[] = []) {
  const fetch = vi.fn(async () => ({ ok: true, status: 200, json: async () => pages.shift() }));
  const c = new ParleyClient({ url: 'http://chat.test', user: 'alice', WebSocket: FakeSocket, random: () => 0, fetch });
  const changes: Message[] = [];
  c.on('change', (e) => changes.push(e.message));
  return { c, fetch, changes };
}

/** Connects and joins `lobby`, the `joined` reply carrying `messages` (with their state). */
function joined(c: ParleyClient, messages: Message[], lastRead = 0) {
  c.connect();
  sock().accept();
  c.join('lobby');
  sock().push({ type: 'joined', room: 'lobby', epoch: 'e1', seq: messages.at(-1)?.seq ?? 0, recovered: false, messages, members: [], lastRead });
}

fakeSocketsAndTimers();

describe('edit, delete, react', () => {
  it('sends each with a cid and resolves with its ack', async () => {
    const { c } = client();
    joined(c, []);
    const acks = Promise.all([c.edit('lobby', 3, 'fixed'), c.deleteMessage('lobby', 4), c.react('lobby', 5, '👍'), c.react('lobby', 5, '👍', false)]);
    const sent = sock().frames('send', 'edit', 'delete', 'react');
    expect(sent).toEqual([
      { type: 'edit', room: 'lobby', seq: 3, text: 'fixed', cid: expect.any(String) },
      { type: 'delete', room: 'lobby', seq: 4, cid: expect.any(String) },
      { type: 'react', room: 'lobby', seq: 5, emoji: '👍', on: true, cid: expect.any(String) },
      { type: 'react', room: 'lobby', seq: 5, emoji: '👍', on: false, cid: expect.any(String) },
    ]);
    expect(new Set(sent.map((f) => f['cid'])).size).toBe(4);
    sent.forEach((f, i) => sock().push({ type: 'ack', ...ackOf(f, 10 + i) }));
    expect((await acks).map((a) => a.seq)).toEqual([10, 11, 12, 13]);
  });

  it('resends an unacked edit by the same cid once the room is joined again after a reconnect', async () => {
    const { c } = client();
    joined(c, []);
    const edited = c.edit('lobby', 3, 'fixed');
    const cid = sock().frames('send', 'edit', 'delete', 'react')[0]?.['cid'];
    sock().serverClose(1006);
    vi.advanceTimersByTime(1500);
    sock().accept();
    expect(sock().frames('send', 'edit', 'delete', 'react')).toEqual([]); // not before `joined`: it would be refused
    sock().push({ type: 'joined', room: 'lobby', epoch: 'e1', seq: 3, recovered: true, messages: [], members: [] });
    expect(sock().frames('send', 'edit', 'delete', 'react')).toEqual([{ type: 'edit', room: 'lobby', seq: 3, text: 'fixed', cid }]);
    sock().push({ type: 'ack', cid, room: 'lobby', epoch: 'e1', seq: 4, ts: 5 });
    expect(await edited).toMatchObject({ seq: 4 });
  });

  it('rejects with the server\'s code when refused: someone else\'s message, or one that is gone', async () => {
    const { c } = client();
    joined(c, []);
    const edit = c.edit('lobby', 2, 'not mine').catch((err: unknown) => err);
    const react = c.react('lobby', 99, '🎉').catch((err: unknown) => err);
    const [e, r] = sock().frames('send', 'edit', 'delete', 'react');
    sock().push({ type: 'error', code: 'forbidden', message: 'not the author', cid: e?.['cid'], room: 'lobby' });
    sock().push({ type: 'error', code: 'not_found', message: 'no such message', cid: r?.['cid'], room: 'lobby' });
    expect(await edit).toEqual(new ClientError('forbidden', 'not the author', e?.['cid'] as string));
    expect(await react).toMatchObject({ code: 'not_found' });
  });
});

describe('message state in the client', () => {
  it('shows the joined messages in their state, and live entries change them', () => {
    const log = new LogModel();
    const mine = log.text('alice', 'helo');
    const bobs = log.text('bob', 'hi');
    log.react('bob', mine, '👍', true);
    const { c, changes } = client();
    joined(c, log.read());
    expect(c.messages('lobby')).toEqual(log.textState());
    const first = log.head;
    log.edit('alice', mine, 'hello');
    log.react('carol', mine, '👍', true);
    log.delete('bob', bobs);
    for (const f of entries(log.entries.slice(first))) sock().push(f);
    expect(c.messages('lobby')).toEqual(log.textState());
    expect(c.messageState('lobby', mine)).toMatchObject({ text: 'hello', reactions: [{ emoji: '👍', count: 2, users: ['bob', 'carol'] }] });
    expect(c.messageState('lobby', bobs)).toMatchObject({ text: '', deleted: true });
    expect(changes.map((m) => [m.seq, m.rev])).toEqual([[1, 4], [1, 5], [2, 6]]);
  });

  it('after a reconnect, the recovered entries bring it to what a fresh read shows', () => {
    const log = new LogModel();
    const m = log.text('bob', 'plan A');
    const { c } = client();
    joined(c, log.read());
    sock().serverClose(1006);
    vi.advanceTimersByTime(1500);
    log.edit('bob', m, 'plan B');
    log.text('bob', 'thoughts?');
    log.react('carol', m, '😮', true);
    sock().accept();
    sock().push({ type: 'joined', room: 'lobby', epoch: 'e1', seq: log.head, recovered: true, messages: log.read(2), members: [] });
    expect(c.messages('lobby')).toEqual(log.textState());
  });

  it('fills a gap from history, entries and all, and scrolls back with history()', async () => {
    const log = new LogModel();
    for (let i = 1; i <= 4; i++) log.text(i % 2 ? 'bob' : 'carol', `m${i}`);
    const { c, fetch } = client();
    joined(c, log.read(3)); // the latest two only
    log.edit('bob', 1, 'm1, edited'); // 5: of a message the client does not hold yet
    log.react('alice', 4, '❤️', true); // 6
    log.text('bob', 'm7'); // 7
    fetch.mockImplementationOnce(async () => ({ ok: true, status: 200, json: async () => ({ room: 'lobby', epoch: 'e1', messages: log.read(5, 6), hasMore: false }) }));
    sock().push(entries(log.entries.slice(6))[0] as object); // 7 arrives live: 5 and 6 are missing
    await settle();
    expect(c.messages('lobby')).toEqual(log.textState(3));
    fetch.mockImplementationOnce(async () => ({ ok: true, status: 200, json: async () => ({ room: 'lobby', epoch: 'e1', messages: log.read(1, 2), hasMore: false }) }));
    const page = await c.history('lobby', { before: 3, limit: 2 });
    expect(fetch.mock.calls.at(-1)?.[0 as never]).toBe('http://chat.test/v1/rooms/lobby/messages?before=3&limit=2');
    expect(page.messages).toHaveLength(2);
    expect(c.messages('lobby')).toEqual(log.textState());
  });

  it('starts over on a new epoch, and forgets a room that was left', () => {
    const log = new LogModel();
    log.text('bob', 'old');
    const { c } = client();
    joined(c, log.read());
    const next = new LogModel('lobby', 'e2');
    next.text('bob', 'new');
    sock().serverClose(1006);
    vi.advanceTimersByTime(1500);
    sock().accept();
    sock().push({ type: 'joined', room: 'lobby', epoch: 'e2', seq: 1, recovered: false, messages: next.read(), members: [] });
    expect(c.messages('lobby')).toEqual(next.textState());
    c.leave('lobby');
    expect(c.messages('lobby')).toEqual([]);
  });
});

describe('unread counts with edits, deletes and reactions', () => {
  it('count neither edits nor reactions, nor the user\'s own messages, nor deleted ones', () => {
    const log = new LogModel();
    const gone = log.text('bob', 'oops');
    log.delete('bob', gone);
    log.text('alice', 'mine');
    const kept = log.text('bob', 'real news');
    const { c } = client();
    joined(c, log.read());
    expect(c.unread('lobby')).toBe(1);
    const first = log.head;
    log.edit('bob', kept, 'real news!');
    log.react('bob', kept, '👍', true);
    const more = log.text('bob', 'and more');
    for (const f of entries(log.entries.slice(first))) sock().push(f);
    expect(c.unread('lobby')).toBe(2);
    log.delete('bob', more);
    for (const f of entries(log.entries.slice(-1))) sock().push(f);
    expect(c.unread('lobby')).toBe(1);
  });

  it('a message deleted while the user was away stops counting, also when the resume had to page the gap', async () => {
    const log = new LogModel();
    const gone = log.text('bob', 'typo');
    log.text('bob', 'kept');
    const { c, fetch } = client();
    joined(c, log.read());
    expect(c.unread('lobby')).toBe(2);
    sock().serverClose(1006);
    vi.advanceTimersByTime(1500);
    log.delete('bob', gone);
    log.text('bob', 'new');
    log.text('bob', 'newer');
    fetch.mockImplementationOnce(async () => ({ ok: true, status: 200, json: async () => ({ room: 'lobby', epoch: 'e1', messages: log.read(3), hasMore: false }) }));
    sock().accept();
    // Not recovered: the latest messages only; the delete comes from history.
    sock().push({ type: 'joined', room: 'lobby', epoch: 'e1', seq: 5, recovered: false, messages: log.read(4), members: [], lastRead: 0 });
    await settle();
    expect(c.messages('lobby')).toEqual(log.textState());
    expect(c.unread('lobby')).toBe(3);
  });
});
