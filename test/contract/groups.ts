/**
 * The `Groups` contract (src/groups/types.ts), run against every implementation together with the
 * room log it shares a group room with: roles rules, the member cap, conflicts, idempotence, the
 * `member` events and their order relative to the room's appends, and the append's membership check.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Groups, MAX_GROUP_MEMBERS, isRefusal } from '../../src/groups/types.ts';
import { NotAGroupMember, type RoomEvent, type RoomLog } from '../../src/rooms/types.ts';
import { Resources, sleep, uid, waitFor } from './util.ts';

export type GroupsFactory = () => Promise<{ groups: Groups; log: RoomLog; cleanup(): Promise<void> }>;

export function groupsContract(name: string, make: GroupsFactory): void {
  describe(`Groups contract: ${name}`, () => {
    const res = new Resources();
    afterEach(() => res.cleanup());
    const use = async () => res.track(await make());

    /** A group owned by `owner` with `members`, and its id. */
    const group = async (groups: Groups, owner: string, members: string[] = [], title = 'Team') => {
      const id = uid('g');
      const g = await groups.create({ id, title, owner, members });
      if (isRefusal(g)) throw new Error(`create refused: ${g.reason}`);
      return id;
    };

    /** Collects the events of a group room. */
    const watch = async (log: RoomLog, id: string) => {
      const events: RoomEvent[] = [];
      const stop = await log.subscribe(`grp:${id}`, (e) => events.push(e));
      res.track({ cleanup: stop });
      return events;
    };

    describe('create and read', () => {
      it('creates a group with its owner and members (repeats and the owner ignored), sorted by name', async () => {
        const { groups } = await use();
        const id = uid('g');
        const created = await groups.create({ id, title: 'Book club', owner: 'olga', members: ['zed', 'amy', 'zed', 'olga'] });
        const expected = {
          id,
          title: 'Book club',
          owner: 'olga',
          members: [{ user: 'amy', role: 'member' }, { user: 'olga', role: 'owner' }, { user: 'zed', role: 'member' }],
        };
        expect(created).toEqual(expected);
        expect(await groups.get(id)).toEqual(expected);
        expect(await groups.role(id, 'olga')).toBe('owner');
        expect(await groups.role(id, 'amy')).toBe('member');
        expect(await groups.role(id, 'bob')).toBeNull();
        expect((await groups.members(id)).sort()).toEqual(['amy', 'olga', 'zed']);
      });

      it('answers conflict for an existing id and changes nothing', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga', ['amy']);
        expect(await groups.create({ id, title: 'Other', owner: 'mallory', members: ['eve'] })).toEqual({ refused: 'conflict', reason: expect.any(String) });
        expect(await groups.get(id)).toMatchObject({ owner: 'olga', title: 'Team' });
        expect(await groups.role(id, 'mallory')).toBeNull();
      });

      it('knows nothing of an unknown group', async () => {
        const { groups } = await use();
        const id = uid('nope');
        expect(await groups.get(id)).toBeNull();
        expect(await groups.role(id, 'olga')).toBeNull();
        expect(await groups.members(id)).toEqual([]);
      });

      it(`holds at most ${MAX_GROUP_MEMBERS} members, the owner included`, async () => {
        const { groups } = await use();
        const many = Array.from({ length: MAX_GROUP_MEMBERS }, (_, i) => `u${i}`);
        expect(await groups.create({ id: uid('g'), title: '', owner: 'olga', members: many })).toMatchObject({ refused: 'conflict' });
        const id = await group(groups, 'olga', many.slice(0, MAX_GROUP_MEMBERS - 1));
        expect(await groups.members(id)).toHaveLength(MAX_GROUP_MEMBERS);
        expect(await groups.setRole(id, 'olga', 'one-more', 'member')).toMatchObject({ refused: 'conflict' });
        // A member's role still changes when the group is full.
        expect(await groups.setRole(id, 'olga', 'u0', 'admin')).toMatchObject({ changed: true });
        expect(await groups.remove(id, 'olga', 'u1')).toEqual({ removed: true });
        expect(await groups.setRole(id, 'olga', 'one-more', 'member')).toMatchObject({ changed: true });
      });
    });

    describe('roles', () => {
      it('lets the owner add members and grant and take admin', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga');
        const added = await groups.setRole(id, 'olga', 'amy', 'member');
        expect(added).toEqual({ changed: true, group: expect.objectContaining({ members: [{ user: 'amy', role: 'member' }, { user: 'olga', role: 'owner' }] }) });
        expect(await groups.setRole(id, 'olga', 'amy', 'admin')).toMatchObject({ changed: true });
        expect(await groups.role(id, 'amy')).toBe('admin');
        expect(await groups.setRole(id, 'olga', 'amy', 'member')).toMatchObject({ changed: true });
        expect(await groups.role(id, 'amy')).toBe('member');
        expect(await groups.setRole(id, 'olga', 'bob', 'admin')).toMatchObject({ changed: true });
        expect(await groups.role(id, 'bob')).toBe('admin');
      });

      it('lets an admin add members but not grant or take admin', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga');
        await groups.setRole(id, 'olga', 'adam', 'admin');
        await groups.setRole(id, 'olga', 'ada', 'admin');
        expect(await groups.setRole(id, 'adam', 'amy', 'member')).toMatchObject({ changed: true });
        expect(await groups.setRole(id, 'adam', 'amy', 'admin')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(id, 'adam', 'bob', 'admin')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(id, 'adam', 'ada', 'member')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.role(id, 'amy')).toBe('member');
        expect(await groups.role(id, 'bob')).toBeNull();
        expect(await groups.role(id, 'ada')).toBe('admin');
      });

      it('refuses members and outsiders (forbidden), and any change of the owner\'s role', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga', ['amy']);
        await groups.setRole(id, 'olga', 'adam', 'admin');
        expect(await groups.setRole(id, 'amy', 'bob', 'member')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(id, 'eve', 'eve', 'member')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(uid('nope'), 'eve', 'bob', 'member')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(id, 'adam', 'olga', 'member')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(id, 'olga', 'olga', 'admin')).toMatchObject({ refused: 'conflict' });
        expect(await groups.role(id, 'olga')).toBe('owner');
        expect(await groups.role(id, 'bob')).toBeNull();
      });

      it('is idempotent: setting the role a user has changes nothing', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga', ['amy']);
        await groups.setRole(id, 'olga', 'adam', 'admin');
        expect(await groups.setRole(id, 'olga', 'amy', 'member')).toMatchObject({ changed: false });
        expect(await groups.setRole(id, 'adam', 'amy', 'member')).toMatchObject({ changed: false });
        expect(await groups.setRole(id, 'olga', 'adam', 'admin')).toMatchObject({ changed: false });
      });
    });

    describe('removal', () => {
      it('follows the rules: admins remove members, only the owner removes admins, nobody the owner', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga', ['amy', 'bob', 'cat']);
        await groups.setRole(id, 'olga', 'adam', 'admin');
        await groups.setRole(id, 'olga', 'ada', 'admin');
        expect(await groups.remove(id, 'amy', 'bob')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.remove(id, 'eve', 'bob')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.remove(id, 'adam', 'ada')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.remove(id, 'adam', 'olga')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.remove(id, 'amy', 'olga')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.remove(id, 'olga', 'olga')).toMatchObject({ refused: 'conflict' });
        expect(await groups.remove(id, 'adam', 'bob')).toEqual({ removed: true });
        expect(await groups.remove(id, 'olga', 'ada')).toEqual({ removed: true });
        expect(await groups.remove(id, 'cat', 'cat')).toEqual({ removed: true }); // leaving
        expect(await groups.remove(id, 'adam', 'adam')).toEqual({ removed: true }); // an admin leaving
        expect((await groups.members(id)).sort()).toEqual(['amy', 'olga']);
        // The removed are outsiders now.
        expect(await groups.remove(id, 'bob', 'amy')).toMatchObject({ refused: 'forbidden' });
        expect(await groups.setRole(id, 'adam', 'bob', 'member')).toMatchObject({ refused: 'forbidden' });
      });

      it('is idempotent: removing a user who is not a member changes nothing', async () => {
        const { groups } = await use();
        const id = await group(groups, 'olga', ['amy']);
        expect(await groups.remove(id, 'olga', 'amy')).toEqual({ removed: true });
        expect(await groups.remove(id, 'olga', 'amy')).toEqual({ removed: false });
        expect(await groups.remove(id, 'olga', 'nobody')).toEqual({ removed: false });
      });
    });

    describe('member events', () => {
      it('publishes every change on the group room, in order, with who made it; nothing for no change', async () => {
        const { groups, log } = await use();
        const id = uid('g');
        const room = `grp:${id}`;
        const events = await watch(log, id);
        await groups.create({ id, title: '', owner: 'olga', members: ['amy'] });
        await groups.setRole(id, 'olga', 'adam', 'admin');
        await groups.setRole(id, 'adam', 'bob', 'member');
        await groups.setRole(id, 'adam', 'bob', 'member'); // no change
        await groups.setRole(id, 'amy', 'eve', 'member'); // refused
        await groups.setRole(id, 'olga', 'adam', 'member');
        await groups.remove(id, 'olga', 'bob');
        await groups.remove(id, 'olga', 'bob'); // no change
        await groups.remove(id, 'amy', 'amy');
        const expected: RoomEvent[] = [
          { type: 'member', room, user: 'amy', role: 'member', by: 'olga' },
          { type: 'member', room, user: 'adam', role: 'admin', by: 'olga' },
          { type: 'member', room, user: 'bob', role: 'member', by: 'adam' },
          { type: 'member', room, user: 'adam', role: 'member', by: 'olga' },
          { type: 'member', room, user: 'bob', role: null, by: 'olga' },
          { type: 'member', room, user: 'amy', role: null, by: 'amy' },
        ];
        await waitFor(() => events.length >= expected.length, 'the member events');
        await sleep(50);
        expect(events).toEqual(expected);
      });

      it('orders a removal with the appends: after those before it, before those after it', async () => {
        const { groups, log } = await use();
        const id = await group(groups, 'olga', ['amy']);
        const room = `grp:${id}`;
        const events = await watch(log, id);
        await log.append(room, { from: 'amy', text: 'before' });
        await groups.remove(id, 'olga', 'amy');
        await log.append(room, { from: 'olga', text: 'after' });
        await waitFor(() => events.length >= 3, 'three events');
        expect(events.map((e) => (e.type === 'message' ? e.message.text : `${e.type}:${e.type === 'member' ? e.role : ''}`))).toEqual([
          'before',
          'member:null',
          'after',
        ]);
      });
    });

    describe('the room log in a group room', () => {
      it('takes members\' messages and refuses everyone else, the removed from the removal on', async () => {
        const { groups, log } = await use();
        const id = await group(groups, 'olga', ['amy']);
        const room = `grp:${id}`;
        expect((await log.append(room, { from: 'amy', text: 'hi', cid: 'c1' })).message.seq).toBe(1);
        await expect(log.append(room, { from: 'eve', text: 'let me in' })).rejects.toBeInstanceOf(NotAGroupMember);
        await groups.remove(id, 'olga', 'amy');
        await expect(log.append(room, { from: 'amy', text: 'still here?' })).rejects.toBeInstanceOf(NotAGroupMember);
        // Not even an idempotent resend of what was accepted before.
        await expect(log.append(room, { from: 'amy', text: 'hi', cid: 'c1' })).rejects.toBeInstanceOf(NotAGroupMember);
        expect((await log.head(room)).seq).toBe(1);
        await expect(log.append(`grp:${uid('nope')}`, { from: 'amy', text: 'x' })).rejects.toBeInstanceOf(NotAGroupMember);
      });

      it('lets the owner and admins delete anyone\'s message, members only their own, outsiders nothing', async () => {
        const { groups, log } = await use();
        const id = await group(groups, 'olga', ['amy', 'ben', 'ada']);
        await groups.setRole(id, 'olga', 'ada', 'admin');
        const room = `grp:${id}`;
        for (const from of ['amy', 'amy', 'amy', 'ben']) await log.append(room, { from, text: 'x' });
        expect(await log.change(room, { kind: 'delete', target: 1, from: 'ben' })).toEqual({ outcome: 'forbidden' });
        expect(await log.change(room, { kind: 'edit', target: 1, text: 'y', from: 'olga' })).toEqual({ outcome: 'forbidden' });
        expect((await log.change(room, { kind: 'delete', target: 1, from: 'olga' })).outcome).toBe('appended');
        expect((await log.change(room, { kind: 'delete', target: 2, from: 'ada' })).outcome).toBe('appended');
        expect((await log.change(room, { kind: 'delete', target: 4, from: 'ben' })).outcome).toBe('appended');
        expect((await log.change(room, { kind: 'reaction', target: 3, emoji: '👍', on: true, from: 'ben' })).outcome).toBe('appended');
        await expect(log.change(room, { kind: 'reaction', target: 3, emoji: '👍', on: true, from: 'eve' })).rejects.toBeInstanceOf(NotAGroupMember);
        await groups.remove(id, 'olga', 'amy');
        await expect(log.change(room, { kind: 'edit', target: 3, text: 'z', from: 'amy' })).rejects.toBeInstanceOf(NotAGroupMember);
      });

      it('publishes a member\'s typing, and refuses it from the removal on, never after the removal\'s event', async () => {
        const { groups, log } = await use();
        const id = await group(groups, 'olga', ['amy']);
        const room = `grp:${id}`;
        const events = await watch(log, id);
        await log.signal(room, { type: 'typing', room, user: 'amy' });
        await expect(log.signal(room, { type: 'typing', room, user: 'eve' })).rejects.toBeInstanceOf(NotAGroupMember);
        const signals: Promise<unknown>[] = [];
        for (let i = 0; i < 40; i++) {
          signals.push(log.signal(room, { type: 'typing', room, user: 'amy' }).catch((e: unknown) => e));
          if (i === 20) signals.push(groups.remove(id, 'olga', 'amy'));
        }
        const refused = (await Promise.all(signals)).filter((r) => r instanceof NotAGroupMember).length;
        expect(refused).toBeGreaterThan(0);
        await expect(log.signal(room, { type: 'typing', room, user: 'amy' })).rejects.toBeInstanceOf(NotAGroupMember);
        await waitFor(() => events.some((e) => e.type === 'member'), 'the removal');
        await log.signal(room, { type: 'typing', room, user: 'olga' });
        await waitFor(() => events.some((e) => e.type === 'typing' && e.user === 'olga'), 'the owner typing');
        const removal = events.findIndex((e) => e.type === 'member' && e.role === null);
        expect(events.slice(removal + 1).filter((e) => e.type === 'typing' && e.user === 'amy')).toEqual([]);
        expect(events.slice(0, removal).filter((e) => e.type === 'typing').length).toBe(1 + 40 - refused);
      });

      it('delivers nothing from a removed member after its removal, under concurrent appends', async () => {
        const { groups, log } = await use();
        const id = await group(groups, 'olga', ['amy']);
        const room = `grp:${id}`;
        const events = await watch(log, id);
        const sends: Promise<unknown>[] = [];
        for (let i = 0; i < 60; i++) {
          sends.push(log.append(room, { from: 'amy', text: `a${i}` }).catch((e: unknown) => e));
          sends.push(log.append(room, { from: 'olga', text: `o${i}` }));
          if (i === 30) sends.push(groups.remove(id, 'olga', 'amy'));
        }
        const results = await Promise.all(sends);
        const refused = results.filter((r) => r instanceof NotAGroupMember).length;
        await waitFor(() => events.some((e) => e.type === 'member') && events.filter((e) => e.type === 'message').length === 120 - refused, 'every stored message');
        const removal = events.findIndex((e) => e.type === 'member' && e.role === null);
        const afterRemoval = events.slice(removal + 1);
        expect(afterRemoval.filter((e) => e.type === 'message' && e.message.from === 'amy')).toEqual([]);
        expect(refused).toBeGreaterThan(0);
        // seq order and gapless
        const seqs = events.flatMap((e) => (e.type === 'message' ? [e.message.seq] : []));
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      });
    });
  });
}
