/**
 * Private groups end to end (docs/protocol.md v1.1): the lifecycle over REST and the WebSocket,
 * non-members refused on every frame, and a removal: the removed user's sockets get `left` with
 * reason `removed` and nothing more from the room. Part of `wsSuite`: runs against every runtime.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, type Runtime, type Server, closeAllClients, connect, rest, sleep, uid } from './server.ts';

/** The largest group whose `joined.members` lists every member (GROUP_ROSTER_MAX) on this suite's server. */
const ROSTER_MAX = 4;

export function wsGroupsSuite(runtime: Runtime): void {
  describe(`private groups on ${runtime}`, () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServerFor(runtime);
    });
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
    });
    afterEach(closeAllClients);

    const createGroup = async (owner: string, members: string[]) => {
      const res = await rest(server, 'POST', '/v1/groups', { user: owner, body: { title: 'Team', members } });
      expect(res.status).toBe(201);
      return res.json as { room: string; id: string };
    };

    it('runs the lifecycle: create, join, talk, add, promote, member frames to joined sockets', async () => {
      const [olga, amy, bob] = [uid('olga'), uid('amy'), uid('bob')];
      const { room, id } = await createGroup(olga, [amy]);
      const o = await connect(server, olga);
      const joined = await o.join(room);
      expect(joined).toMatchObject({ room, seq: 0, recovered: false, messages: [] });
      // Every member listed, online or not.
      expect(joined.members.map((m) => [m.user, m.status])).toEqual([[amy, 'offline'], [olga, 'online']].sort());
      const a = await connect(server, amy);
      await a.join(room);
      await a.post(room, 'hello team', 'c1');
      await o.nextOf('message', (m) => m.text === 'hello team');

      expect((await rest(server, 'PUT', `/v1/groups/${id}/members/${bob}`, { user: olga, body: { role: 'member' } })).status).toBe(200);
      expect((await rest(server, 'PUT', `/v1/groups/${id}/members/${amy}`, { user: olga, body: { role: 'admin' } })).status).toBe(200);
      for (const c of [o, a]) {
        await c.nextOf('member', (m) => m.user === bob && m.role === 'member' && m.by === olga);
        expect(await c.nextOf('member', (m) => m.user === amy)).toEqual({ type: 'member', room, user: amy, role: 'admin', by: olga });
      }
      const b = await connect(server, bob);
      const bj = await b.join(room);
      expect(bj.messages.map((m) => m.text)).toEqual(['hello team']);
      await b.post(room, 'thanks', 'c2');
      await a.nextOf('message', (m) => m.text === 'thanks');
      const conv = await rest(server, 'GET', '/v1/conversations', { user: bob });
      expect((conv.json['items'] as { room: string }[]).map((i) => i.room)).toEqual([room]);
    });

    it('refuses a non-member\'s join, send and typing with forbidden, naming the room, unknown groups alike', async () => {
      const [olga, eve] = [uid('olga'), uid('eve')];
      const { room } = await createGroup(olga, []);
      const e = await connect(server, eve);
      for (const r of [room, `grp:${uid('nope')}`]) {
        e.send({ type: 'join', room: r });
        expect(await e.nextOf('error', (x) => x.room === r)).toEqual({ type: 'error', code: 'forbidden', message: expect.any(String), room: r });
        e.send({ type: 'send', room: r, text: 'let me in', cid: `s-${r}` });
        expect(await e.nextOf('error', (x) => x.cid === `s-${r}`)).toMatchObject({ code: 'forbidden', room: r });
        e.send({ type: 'typing', room: r });
        expect(await e.nextOf('error', (x) => x.room === r && x.cid === undefined && x !== undefined)).toMatchObject({ code: 'forbidden' });
      }
      await e.heartbeat();
      expect(e.all('joined')).toEqual([]);
      // A member that has not joined gets not_member, as in any room.
      const o = await connect(server, olga);
      o.send({ type: 'send', room, text: 'hi', cid: 'n1' });
      expect(await o.nextOf('error', (x) => x.cid === 'n1')).toMatchObject({ code: 'not_member', room });
    });

    it('takes a removed member\'s sockets out: `left` with reason removed, then nothing more from the room', async () => {
      const [olga, amy] = [uid('olga'), uid('amy')];
      const { room, id } = await createGroup(olga, [amy]);
      const o = await connect(server, olga);
      const [a1, a2] = [await connect(server, amy), await connect(server, amy)];
      for (const c of [o, a1, a2]) await c.join(room);
      await o.post(room, 'before', 'b1');
      for (const c of [a1, a2]) await c.nextOf('message', (m) => m.text === 'before');

      expect((await rest(server, 'DELETE', `/v1/groups/${id}/members/${amy}`, { user: olga })).status).toBe(204);
      for (const c of [a1, a2]) expect(await c.nextOf('left')).toEqual({ type: 'left', room, reason: 'removed' });
      expect(await o.nextOf('member')).toEqual({ type: 'member', room, user: amy, role: null, by: olga });
      await o.post(room, 'after', 'a1');
      o.send({ type: 'typing', room });
      await sleep(200);
      for (const c of [a1, a2]) {
        const i = c.events.findIndex((e) => e.type === 'left');
        expect(c.events.slice(i + 1).filter((e) => 'room' in e && e.room === room)).toEqual([]);
        // Its socket can neither send nor rejoin.
        c.send({ type: 'send', room, text: 'still here?', cid: 'x1' });
        expect(await c.nextOf('error', (x) => x.cid === 'x1')).toMatchObject({ code: 'forbidden', room });
        c.send({ type: 'join', room });
        expect(await c.nextOf('error', (x) => x.room === room && x.cid === undefined)).toMatchObject({ code: 'forbidden' });
      }
      expect((await rest(server, 'GET', `/v1/rooms/${room}/messages`, { user: amy })).status).toBe(403);
      expect((await rest(server, 'POST', `/v1/rooms/${room}/messages`, { user: amy, body: { text: 'x' } })).status).toBe(403);
      const conv = await rest(server, 'GET', '/v1/conversations', { user: amy });
      expect(conv.json['items']).toEqual([]);
    });

    it('lists every member of a small group on join; a large one only the members in the room, REST presence every member', async () => {
      const [olga, amy, ...rest5] = [uid('olga'), uid('amy'), uid('b'), uid('c'), uid('d')];
      const small = await createGroup(olga, [amy, ...rest5.slice(0, ROSTER_MAX - 2)]);
      const large = await createGroup(olga, [amy, ...rest5]);
      const o = await connect(server, olga);
      const a = await connect(server, amy);
      await a.join(large.room);
      expect((await o.join(small.room)).members.map((m) => m.user)).toEqual([olga, amy, ...rest5.slice(0, ROSTER_MAX - 2)].sort());
      const joined = await o.join(large.room);
      expect(joined.members.map((m) => [m.user, m.status])).toEqual([[amy, 'online'], [olga, 'online']].sort());
      const presence = await rest(server, 'GET', `/v1/rooms/${large.room}/presence`, { user: olga });
      expect((presence.json['members'] as { user: string }[]).map((m) => m.user)).toEqual([olga, amy, ...rest5].sort());
    });

    it('lets a member leave the group itself; the owner cannot (409)', async () => {
      const [olga, amy] = [uid('olga'), uid('amy')];
      const { room, id } = await createGroup(olga, [amy]);
      const a: Client = await connect(server, amy);
      await a.join(room);
      expect((await rest(server, 'DELETE', `/v1/groups/${id}/members/${olga}`, { user: olga })).status).toBe(409);
      expect((await rest(server, 'DELETE', `/v1/groups/${id}/members/${amy}`, { user: amy })).status).toBe(204);
      expect(await a.nextOf('left')).toEqual({ type: 'left', room, reason: 'removed' });
    });
  });
}

async function startServerFor(runtime: Runtime): Promise<Server> {
  const { startServer } = await import('./server.ts');
  return startServer(runtime, { HEARTBEAT_MS: '20000', SEND_RATE: '1000', SEND_BURST: '1000', GROUP_ROSTER_MAX: String(ROSTER_MAX) });
}
