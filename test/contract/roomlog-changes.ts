/**
 * v1.1 edits, deletes and reactions in the `RoomLog` contract: every rule the change step checks,
 * the entries it appends, and the state history shows of a message afterwards.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '@parley/client/wire';
import type { ChangeInput, RoomEvent, RoomLog } from '../../src/rooms/types.ts';
import type { UseRoomLog } from './roomlog.ts';
import { uid, waitFor } from './util.ts';

const room = () => uid('room');

/** The message at `seq` as a page of the hot log shows it. */
async function shown(log: RoomLog, r: string, seq: number): Promise<Message | undefined> {
  const page = await log.read(r, { after: seq - 1, limit: 1 });
  return page.messages[0];
}

async function appended(log: RoomLog, r: string, input: ChangeInput): Promise<Message> {
  const result = await log.change(r, input);
  if (result.outcome !== 'appended') throw new Error(`expected an appended entry, got ${result.outcome}`);
  return result.message;
}

export function roomLogChangesContract(use: UseRoomLog): void {
  describe('edits, deletes and reactions', () => {
    it('appends an edit at its own seq, and history shows the latest text with the edit time', async () => {
      const log = await use();
      const r = room();
      const m = (await log.append(r, { from: 'alice', text: 'helo' })).message;
      const e1 = await appended(log, r, { kind: 'edit', target: m.seq, text: 'hello', from: 'alice', cid: 'e-1' });
      const e2 = await appended(log, r, { kind: 'edit', target: m.seq, text: 'hello!', from: 'alice' });
      expect(e1).toMatchObject({ room: r, seq: 2, from: 'alice', text: 'hello', kind: 'edit', target: 1, cid: 'e-1' });
      expect(e2).toMatchObject({ seq: 3, kind: 'edit', target: 1, text: 'hello!' });
      expect(await log.head(r)).toMatchObject({ seq: 3 });
      expect(await shown(log, r, 1)).toEqual({ ...m, text: 'hello!', edited: e2.ts, rev: 3 });
      // The entries themselves stay as they were appended.
      expect((await log.read(r, { limit: 10 })).messages.map((x) => [x.seq, x.kind ?? 'text', x.text])).toEqual([
        [1, 'text', 'hello!'],
        [2, 'edit', 'hello'],
        [3, 'edit', 'hello!'],
      ]);
    });

    it('lets only the author edit, and in a public room only the author delete', async () => {
      const log = await use();
      const r = room();
      const m = (await log.append(r, { from: 'alice', text: 'mine' })).message;
      expect(await log.change(r, { kind: 'edit', target: m.seq, text: 'x', from: 'bob' })).toEqual({ outcome: 'forbidden' });
      expect(await log.change(r, { kind: 'delete', target: m.seq, from: 'bob' })).toEqual({ outcome: 'forbidden' });
      expect(await log.head(r)).toMatchObject({ seq: 1 });
      expect(await shown(log, r, 1)).toEqual(m);
    });

    it('answers not_found for a seq past the latest and for an entry that is not a text message', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'a' });
      const e = await appended(log, r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'bob' });
      expect(await log.change(r, { kind: 'edit', target: 3, text: 'x', from: 'alice' })).toEqual({ outcome: 'not_found' });
      expect(await log.change(r, { kind: 'reaction', target: e.seq, emoji: '👍', on: true, from: 'alice' })).toEqual({ outcome: 'not_found' });
      expect(await log.change(room(), { kind: 'delete', target: 1, from: 'alice' })).toEqual({ outcome: 'not_found' });
    });

    it('deletes: the text of the message and of its edits is gone, and the log stays gapless', async () => {
      const log = await use();
      const r = room();
      const m = (await log.append(r, { from: 'alice', text: 'secret', cid: 's-1' })).message;
      await log.append(r, { from: 'bob', text: 'next' });
      await appended(log, r, { kind: 'edit', target: 1, text: 'secret 2', from: 'alice', cid: 'e-1' });
      const d = await appended(log, r, { kind: 'delete', target: 1, from: 'alice' });
      expect(d).toMatchObject({ seq: 4, kind: 'delete', target: 1, text: '' });
      const page = await log.read(r, { limit: 10 });
      expect(page.messages.map((x) => [x.seq, x.text])).toEqual([[1, ''], [2, 'next'], [3, ''], [4, '']]);
      expect(page.messages[0]).toEqual({ ...m, text: '', deleted: true, rev: 4 });
      expect(JSON.stringify(page.messages)).not.toContain('secret');
      // Resends of the deleted message and of its edit answer the blanked entries.
      expect((await log.append(r, { from: 'alice', text: 'secret', cid: 's-1' })).message).toMatchObject({ seq: 1, text: '' });
      const resent = await log.change(r, { kind: 'edit', target: 1, text: 'secret 2', from: 'alice', cid: 'e-1' });
      expect(resent).toMatchObject({ outcome: 'duplicate', message: { seq: 3, text: '' } });
      // A catch-up read and a page across the deleted entries hold every seq once.
      expect((await log.read(r, { after: 0, limit: 2 })).messages.map((x) => x.seq)).toEqual([1, 2]);
      expect((await log.read(r, { after: 2, limit: 5 })).messages.map((x) => x.seq)).toEqual([3, 4]);
    });

    it('deletes beyond the hot log: resends of the message and of its edits answer blank entries', async () => {
      const log = await use({ hotWindow: 10 });
      const r = room();
      await log.append(r, { from: 'alice', text: 'secret', cid: 's-1' });
      await appended(log, r, { kind: 'edit', target: 1, text: 'secret 2', from: 'alice', cid: 'e-1' });
      await log.append(r, { from: 'alice', text: 'secret 3', cid: 's-3' });
      for (let i = 0; i < 300; i++) await log.append(r, { from: 'bob', text: `m${i}` });
      await appended(log, r, { kind: 'delete', target: 1, from: 'alice' }); // known by its state (edited)
      expect(await log.change(r, { kind: 'delete', target: 3, from: 'alice' })).toMatchObject({ outcome: 'in_archive' });
      await appended(log, r, { kind: 'delete', target: 3, from: 'alice', archivedAuthor: 'alice', archivedCid: 's-3' });
      expect((await log.append(r, { from: 'alice', text: 'secret', cid: 's-1' })).message).toMatchObject({ seq: 1, text: '' });
      expect(await log.change(r, { kind: 'edit', target: 1, text: 'secret 2', from: 'alice', cid: 'e-1' })).toMatchObject({ outcome: 'duplicate', message: { seq: 2, text: '' } });
      expect((await log.append(r, { from: 'alice', text: 'secret 3', cid: 's-3' })).message).toMatchObject({ seq: 3, text: '' });
    });

    it('after a delete: edits and reactions are not_found, a second delete appends nothing', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'oops' });
      const d = await appended(log, r, { kind: 'delete', target: 1, from: 'alice' });
      expect(await log.change(r, { kind: 'edit', target: 1, text: 'x', from: 'alice' })).toEqual({ outcome: 'not_found' });
      expect(await log.change(r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'bob' })).toEqual({ outcome: 'not_found' });
      const again = await log.change(r, { kind: 'delete', target: 1, from: 'alice' });
      expect(again).toMatchObject({ outcome: 'unchanged', epoch: d.epoch, seq: d.seq });
      expect(await log.head(r)).toMatchObject({ seq: 2 });
    });

    it('reacts: twice the same way appends nothing and answers the entry that set the state', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'news' });
      const on = await appended(log, r, { kind: 'reaction', target: 1, emoji: '🎉', on: true, from: 'bob' });
      expect(on).toMatchObject({ seq: 2, kind: 'reaction', target: 1, emoji: '🎉', on: true, text: '' });
      expect(await log.change(r, { kind: 'reaction', target: 1, emoji: '🎉', on: true, from: 'bob' })).toMatchObject({ outcome: 'unchanged', seq: 2 });
      expect(await log.change(r, { kind: 'reaction', target: 1, emoji: '🎉', on: false, from: 'carol' })).toMatchObject({ outcome: 'unchanged', seq: 0 });
      const off = await appended(log, r, { kind: 'reaction', target: 1, emoji: '🎉', on: false, from: 'bob' });
      expect(off).toMatchObject({ seq: 3, on: false });
      expect(await log.change(r, { kind: 'reaction', target: 1, emoji: '🎉', on: false, from: 'bob' })).toMatchObject({ outcome: 'unchanged', seq: 3 });
      expect(await log.head(r)).toMatchObject({ seq: 3 });
      // Back to no reaction: the message shows none (but its rev).
      expect(await shown(log, r, 1)).not.toHaveProperty('reactions');
      expect(await shown(log, r, 1)).toMatchObject({ rev: 3 });
    });

    it('shows reactions per emoji in the order first used, with counts and users in the order they reacted', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'vote' });
      const react = (from: string, emoji: string, on = true) => appended(log, r, { kind: 'reaction', target: 1, emoji, on, from });
      await react('bob', '👍');
      await react('carol', '❤️');
      await react('alice', '👍');
      await react('dave', '👍');
      await react('bob', '👍', false);
      await react('bob', '👍');
      await react('carol', '❤️', false);
      await react('erin', '❤️');
      expect((await shown(log, r, 1))?.reactions).toEqual([
        { emoji: '👍', count: 3, users: ['alice', 'dave', 'bob'] },
        { emoji: '❤️', count: 1, users: ['erin'] },
      ]);
    });

    it('lists the first 20 users of an emoji and counts them all', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'popular' });
      const users = Array.from({ length: 25 }, (_, i) => `u${String(i).padStart(2, '0')}`);
      for (const u of users) await appended(log, r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: u });
      expect((await shown(log, r, 1))?.reactions).toEqual([{ emoji: '👍', count: 25, users: users.slice(0, 20) }]);
    });

    it('holds at most 20 different emoji on a message; a freed one makes room', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'pick' });
      for (let i = 0; i < 20; i++) await appended(log, r, { kind: 'reaction', target: 1, emoji: `e${i}`, on: true, from: 'bob' });
      expect(await log.change(r, { kind: 'reaction', target: 1, emoji: 'e20', on: true, from: 'bob' })).toEqual({ outcome: 'too_many_reactions' });
      await appended(log, r, { kind: 'reaction', target: 1, emoji: 'e0', on: true, from: 'carol' });
      await appended(log, r, { kind: 'reaction', target: 1, emoji: 'e5', on: false, from: 'bob' });
      await appended(log, r, { kind: 'reaction', target: 1, emoji: 'e20', on: true, from: 'bob' });
      const emoji = (await shown(log, r, 1))?.reactions?.map((x) => x.emoji);
      expect(emoji).toHaveLength(20);
      expect(emoji?.at(-1)).toBe('e20');
      expect(emoji).not.toContain('e5');
    });

    it('is idempotent by cid: a resend answers the first entry and publishes nothing', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'hi' });
      const events: RoomEvent[] = [];
      const unsubscribe = await log.subscribe(r, (e) => events.push(e));
      const first = await appended(log, r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'bob', cid: 'r-1' });
      const again = await log.change(r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'bob', cid: 'r-1' });
      expect(again).toEqual({ outcome: 'duplicate', message: first });
      await waitFor(() => events.length >= 1, 'the reaction');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(events).toEqual([{ type: 'message', message: first }]);
      await unsubscribe();
    });

    it('publishes the entries to subscribers in seq order with the messages', async () => {
      const log = await use();
      const r = room();
      const seqs: number[] = [];
      const unsubscribe = await log.subscribe(r, (e) => {
        if (e.type === 'message') seqs.push(e.message.seq);
      });
      await log.append(r, { from: 'alice', text: 'a' });
      await Promise.all([
        log.change(r, { kind: 'edit', target: 1, text: 'b', from: 'alice' }),
        log.append(r, { from: 'bob', text: 'c' }),
        log.change(r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'bob' }),
        log.change(r, { kind: 'delete', target: 1, from: 'alice' }),
      ]);
      await waitFor(() => seqs.length === 5, 'five entries');
      expect(seqs).toEqual([1, 2, 3, 4, 5]);
      await unsubscribe();
    });

    it('answers states of targeted messages only, and none for another epoch', async () => {
      const log = await use();
      const r = room();
      await log.append(r, { from: 'alice', text: 'a' });
      await log.append(r, { from: 'alice', text: 'b' });
      await appended(log, r, { kind: 'edit', target: 2, text: 'B', from: 'alice' });
      const { epoch } = await log.head(r);
      const states = await log.states(r, epoch, [1, 2, 3]);
      expect([...states.keys()]).toEqual([2]);
      expect(states.get(2)).toMatchObject({ from: 'alice', rev: 3, text: 'B', edits: [3] });
      expect((await log.states(r, 'another-epoch', [2])).size).toBe(0);
    });

    it('asks for the archive for a message the hot log no longer holds, and takes its author from there', async () => {
      const log = await use({ hotWindow: 10 });
      const r = room();
      for (let i = 0; i < 500; i++) await log.append(r, { from: i === 0 ? 'alice' : 'bob', text: `m${i}` });
      const { epoch } = await log.head(r);
      expect(await log.change(r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'carol' })).toEqual({ outcome: 'in_archive', epoch });
      await appended(log, r, { kind: 'reaction', target: 1, emoji: '👍', on: true, from: 'carol', archivedAuthor: 'alice' });
      // From now on the log knows the message: the rules hold without the archive.
      expect(await log.change(r, { kind: 'edit', target: 1, text: 'x', from: 'bob' })).toEqual({ outcome: 'forbidden' });
      expect((await log.states(r, epoch, [1])).get(1)).toMatchObject({ from: 'alice', reactions: [{ emoji: '👍', count: 1, users: ['carol'] }] });
    });
  });
}
