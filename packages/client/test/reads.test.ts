/**
 * The typed client's read state (protocol v1.1) against a fake WebSocket and a fake fetch: the
 * position and unread count it keeps per room, `markRead`, receipts, and the REST answers.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ParleyClient } from '../src/index.ts';
import type { Message } from '../src/wire.ts';
import { FakeSocket, settle, sock } from './fake-socket.ts';

const msg = (seq: number, from = 'bob', room = 'lobby'): Message => ({ room, epoch: 'e1', seq, from, text: `m${seq}`, ts: 1_700_000_000_000 + seq });

function client(bodies: unknown[] = []) {
  const fetch = vi.fn(async () => ({ ok: true, status: 200, json: async () => bodies.shift() }));
  const c = new ParleyClient({ url: 'http://chat.test', user: 'alice', WebSocket: FakeSocket, random: () => 0, fetch });
  const unread: { room: string; lastRead: number; unread: number }[] = [];
  c.on('unread', (e) => unread.push(e));
  return { c, fetch, unread };
}

function joinedAt(c: ParleyClient, lastRead: number, messages: Message[], seq = messages.at(-1)?.seq ?? 0) {
  c.connect();
  sock().accept();
  c.join('lobby');
  sock().push({ type: 'joined', room: 'lobby', epoch: 'e1', seq, recovered: false, messages, members: [], lastRead });
}

beforeEach(() => {
  FakeSocket.all = [];
});

describe('read state in the typed client', () => {
  it('takes lastRead from joined and counts the others\' messages after it, not the user\'s own', () => {
    const { c } = client();
    joinedAt(c, 2, [msg(1), msg(2), msg(3), msg(4, 'alice'), msg(5)]);
    expect(c.lastRead('lobby')).toBe(2);
    expect(c.unread('lobby')).toBe(2);
    sock().push({ type: 'message', ...msg(6) });
    sock().push({ type: 'message', ...msg(7, 'alice') });
    expect(c.unread('lobby')).toBe(3);
  });

  it('marks a room read up to its latest message by default, and counts down when the read comes back', () => {
    const { c, unread } = client();
    joinedAt(c, 0, [msg(1), msg(2), msg(3)]);
    c.markRead('lobby');
    expect(sock().frames('read')).toEqual([{ type: 'read', room: 'lobby', seq: 3 }]);
    expect(c.unread('lobby')).toBe(3); // the server decides
    sock().push({ type: 'read', room: 'lobby', user: 'alice', seq: 3 });
    expect(c.lastRead('lobby')).toBe(3);
    expect(c.unread('lobby')).toBe(0);
    expect(unread.at(-1)).toEqual({ room: 'lobby', lastRead: 3, unread: 0 });
    c.markRead('lobby'); // nothing new: nothing sent
    expect(sock().frames('read')).toHaveLength(1);
  });

  it('lowers the count by what was read when a read stops short of the latest, and ignores one that goes back', () => {
    const { c } = client();
    joinedAt(c, 0, [msg(1), msg(2), msg(3), msg(4)]);
    c.markRead('lobby', 2);
    expect(sock().frames('read')).toEqual([{ type: 'read', room: 'lobby', seq: 2 }]);
    sock().push({ type: 'read', room: 'lobby', user: 'alice', seq: 2 });
    expect(c.unread('lobby')).toBe(2);
    sock().push({ type: 'read', room: 'lobby', user: 'alice', seq: 1 });
    expect([c.lastRead('lobby'), c.unread('lobby')]).toEqual([2, 2]);
  });

  it('keeps the other members\' receipts apart from the own position, and emits every read', () => {
    const { c } = client();
    const seen: unknown[] = [];
    c.on('read', (e) => seen.push(e));
    joinedAt(c, 0, [msg(1), msg(2)]);
    sock().push({ type: 'read', room: 'lobby', user: 'bob', seq: 2 });
    sock().push({ type: 'read', room: 'lobby', user: 'bob', seq: 1 });
    expect(c.readers('lobby')).toEqual([{ user: 'bob', seq: 2 }]);
    expect(c.lastRead('lobby')).toBe(0);
    expect(seen).toEqual([{ room: 'lobby', user: 'bob', seq: 2 }, { room: 'lobby', user: 'bob', seq: 1 }]);
  });

  it('sends a read asked for while disconnected once connected, for a room it never joined', () => {
    const { c } = client();
    c.markRead('dm:alice:bob', 7);
    c.connect();
    sock().accept();
    expect(sock().frames('read')).toEqual([{ type: 'read', room: 'dm:alice:bob', seq: 7 }]);
  });

  it('takes positions and counts from the conversation list, and the readers from the reads route', async () => {
    const { c, fetch } = client([
      { items: [{ room: 'lobby', seq: 9, lastRead: 4, unread: 5 }, { room: 'old', seq: 1 }] },
      { room: 'dm:alice:bob', reads: [{ user: 'alice', seq: 3 }, { user: 'bob', seq: 6 }] },
    ]);
    const items = await c.conversations();
    expect(items).toEqual([{ room: 'lobby', seq: 9, lastRead: 4, unread: 5 }, { room: 'old', seq: 1, lastRead: 0, unread: 0 }]);
    expect([c.lastRead('lobby'), c.unread('lobby')]).toEqual([4, 5]);
    expect(await c.fetchReaders('dm:alice:bob')).toHaveLength(2);
    expect(c.readers('dm:alice:bob')).toEqual([{ user: 'bob', seq: 6 }]);
    expect(c.lastRead('dm:alice:bob')).toBe(3);
    expect(fetch.mock.calls.map((call) => (call as unknown[])[0])).toEqual(['http://chat.test/v1/conversations', 'http://chat.test/v1/rooms/dm:alice:bob/reads']);
    // Marking the listed room read goes up to its latest seq, which the list told.
    c.connect();
    sock().accept();
    c.markRead('lobby');
    expect(sock().frames('read')).toEqual([{ type: 'read', room: 'lobby', seq: 9 }]);
    await settle();
  });
});
