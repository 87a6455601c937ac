/**
 * Edits, deletes and reactions end to end (docs/protocol.md v1.1): every rule of the contract, what
 * reaches whom, the state history shows, unread counts against a count of the log, and a client
 * that resumes after missing a mix of them ending with the state a fresh REST read shows. Part of
 * `wsSuite`: runs against every runtime.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, type Runtime, type Server, closeAllClients, connect, rest, startServer, uid } from './server.ts';

import { type Entry, fold } from '../../bench/chaos/fold.ts';

export { type Entry, fold };

export function wsChangesSuite(runtime: Runtime): void {
  describe(`edits, deletes and reactions on ${runtime}`, () => {
    let server: Server;
    beforeAll(async () => {
      // Change frames count against the send rate: generous here.
      server = await startServer(runtime, { HEARTBEAT_MS: '20000', SEND_RATE: '1000', SEND_BURST: '1000' });
    });
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
    });
    afterEach(closeAllClients);

    const history = async (user: string, room: string, query = 'limit=200') =>
      (await rest(server, 'GET', `/v1/rooms/${encodeURIComponent(room)}/messages?${query}`, { user })).json['messages'] as Entry[];
    /** Sends a change frame with a cid and returns its ack or error. */
    const change = async (c: Client, frame: Record<string, unknown>) => {
      const cid = uid('c');
      c.send({ ...frame, cid });
      return c.next((e) => (e.type === 'ack' || e.type === 'error') && e.cid === cid);
    };

    it('lets only the author edit, and every member sees the edit and history the latest text', async () => {
      const [alice, bob] = [uid('alice'), uid('bob')];
      const room = uid('room');
      const [a, b] = [await connect(server, alice), await connect(server, bob)];
      await a.join(room);
      await b.join(room);
      const { seq } = await a.post(room, 'helo', 'm-1');
      expect(await change(b, { type: 'edit', room, seq, text: 'hacked' })).toMatchObject({ type: 'error', code: 'forbidden', room });
      const ack = await change(a, { type: 'edit', room, seq, text: 'hello' });
      expect(ack).toMatchObject({ type: 'ack', room, seq: seq + 1 });
      for (const c of [a, b]) {
        expect(await c.nextOf('message', (m) => m.seq === seq + 1)).toMatchObject({ from: alice, kind: 'edit', target: seq, text: 'hello' });
      }
      const [m] = await history(bob, room);
      expect(m).toMatchObject({ seq, text: 'hello', rev: seq + 1 });
      expect(m?.edited).toBeGreaterThan(0);
      expect((await b.join(room)).messages[0]).toMatchObject({ seq, text: 'hello', edited: m?.edited });
    });

    it('lets a group\'s owner and admins delete others\' messages, erasing their text and their edits\' text', async () => {
      const [olga, ada, amy] = [uid('olga'), uid('ada'), uid('amy')];
      const created = await rest(server, 'POST', '/v1/groups', { user: olga, body: { members: [ada, amy] } });
      const { room, id } = created.json as { room: string; id: string };
      expect((await rest(server, 'PUT', `/v1/groups/${id}/members/${ada}`, { user: olga, body: { role: 'admin' } })).status).toBe(200);
      const [o, d, m] = [await connect(server, olga), await connect(server, ada), await connect(server, amy)];
      for (const c of [o, d, m]) await c.join(room);
      const first = await m.post(room, 'secret one', 's-1');
      const second = await m.post(room, 'secret two', 's-2');
      await change(m, { type: 'edit', room, seq: first.seq, text: 'secret one, edited' });
      expect(await change(m, { type: 'delete', room, seq: 999 })).toMatchObject({ type: 'error', code: 'not_found' });
      expect(await change(d, { type: 'delete', room, seq: first.seq })).toMatchObject({ type: 'ack' });
      expect(await change(o, { type: 'delete', room, seq: second.seq })).toMatchObject({ type: 'ack' });
      await m.next((e) => e.type === 'message' && (e as Entry).kind === 'delete' && (e as Entry).target === second.seq);
      const all = await history(amy, room);
      expect(all.map((e) => [e.kind ?? 'text', e.text])).toEqual([['text', ''], ['text', ''], ['edit', ''], ['delete', ''], ['delete', '']]);
      expect(all.slice(0, 2).every((e) => e.deleted === true)).toBe(true);
      expect(JSON.stringify(all)).not.toContain('secret');
      // A member may delete only their own.
      const third = await o.post(room, 'from the owner', 's-3');
      expect(await change(m, { type: 'delete', room, seq: third.seq })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await change(m, { type: 'edit', room, seq: first.seq, text: 'back?' })).toMatchObject({ type: 'error', code: 'not_found' });
    });

    it('refuses what the contract refuses: not joined, not a text message, bad fields, a 21st emoji', async () => {
      const alice = uid('alice');
      const room = uid('room');
      const a = await connect(server, alice);
      expect(await change(a, { type: 'react', room, seq: 1, emoji: '👍', on: true })).toMatchObject({ type: 'error', code: 'not_member', room });
      await a.join(room);
      const { seq } = await a.post(room, 'text', 'm-1');
      const r = await change(a, { type: 'react', room, seq, emoji: '👍', on: true });
      expect(r).toMatchObject({ type: 'ack', seq: seq + 1 });
      expect(await change(a, { type: 'edit', room, seq: seq + 1, text: 'x' })).toMatchObject({ type: 'error', code: 'not_found' });
      expect(await change(a, { type: 'edit', room, seq: 0, text: 'x' })).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(await change(a, { type: 'edit', room, seq, text: '   ' })).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(await change(a, { type: 'react', room, seq, emoji: 'x'.repeat(33), on: true })).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(await change(a, { type: 'react', room, seq, emoji: '👍' })).toMatchObject({ type: 'error', code: 'invalid_message' });
      for (let i = 1; i < 20; i++) expect(await change(a, { type: 'react', room, seq, emoji: `e${i}`, on: true })).toMatchObject({ type: 'ack' });
      expect(await change(a, { type: 'react', room, seq, emoji: 'e20', on: true })).toMatchObject({ type: 'error', code: 'invalid_message' });
      expect(await change(a, { type: 'react', room, seq, emoji: 'x'.repeat(32), on: false })).toMatchObject({ type: 'ack', seq: 0 });
      await a.heartbeat();
    });

    it('answers resends and repeated reactions with the first ack, and appends nothing for them', async () => {
      const [alice, bob] = [uid('alice'), uid('bob')];
      const room = uid('room');
      const [a, b] = [await connect(server, alice), await connect(server, bob)];
      await a.join(room);
      await b.join(room);
      const { seq } = await a.post(room, 'hi', 'm-1');
      b.send({ type: 'react', room, seq, emoji: '👍', on: true, cid: 'r-1' });
      const first = await b.nextOf('ack', (e) => e.cid === 'r-1');
      b.send({ type: 'react', room, seq, emoji: '👍', on: true, cid: 'r-1' });
      expect(await b.nextOf('ack', (e) => e.cid === 'r-1')).toEqual(first);
      expect(await change(b, { type: 'react', room, seq, emoji: '👍', on: true })).toMatchObject({ type: 'ack', seq: first.seq });
      a.send({ type: 'edit', room, seq, text: 'hi!', cid: 'e-1' });
      const edit = await a.nextOf('ack', (e) => e.cid === 'e-1');
      a.send({ type: 'edit', room, seq, text: 'hi!', cid: 'e-1' });
      expect(await a.nextOf('ack', (e) => e.cid === 'e-1')).toEqual(edit);
      await a.heartbeat();
      expect(a.all('message').map((e) => e.seq)).toEqual([seq, first.seq, edit.seq]);
      const [m] = await history(alice, room);
      expect(m).toMatchObject({ text: 'hi!', reactions: [{ emoji: '👍', count: 1, users: [bob] }] });
    });

    it('counts unread text messages of others, not changes or deleted messages, as the log tells', async () => {
      const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
      const room = uid('room');
      const cs = [await connect(server, alice), await connect(server, bob), await connect(server, carol)];
      for (const c of cs) await c.join(room);
      const [a, b, c] = cs as [Client, Client, Client];
      const s1 = await b.post(room, 'one', 'b-1');
      await c.post(room, 'two', 'c-1');
      const s3 = await b.post(room, 'three', 'b-2');
      a.send({ type: 'read', room, seq: s1.seq });
      await a.heartbeat();
      await change(c, { type: 'react', room, seq: s3.seq, emoji: '👍', on: true });
      await change(b, { type: 'edit', room, seq: s3.seq, text: 'three!' });
      await change(b, { type: 'delete', room, seq: s1.seq });
      await a.post(room, 'mine', 'a-1');
      await c.post(room, 'four', 'c-2');
      expect(await change(c, { type: 'delete', room, seq: s3.seq })).toMatchObject({ type: 'error', code: 'forbidden' });
      const log = await history(alice, room);
      for (const [user, lastRead] of [[alice, s1.seq], [bob, 0], [carol, 0]] as const) {
        const brute = log.filter((e) => e.kind === undefined && !e.deleted && e.from !== user && e.seq > lastRead).length;
        const items = (await rest(server, 'GET', '/v1/conversations', { user })).json['items'] as { room: string; unread: number }[];
        expect(items.find((i) => i.room === room)?.unread, user).toBe(brute);
      }
    });

    it('brings a client that missed messages, edits, deletes and reactions to the state a fresh read shows', async () => {
      const [alice, bob] = [uid('alice'), uid('bob')];
      const room = uid('room');
      const [a, b] = [await connect(server, alice), await connect(server, bob)];
      await a.join(room);
      const joined = await b.join(room);
      for (let i = 0; i < 4; i++) await a.post(room, `m${i}`, `m-${i}`);
      await b.nextOf('message', (e) => e.seq === 4);
      const seen = fold(b.all('message') as Entry[]);
      await b.close();
      // While bob is away: a mix of everything, on messages he has and on new ones.
      await change(a, { type: 'edit', room, seq: 1, text: 'm0 edited' });
      await change(a, { type: 'react', room, seq: 2, emoji: '🎉', on: true });
      await change(a, { type: 'delete', room, seq: 3 });
      const n = await a.post(room, 'new', 'm-9');
      await change(a, { type: 'edit', room, seq: n.seq, text: 'new, edited' });
      await change(a, { type: 'react', room, seq: n.seq, emoji: '👍', on: true });
      await change(a, { type: 'react', room, seq: 2, emoji: '🎉', on: false });
      await change(a, { type: 'react', room, seq: 4, emoji: '❤️', on: true });
      const back = await connect(server, bob);
      const resumed = await back.join(room, { epoch: joined.epoch, seq: 4 });
      expect(resumed.recovered).toBe(true);
      const state = fold(resumed.messages as Entry[], seen);
      const fresh = fold(await history(bob, room));
      const view = (m: Map<number, Entry>) => [...m.values()].map(({ seq, text, edited, deleted, reactions }) => ({ seq, text, edited, deleted, reactions }));
      expect(view(state)).toEqual(view(fresh));
      expect(view(fresh).map((m) => m.text)).toEqual(['m0 edited', 'm1', '', 'm3', 'new, edited']);
    });
  });
}
