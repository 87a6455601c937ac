/**
 * The per-connection and per-user limits (docs/protocol.md, "Limits"), end to end: rooms per
 * connection, the join rate, connections per user. Part of `wsSuite`: runs against every runtime.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Server, type Runtime, closeAllClients, closeOf, connect, connectByFrame, eventually, refusedUpgrade, rest, startServer, uid } from './server.ts';

export function wsLimitsSuite(runtime: Runtime): void {
  describe(`limits on ${runtime}`, () => {
    let server: Server;
    beforeAll(async () => {
      server = await startServer(runtime, {
        MAX_ROOMS_PER_CONN: '3',
        JOIN_RATE: '1',
        JOIN_BURST: '8',
        MAX_CONNS_PER_USER: '2',
        SEND_RATE: '1',
        SEND_BURST: '5',
        ABUSE_BAR_MS: '1500',
      });
    });
    afterAll(async () => {
      expect(await server?.stop()).toBe(0);
    });
    afterEach(closeAllClients);

    const refusals = async (reason: string): Promise<number> => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(new RegExp(`^parley_refused_total\\{reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };

    it('refuses a join past MAX_ROOMS_PER_CONN with too_many_rooms; the socket keeps its rooms and may join again after a leave', async () => {
      const a = await connect(server, uid('alice'));
      const [r1, r2, r3, r4] = [uid('room'), uid('room'), uid('room'), uid('room')];
      for (const r of [r1, r2, r3]) await a.join(r);
      expect(await a.join(r1)).toMatchObject({ type: 'joined', room: r1 }); // a room it is in counts once
      a.send({ type: 'join', room: r4, cid: 'j-4' });
      expect(await a.nextOf('error')).toMatchObject({ code: 'too_many_rooms', room: r4, cid: 'j-4' });
      // Still in its three rooms: a message in one of them arrives.
      const b = await connect(server, uid('bob'));
      await b.join(r2);
      await b.post(r2, 'still here?', 'b-1');
      expect(await a.nextOf('message', (m) => m.room === r2)).toMatchObject({ text: 'still here?' });
      a.send({ type: 'leave', room: r3 });
      await a.nextOf('left');
      expect(await a.join(r4)).toMatchObject({ room: r4 });
      expect(await refusals('rooms_per_conn')).toBeGreaterThanOrEqual(1);
    });

    it('lets a burst of JOIN_BURST joins through, then refuses joins with rate_limited', async () => {
      const a = await connect(server, uid('alice'));
      const room = uid('room');
      // Repeated joins of one room spend tokens too, and never hit the room limit.
      for (let i = 0; i < 8; i++) a.send({ type: 'join', room, cid: `j-${i}` });
      a.send({ type: 'join', room, cid: 'j-8' });
      expect(await a.nextOf('error')).toMatchObject({ code: 'rate_limited', room, cid: 'j-8' });
      await a.heartbeat();
      expect(a.all('joined')).toHaveLength(8);
      expect(await refusals('join_rate')).toBeGreaterThanOrEqual(1);
      // One token a second comes back.
      await eventually(async () => expect(await a.join(room)).toMatchObject({ room }), 3000, 1100);
    });

    it('answers the upgrade past MAX_CONNS_PER_USER with 429 and Retry-After, until one of them closes', async () => {
      const alice = uid('alice');
      const [a1] = [await connect(server, alice), await connect(server, alice)];
      const refused = await refusedUpgrade(server, { user: alice });
      expect(refused.status).toBe(429);
      expect(String(refused.headers['retry-after'])).toMatch(/^\d+$/);
      await (await connect(server, uid('bob'))).heartbeat(); // others are not affected
      expect(await refusals('conns_per_user')).toBeGreaterThanOrEqual(1);
      await a1?.close();
      await eventually(async () => expect((await connect(server, alice)).hello.type).toBe('hello'));
      // REST is not limited by the socket count.
      expect((await rest(server, 'GET', '/v1/conversations', { user: alice })).status).toBe(200);
    });

    it('lets exactly MAX_CONNS_PER_USER sockets in when many upgrade at the same moment, in the URL or by first frame', async () => {
      for (const byFrame of [false, true]) {
        const alice = uid('alice');
        const tries = await Promise.allSettled(Array.from({ length: 10 }, () => (byFrame ? connectByFrame(server, { user: alice }) : connect(server, alice))));
        expect(tries.filter((t) => t.status === 'fulfilled')).toHaveLength(2);
        for (const t of tries) if (t.status === 'fulfilled') await t.value.close();
      }
    });

    it('bars a user whose socket was closed for abuse from reconnecting for ABUSE_BAR_MS, then lets it back', async () => {
      const alice = uid('alice');
      const a = await connect(server, alice);
      const room = uid('room');
      await a.join(room);
      for (let i = 0; i < 300 && !a.closeInfo; i++) {
        a.send({ type: 'send', room, text: 'spam', cid: `s-${i}` });
        await a.next((e) => (e.type === 'ack' || e.type === 'error') && e.cid === `s-${i}`).catch(() => undefined);
      }
      expect((await closeOf(a)).code).toBe(1008);
      const refused = await refusedUpgrade(server, { user: alice });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(await refusals('abuse_bar')).toBeGreaterThanOrEqual(1);
      await (await connect(server, uid('bob'))).heartbeat(); // only that user
      await eventually(async () => expect((await connect(server, alice)).hello.type).toBe('hello'), 5000, 250);
    });
  });
}
