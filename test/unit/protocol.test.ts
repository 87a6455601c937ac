/** The wire contract's parsing: client frames, room names, direct rooms. */
import { describe, expect, it } from 'vitest';
import { directRoom, mayAccess, parseRoom } from '@parley/client/wire';
import { parseClientFrame } from '../../src/protocol/inbound.ts';

const parse = (frame: unknown) => parseClientFrame(typeof frame === 'string' ? frame : JSON.stringify(frame));

describe('parseClientFrame', () => {
  it.each([
    ['not JSON', 'hello'],
    ['truncated JSON', '{"type":"join"'],
    ['an array', '[{"type":"heartbeat"}]'],
    ['a string', '"heartbeat"'],
    ['null', 'null'],
    ['a missing type', '{"room":"lobby"}'],
    ['a type that is not a string', '{"type":7}'],
  ])('refuses %s as invalid_message', (_name, raw) => {
    expect(parseClientFrame(raw)).toMatchObject({ ok: false, code: 'invalid_message', message: expect.any(String) });
  });

  it('refuses an unknown type as unknown_type', () => {
    expect(parse({ type: 'shout', room: 'lobby' })).toMatchObject({ ok: false, code: 'unknown_type' });
    expect(parse({ type: 'toString' })).toMatchObject({ ok: false, code: 'unknown_type' });
  });

  it.each([
    [{ type: 'join', room: 'lobby' }],
    [{ type: 'join', room: 'lobby', since: { epoch: 'e1', seq: 41 } }],
    [{ type: 'join', room: 'lobby', since: { epoch: 'e1', seq: 0 } }],
    [{ type: 'join', with: 'bob' }],
    [{ type: 'leave', room: 'lobby' }],
    [{ type: 'send', room: 'lobby', text: 'hi' }],
    [{ type: 'send', room: 'lobby', text: 'hi', cid: 'c-1' }],
    [{ type: 'send', room: 'lobby', text: 'x'.repeat(4000), cid: 'c'.repeat(64) }],
    [{ type: 'typing', room: 'lobby' }],
    [{ type: 'heartbeat' }],
    [{ type: 'heartbeat', id: 7 }],
    [{ type: 'heartbeat', id: 'h-7' }],
  ])('accepts %o', (frame) => {
    const cid = (frame as { cid?: string }).cid;
    expect(parse(frame)).toEqual(cid === undefined ? { ok: true, frame } : { ok: true, frame, cid });
  });

  it('keeps the cid of any frame type for its error frames, and only a valid one', () => {
    expect(parse({ type: 'join', room: 'lobby', cid: 'j-1' })).toEqual({ ok: true, frame: { type: 'join', room: 'lobby' }, cid: 'j-1' });
    expect(parse({ type: 'join', room: 'lobby', cid: '' })).toEqual({ ok: true, frame: { type: 'join', room: 'lobby' } });
    expect(parse({ type: 'nope', cid: '' })).toEqual({ ok: false, code: 'unknown_type', message: 'unknown frame type "nope"' });
  });

  it('ignores unknown fields', () => {
    expect(parse({ type: 'leave', room: 'lobby', extra: { deep: true } })).toEqual({ ok: true, frame: { type: 'leave', room: 'lobby' } });
  });

  it.each([
    ['join without room or with', { type: 'join' }],
    ['join with an empty room', { type: 'join', room: '' }],
    ['join with a numeric room', { type: 'join', room: 5 }],
    ['join since with a negative seq', { type: 'join', room: 'lobby', since: { epoch: 'e', seq: -1 } }],
    ['join since with a fractional seq', { type: 'join', room: 'lobby', since: { epoch: 'e', seq: 1.5 } }],
    ['join since without epoch', { type: 'join', room: 'lobby', since: { seq: 3 } }],
    ['join with an invalid user', { type: 'join', with: 'bob smith' }],
    ['leave without room', { type: 'leave' }],
    ['send without text', { type: 'send', room: 'lobby' }],
    ['send without room', { type: 'send', text: 'hi' }],
    ['send with 4001 characters', { type: 'send', room: 'lobby', text: 'x'.repeat(4001) }],
    ['send with only spaces', { type: 'send', room: 'lobby', text: '     ' }],
    ['send with empty text', { type: 'send', room: 'lobby', text: '' }],
    ['send with a 65-character cid', { type: 'send', room: 'lobby', text: 'hi', cid: 'c'.repeat(65) }],
    ['send with an empty cid', { type: 'send', room: 'lobby', text: 'hi', cid: '' }],
    ['typing without room', { type: 'typing' }],
    ['heartbeat with an object id', { type: 'heartbeat', id: { n: 1 } }],
  ])('refuses %s as invalid_message', (_name, frame) => {
    const r = parse(frame);
    expect(r).toMatchObject({ ok: false, code: 'invalid_message' });
    expect(r.ok ? '' : r.message).not.toBe('');
  });

  it('names the offending field in the message', () => {
    const r = parse({ type: 'send', room: 'lobby', text: 'x'.repeat(4001) });
    expect(r.ok ? '' : r.message).toMatch(/^text: .*4000/);
  });

  it('echoes the cid on refusals, so the client knows which send failed', () => {
    expect(parse({ type: 'send', room: 'lobby', text: ' ', cid: 'c-1' })).toMatchObject({ ok: false, code: 'invalid_message', cid: 'c-1' });
    expect(parse({ type: 'send', cid: 'c-2' })).toMatchObject({ ok: false, cid: 'c-2' });
    expect(parse({ type: 'sned', room: 'lobby', text: 'hi', cid: 'c-3' })).toMatchObject({ ok: false, code: 'unknown_type', cid: 'c-3' });
    expect(parse({ room: 'lobby', cid: 'c-4' })).toMatchObject({ ok: false, code: 'invalid_message', cid: 'c-4' });
  });
});

describe('room names', () => {
  it.each(['lobby', 'Room_1-b', 'a', 'x'.repeat(64)])('accepts the public room %s', (room) => {
    expect(parseRoom(room)).toEqual({ kind: 'public' });
  });

  it('accepts a direct room with sorted user names', () => {
    expect(parseRoom('dm:alice:bob')).toEqual({ kind: 'direct', users: ['alice', 'bob'] });
    expect(parseRoom('dm:a.b:c_d')).toEqual({ kind: 'direct', users: ['a.b', 'c_d'] });
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(65)],
    ['with a space', 'the lobby'],
    ['with a slash', 'a/b'],
    ['an unsorted direct room', 'dm:bob:alice'],
    ['a direct room with oneself', 'dm:alice:alice'],
    ['a direct room with one user', 'dm:alice'],
    ['a direct room with three users', 'dm:alice:bob:carol'],
    ['a direct room with an invalid user', 'dm:alice:bob!'],
    ['a direct room with a too long user', `dm:alice:${'b'.repeat(33)}`],
  ])('refuses %s', (_name, room) => {
    expect(parseRoom(room)).toBeNull();
  });

  it('builds the direct room of two users in either order', () => {
    expect(directRoom('bob', 'alice')).toBe('dm:alice:bob');
    expect(directRoom('alice', 'bob')).toBe('dm:alice:bob');
    expect(parseRoom(directRoom('zed', 'Amy'))).toEqual({ kind: 'direct', users: ['Amy', 'zed'] });
  });

  it('lets anyone into a public room and only the two users into a direct room', () => {
    expect(mayAccess({ kind: 'public' }, 'carol')).toBe(true);
    const dm = parseRoom('dm:alice:bob');
    if (!dm) throw new Error('expected a direct room');
    expect([mayAccess(dm, 'alice'), mayAccess(dm, 'bob'), mayAccess(dm, 'carol')]).toEqual([true, true, false]);
  });
});
