/**
 * The WebSocket contract of docs/protocol.md, end to end against a real server process. One suite,
 * run against every runtime (see ws.node.test.ts and ws.deno.test.ts), like crossws does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { wsErrorsSuite } from './ws-errors.suite.ts';
import { wsAuthSuite } from './ws-auth.suite.ts';
import { wsGroupsSuite } from './ws-groups.suite.ts';
import { wsLifecycleSuite } from './ws-lifecycle.suite.ts';
import { wsLimitsSuite } from './ws-limits.suite.ts';
import { wsReadsSuite } from './ws-reads.suite.ts';
import { wsChangesSuite } from './ws-changes.suite.ts';
import { type Client, type Runtime, type Server, closeAllClients, connect, eventually, refusedUpgrade, rest, startServer, uid } from './server.ts';

export function wsSuite(runtime: Runtime): void {
  describe(`WebSocket on ${runtime}`, () => {
    let server: Server;
    beforeAll(async () => {
      // Rates high enough for the bulk tests; the limits have their own server in ws-errors.
      server = await startServer(runtime, { HEARTBEAT_MS: '20000', SEND_RATE: '1000', SEND_BURST: '1000' });
    });
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
    });
    afterEach(closeAllClients);

    /** Connects users and joins them all to `room`. */
    const inRoom = async (room: string, ...users: string[]): Promise<Client[]> => {
      const clients = await Promise.all(users.map((u) => connect(server, u)));
      for (const c of clients) await c.join(room);
      return clients;
    };

    describe('upgrade', () => {
      it('says hello first, with user, connection, instance and heartbeat interval', async () => {
        const alice = uid('alice');
        const [a1, a2] = [await connect(server, alice), await connect(server, alice)];
        const { json } = await rest(server, 'GET', '/health');
        expect(a1.hello).toEqual({ type: 'hello', user: alice, conn: expect.any(String), instance: json['instance'], heartbeatMs: 20000 });
        expect(a2.hello.type).toBe('hello');
        expect(a1.hello).not.toEqual(a2.hello); // each connection has its own id
      });

      it('answers 401 to a user name that is not valid in dev mode, and opens no socket', async () => {
        expect((await refusedUpgrade(server, { user: 'not a name!' })).status).toBe(401);
        expect((await refusedUpgrade(server, { user: '' })).status).toBe(401);
        expect((await refusedUpgrade(server, { token: 'a-token-in-dev-mode' })).status).toBe(401);
      });
    });

    describe('join', () => {
      it('answers a new room with seq 0, no messages, and the joiner among the members', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const [a] = await inRoom(room, alice);
        const joined = a?.all('joined')[0];
        expect(joined).toEqual({ type: 'joined', room, epoch: expect.any(String), seq: 0, recovered: false, messages: [], members: expect.any(Array), lastRead: 0 });
        expect(joined?.epoch).not.toBe('');
        expect(joined?.members).toContainEqual(expect.objectContaining({ user: alice, status: 'online' }));
      });

      it('recovers exactly the missed messages after `since` in the same epoch', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const [a] = (await inRoom(room, alice)) as [Client];
        const { epoch } = a.all('joined')[0] as { epoch: string };
        for (let i = 1; i <= 5; i++) await a.post(room, `m${i}`, `c${i}`);

        const b = await connect(server, uid('bob'));
        const r = await b.join(room, { epoch, seq: 2 });
        expect(r).toMatchObject({ room, epoch, seq: 5, recovered: true });
        expect(r.messages.map((m) => [m.seq, m.text, m.cid, m.from, m.room, m.epoch])).toEqual([
          [3, 'm3', 'c3', alice, room, epoch],
          [4, 'm4', 'c4', alice, room, epoch],
          [5, 'm5', 'c5', alice, room, epoch],
        ]);
        const upToDate = await (await connect(server, uid('carol'))).join(room, { epoch, seq: 5 });
        expect(upToDate).toMatchObject({ seq: 5, recovered: true, messages: [] });
      });

      it('gives the latest 50, not recovered, for a `since` in another epoch', async () => {
        const room = uid('room');
        const [a] = (await inRoom(room, uid('alice'))) as [Client];
        const { epoch } = a.all('joined')[0] as { epoch: string };
        for (let i = 1; i <= 60; i++) a.send({ type: 'send', room, text: `m${i}`, cid: `c${i}` });
        await a.nextOf('ack', (e) => e.cid === 'c60');

        const r = await (await connect(server, uid('bob'))).join(room, { epoch: `${epoch}-old`, seq: 3 });
        expect(r).toMatchObject({ room, epoch, seq: 60, recovered: false });
        expect(r.messages.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
      });

      it('opens the direct room of two users under their sorted names', async () => {
        const alice = uid('alice');
        const bob = uid('bob');
        const room = `dm:${alice}:${bob}`;
        const b = await connect(server, bob);
        b.send({ type: 'join', with: alice }); // bob opens it: the name is still sorted
        expect(await b.nextOf('joined')).toMatchObject({ room, seq: 0 });
        const a = await connect(server, alice);
        a.send({ type: 'join', with: bob });
        expect(await a.nextOf('joined')).toMatchObject({ room });
        await a.post(room, 'psst', 'dm-1');
        expect(await b.nextOf('message')).toMatchObject({ room, from: alice, text: 'psst', seq: 1 });
      });

      it('refuses a direct room of two other users with `forbidden`', async () => {
        const room = `dm:${uid('alice')}:${uid('bob')}`;
        const carol = await connect(server, uid('carol'));
        carol.send({ type: 'join', room });
        // The refusal names the room, so a client with several joins in flight knows which failed.
        expect(await carol.nextOf('error')).toMatchObject({ code: 'forbidden', room });
        carol.send({ type: 'send', room, text: 'hi', cid: 'x-1' });
        expect(await carol.nextOf('error')).toMatchObject({ code: 'forbidden', cid: 'x-1' });
        await carol.heartbeat();
        expect(carol.all('joined')).toEqual([]);
      });

      it('refuses a direct room with yourself with `invalid_message`', async () => {
        const alice = uid('alice');
        const a = await connect(server, alice);
        a.send({ type: 'join', with: alice });
        expect(await a.nextOf('error')).toMatchObject({ code: 'invalid_message' });
        await a.heartbeat();
      });
    });

    describe('send', () => {
      it('acks the sender and delivers to every member connection, its own included', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const [a1, a2, b] = (await inRoom(room, alice, alice, uid('bob'))) as [Client, Client, Client];
        const { epoch } = a1.all('joined')[0] as { epoch: string };
        const ack = await a1.post(room, 'hi', 'c-1');
        expect(ack).toEqual({ type: 'ack', cid: 'c-1', room, epoch, seq: 1, ts: expect.any(Number) });
        for (const c of [a1, a2, b]) {
          expect(await c.nextOf('message')).toEqual({ type: 'message', room, epoch, seq: 1, from: alice, text: 'hi', ts: ack.ts, cid: 'c-1' });
        }
      });

      it('keeps one gapless seq order on every receiver across 200 sends from two users', async () => {
        const [alice, bob] = [uid('alice'), uid('bob')];
        const room = uid('room');
        const clients = (await inRoom(room, alice, bob, uid('carol'))) as [Client, Client, Client];
        const [a, b] = clients;
        for (let i = 0; i < 100; i++) {
          a.send({ type: 'send', room, text: `a${i}`, cid: `a${i}` });
          b.send({ type: 'send', room, text: `b${i}`, cid: `b${i}` });
        }
        const seqs = Array.from({ length: 200 }, (_, i) => i + 1);
        for (const c of clients) {
          await eventually(() => expect(c.all('message').length).toBe(200), 15_000);
          const got = c.all('message');
          expect(got.map((m) => m.seq)).toEqual(seqs);
          // each sender's messages keep its own sending order
          expect(got.filter((m) => m.from === alice).map((m) => m.text)).toEqual(Array.from({ length: 100 }, (_, i) => `a${i}`));
        }
        for (const [c, p] of [[a, 'a'], [b, 'b']] as const) {
          await eventually(() => expect(c.all('ack').length).toBe(100), 15_000);
          const bySeq = new Map(c.all('message').map((m) => [m.cid, m.seq]));
          for (const ack of c.all('ack')) expect(ack.cid?.startsWith(p) && bySeq.get(ack.cid)).toBe(ack.seq);
        }
      });

      it('answers a resend with the same cid with the same ack and no second message', async () => {
        const [alice, bob] = [uid('alice'), uid('bob')];
        const room = uid('room');
        const [a, b] = (await inRoom(room, alice, bob)) as [Client, Client];
        const first = await a.post(room, 'once', 'dup');
        const again = await a.post(room, 'once', 'dup');
        expect(again).toEqual(first);
        const other = await b.post(room, 'mine', 'dup'); // another user's cid is another message
        expect(other.seq).toBe(first.seq + 1);
        await b.nextOf('message', (m) => m.from === bob);
        expect(b.all('message').map((m) => [m.from, m.seq])).toEqual([[alice, 1], [bob, 2]]);
      });

      it('refuses to send to a room the socket has not joined with `not_member`', async () => {
        const a = await connect(server, uid('alice'));
        a.send({ type: 'send', room: uid('room'), text: 'hi', cid: 'nm-1' });
        expect(await a.nextOf('error')).toMatchObject({ code: 'not_member', cid: 'nm-1' });
        await a.heartbeat();
      });

      it('accepts a REST post and delivers it to WebSocket members', async () => {
        const bob = uid('bob');
        const room = uid('room');
        const [a] = (await inRoom(room, uid('alice'))) as [Client];
        const { epoch } = a.all('joined')[0] as { epoch: string };
        const res = await rest(server, 'POST', `/v1/rooms/${room}/messages`, { user: bob, body: { text: 'from rest', cid: 'r-1' } });
        expect(res.status).toBe(201);
        expect(res.json).toEqual({ room, epoch, seq: 1, ts: expect.any(Number) });
        expect(await a.nextOf('message')).toEqual({ type: 'message', room, epoch, seq: 1, from: bob, text: 'from rest', ts: res.json['ts'], cid: 'r-1' });
      });
    });

    describe('leave', () => {
      it('answers `left`; afterwards sends are refused and the room is silent', async () => {
        const room = uid('room');
        const [a, b] = (await inRoom(room, uid('alice'), uid('bob'))) as [Client, Client];
        a.send({ type: 'leave', room });
        expect(await a.nextOf('left')).toEqual({ type: 'left', room });
        a.send({ type: 'send', room, text: 'still here?', cid: 'l-1' });
        expect(await a.nextOf('error')).toMatchObject({ code: 'not_member', cid: 'l-1' });
        await b.post(room, 'anyone?', 'b-1');
        await b.nextOf('message');
        await a.heartbeat();
        expect(a.all('message')).toEqual([]);
      });

      it('refuses to leave a room not joined with `not_member`', async () => {
        const a = await connect(server, uid('alice'));
        const room = uid('room');
        a.send({ type: 'leave', room });
        expect(await a.nextOf('error')).toMatchObject({ code: 'not_member', room });
        await a.heartbeat();
      });
    });

    describe('typing and presence', () => {
      it('tells the others who is typing, not the typer', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const [a, b] = (await inRoom(room, alice, uid('bob'))) as [Client, Client];
        a.send({ type: 'typing', room });
        expect(await b.nextOf('typing')).toEqual({ type: 'typing', room, user: alice });
        await a.post(room, 'done typing', 't-1'); // per-room order: a typing event would come before it
        await a.nextOf('message');
        expect(a.all('typing')).toEqual([]);
      });

      it('announces a member online when they join and offline with lastSeen when they go', async () => {
        const bob = uid('bob');
        const room = uid('room');
        const [a] = (await inRoom(room, uid('alice'))) as [Client];
        const [b] = (await inRoom(room, bob)) as [Client];
        expect(await a.nextOf('presence')).toMatchObject({ type: 'presence', room, user: bob, status: 'online' });
        await b.close();
        const off = await a.nextOf('presence');
        expect(off).toEqual({ type: 'presence', room, user: bob, status: 'offline', lastSeen: expect.any(Number) });
      });

      it('announces offline only when the last of a user’s sockets in the room is gone', async () => {
        const bob = uid('bob');
        const room = uid('room');
        const [a] = (await inRoom(room, uid('alice'))) as [Client];
        const [b1, b2] = (await inRoom(room, bob, bob)) as [Client, Client];
        await a.nextOf('presence', (p) => p.status === 'online');
        await b1.close();
        await b2.post(room, 'still here', 'p-1'); // a's view: no offline may come before this
        await a.nextOf('message');
        await b2.close();
        await a.nextOf('presence', (p) => p.status === 'offline');
        await a.heartbeat();
        expect(a.all('presence').map((p) => [p.user, p.status])).toEqual([[bob, 'online'], [bob, 'offline']]);
        const types = a.events.map((e) => e.type);
        expect(types.indexOf('message')).toBeLessThan(types.lastIndexOf('presence'));
      });
    });

    describe('heartbeat', () => {
      it('answers a heartbeat with its id', async () => {
        const a = await connect(server, uid('alice'));
        a.send({ type: 'heartbeat', id: 7 });
        expect(await a.nextOf('heartbeat')).toEqual({ type: 'heartbeat', id: 7, success: true });
      });
    });
  });

  wsErrorsSuite(runtime);
  wsLifecycleSuite(runtime);
  wsLimitsSuite(runtime);
  wsAuthSuite(runtime);
  wsGroupsSuite(runtime);
  wsReadsSuite(runtime);
  wsChangesSuite(runtime);
}
