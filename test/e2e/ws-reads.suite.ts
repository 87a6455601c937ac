/**
 * Read state end to end (docs/protocol.md v1.1): the `read` frame and what it tells whom, `lastRead`
 * in `joined`, `GET /v1/rooms/:room/reads`, and the unread counts of `GET /v1/conversations` against
 * a count of the room's messages. Part of `wsSuite`: runs against every runtime.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, type Runtime, type Server, closeAllClients, connect, rest, sleep, startServer, uid } from './server.ts';

type Item = { room: string; seq: number; lastRead: number; unread: number };

export function wsReadsSuite(runtime: Runtime): void {
  describe(`read state on ${runtime}`, () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServer(runtime, { HEARTBEAT_MS: '20000', SEND_RATE: '1000', SEND_BURST: '1000' });
    });
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
    });
    afterEach(closeAllClients);

    const conversations = async (user: string): Promise<Item[]> => (await rest(server, 'GET', '/v1/conversations', { user })).json['items'] as Item[];
    const reads = async (user: string, room: string) => rest(server, 'GET', `/v1/rooms/${encodeURIComponent(room)}/reads`, { user });
    const postAll = async (c: Client, room: string, n: number, tag: string) => {
      for (let i = 0; i < n; i++) await c.post(room, `${tag}${i}`, `${tag}-${i}`);
    };
    /** Sends a read and waits until the server has handled it (the heartbeat after it comes back). */
    const read = async (c: Client, room: string, seq: number) => {
      c.send({ type: 'read', room, seq });
      await c.heartbeat();
    };

    it('tells every socket of the reader, joined to the room or not, and ignores a read that goes backwards', async () => {
      const [alice, bob] = [uid('alice'), uid('bob')];
      const room = uid('room');
      const b = await connect(server, bob);
      await b.join(room);
      await postAll(b, room, 5, 'm');
      const [a1, a2] = [await connect(server, alice), await connect(server, alice)];
      await a1.join(room); // a2 never joins
      a1.send({ type: 'read', room, seq: 3 });
      for (const c of [a1, a2]) expect(await c.nextOf('read')).toEqual({ type: 'read', room, user: alice, seq: 3 });
      await read(a2, room, 2); // backwards: nothing
      await read(a2, room, 3); // the same: nothing
      await a1.heartbeat();
      for (const c of [a1, a2]) expect(c.all('read')).toHaveLength(1);
      expect(b.all('read')).toEqual([]); // a public room: nobody else hears of it
      expect((await reads(alice, room)).json).toEqual({ room, reads: [{ user: alice, seq: 3 }] });
      expect((await a1.join(room)).lastRead).toBe(3);
    });

    it('clamps a read beyond the latest message to the latest', async () => {
      const alice = uid('alice');
      const room = uid('room');
      const a = await connect(server, alice);
      await a.join(room);
      await postAll(a, room, 2, 'm');
      a.send({ type: 'read', room, seq: 1_000_000 });
      expect(await a.nextOf('read')).toEqual({ type: 'read', room, user: alice, seq: 2 });
      const [item] = await conversations(alice);
      expect(item).toMatchObject({ room, seq: 2, lastRead: 2, unread: 0 });
    });

    it('sends receipts in a direct room to the other user\'s joined sockets, and lists both users\' reads', async () => {
      const [a, b] = [uid('a'), uid('b')].sort() as [string, string];
      const room = `dm:${a}:${b}`;
      const ca = await connect(server, a);
      const [cb1, cb2] = [await connect(server, b), await connect(server, b)];
      await ca.join(room);
      await cb1.join(room); // cb2 not joined: it hears of b's own reads only
      await postAll(ca, room, 3, 'd');
      cb1.send({ type: 'read', room, seq: 3 });
      expect(await ca.nextOf('read')).toEqual({ type: 'read', room, user: b, seq: 3 });
      for (const c of [cb1, cb2]) expect(await c.nextOf('read')).toEqual({ type: 'read', room, user: b, seq: 3 });
      await sleep(100);
      expect(cb1.all('read')).toHaveLength(1); // once, not again through the room
      const r = await reads(a, room);
      expect(r.json).toEqual({ room, reads: [{ user: a, seq: 0 }, { user: b, seq: 3 }] });
      expect((await reads(uid('eve'), room)).status).toBe(403);
    });

    it('sends receipts in a group to its members joined to the room, and lists every member', async () => {
      const [olga, amy, bob] = [uid('olga'), uid('amy'), uid('bob')];
      const made = await rest(server, 'POST', '/v1/groups', { user: olga, body: { members: [amy, bob] } });
      const room = (made.json as { room: string }).room;
      const [o, a, b] = [await connect(server, olga), await connect(server, amy), await connect(server, bob)];
      for (const c of [o, a]) await c.join(room);
      await postAll(o, room, 2, 'g');
      a.send({ type: 'read', room, seq: 2 });
      expect(await o.nextOf('read')).toEqual({ type: 'read', room, user: amy, seq: 2 });
      expect(await a.nextOf('read')).toEqual({ type: 'read', room, user: amy, seq: 2 });
      await b.heartbeat();
      expect(b.all('read')).toEqual([]); // a member, but not joined
      const r = await reads(bob, room);
      expect(r.json['reads']).toEqual([amy, bob, olga].sort().map((user) => ({ user, seq: user === amy ? 2 : 0 })));
      // A non-member may neither read the room nor ask who did.
      const e = await connect(server, uid('eve'));
      e.send({ type: 'read', room, seq: 1 });
      expect(await e.nextOf('error')).toMatchObject({ code: 'forbidden', room });
      expect((await reads(uid('eve'), room)).status).toBe(403);
    });

    it('refuses a bad read frame with invalid_message and a room the user may not use with forbidden', async () => {
      const [a, b, c] = [uid('a'), uid('b'), uid('c')].sort() as [string, string, string];
      const client = await connect(server, c);
      for (const frame of [{ type: 'read', room: 'lobby' }, { type: 'read', room: 'lobby', seq: -1 }, { type: 'read', room: 'lobby', seq: 1.5 }, { type: 'read', seq: 1 }, { type: 'read', room: 'lobby', seq: '3' }]) {
        client.send(frame);
        expect(await client.nextOf('error')).toMatchObject({ code: 'invalid_message' });
      }
      client.send({ type: 'read', room: 'not a room!', seq: 1 });
      expect(await client.nextOf('error')).toMatchObject({ code: 'invalid_message', room: 'not a room!' });
      client.send({ type: 'read', room: `dm:${a}:${b}`, seq: 1 });
      expect(await client.nextOf('error')).toMatchObject({ code: 'forbidden', room: `dm:${a}:${b}` });
      expect((await reads(c, `dm:${a}:${b}`)).status).toBe(403);
      expect((await reads(c, 'not a room!')).status).toBe(400);
      await client.heartbeat(); // still open
    });

    it('lists unread counts that match a count of the room\'s messages, and zero after reading', async () => {
      const [alice, bob, carol] = [uid('alice'), uid('bob'), uid('carol')];
      const rooms = [uid('r'), uid('r'), uid('r')];
      const clients = await Promise.all([alice, bob, carol].map((u) => connect(server, u)));
      for (const c of clients) for (const r of rooms) await c.join(r);
      const log = new Map<string, string[]>(rooms.map((r) => [r, []]));
      const users = [alice, bob, carol];
      for (let i = 0; i < 36; i++) {
        const who = i % 3 === 0 ? 0 : (i * 7) % 3;
        const room = rooms[i % rooms.length] as string;
        await clients[who]?.post(room, `t${i}`, `t-${i}`);
        log.get(room)?.push(users[who] as string);
      }
      await read(clients[0] as Client, rooms[0] as string, 5);
      await read(clients[1] as Client, rooms[1] as string, 9);
      const expected = (user: string, room: string, lastRead: number) => (log.get(room) ?? []).filter((from, j) => j + 1 > lastRead && from !== user).length;
      for (const [u, user] of users.entries()) {
        const items = await conversations(user);
        for (const room of rooms) {
          const lastRead = (u === 0 && room === rooms[0]) ? 5 : (u === 1 && room === rooms[1]) ? 9 : 0;
          expect(items.find((i) => i.room === room), `${user} in ${room}`).toMatchObject({ lastRead, unread: expected(user, room, lastRead) });
        }
      }
      for (const r of rooms) await read(clients[2] as Client, r, 12);
      expect((await conversations(carol)).map((i) => i.unread)).toEqual([0, 0, 0]);
    });
  });
}
