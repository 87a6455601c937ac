/**
 * What each needs its own server for: jwt auth, heartbeat timeout, drain on SIGTERM, capacity,
 * slow consumers. Part of `wsSuite`: runs against every runtime.
 */
import { sign } from 'hono/jwt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Runtime, type Server, JWT_SECRET, closeAllClients, closeOf, connect, Client, eventually, ownServers, refusedUpgrade, rest, sleep, uid } from './server.ts';

const SECRET = JWT_SECRET;

export function wsLifecycleSuite(runtime: Runtime): void {
  describe(`WebSocket lifecycle on ${runtime}`, () => {
    const own = ownServers(runtime);
    afterEach(closeAllClients);

    describe('jwt auth', () => {
      let server: Server;
      beforeAll(async () => {
        server = await own({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET });
      });
      const now = () => Math.floor(Date.now() / 1000);

      it('accepts a valid token: the user is its `sub`', async () => {
        const alice = uid('alice');
        const token = await sign({ sub: alice, exp: now() + 60 }, SECRET, 'HS256');
        const c = await Client.connect(server.wsUrl, { token });
        expect(c.hello).toMatchObject({ type: 'hello', user: alice });
        expect((await rest(server, 'GET', `/v1/users/${alice}/presence`, { token })).json).toMatchObject({ status: 'online' });
      });

      it('answers 401 to an expired, badly signed, malformed or empty token in the URL, and to a dev user', async () => {
        const sub = uid('alice');
        const expired = await sign({ sub, exp: now() - 60 }, SECRET, 'HS256');
        const forged = await sign({ sub, exp: now() + 60 }, 'another-secret-0123456789', 'HS256');
        const queries: Record<string, string>[] = [{ token: expired }, { token: forged }, { token: 'not.a.jwt' }, { token: '' }, { user: sub }];
        for (const query of queries) {
          expect((await refusedUpgrade(server, query)).status, JSON.stringify(query)).toBe(401);
        }
        expect((await rest(server, 'GET', `/v1/users/${sub}/presence`, { token: expired })).status).toBe(401);
      });
    });

    it('closes a socket that shows no sign of life for two heartbeat intervals with 4000, and shows its user offline', async () => {
      const server = await own({ HEARTBEAT_MS: '300' });
      const [mute, alive] = [uid('mute'), uid('alive')];
      const live = await connect(server, alive);
      // A well-behaved client sends heartbeats every interval (and, on Node, answers pings).
      const beat = setInterval(() => live.send({ type: 'heartbeat', id: 1 }), 300);
      try {
        // Neither answers pings nor sends anything. Node notices the missed pongs; Deno, which has
        // no server ping API, the missing heartbeats. Both close with 4000 (docs/protocol.md).
        const dead = await connect(server, mute, { autoPong: false });
        expect((await rest(server, 'GET', `/v1/users/${mute}/presence`, { user: alive })).json).toMatchObject({ status: 'online' });
        const { code } = await closeOf(dead, 10_000);
        expect(code).toBe(4000);
        await eventually(async () => {
          const { json } = await rest(server, 'GET', `/v1/users/${mute}/presence`, { user: alive });
          expect(json).toEqual({ user: mute, status: 'offline', lastSeen: expect.any(Number) });
        });
        await sleep(1500); // several intervals more: the live socket must still be open
        expect(live.closeInfo).toBeUndefined();
        await live.heartbeat();
      } finally {
        clearInterval(beat);
      }
    });

    it('drains on SIGTERM: /ready 503 at once, upgrades accepted for the grace period then refused, sockets closed with 1012, exit 0', async () => {
      const server = await own({ DRAIN_BATCH: '1', DRAIN_INTERVAL_MS: '300', DRAIN_GRACE_MS: '1500' });
      const clients = await Promise.all(Array.from({ length: 6 }, () => connect(server, uid('user'))));
      // A socket still waiting to authenticate by its first frame is closed with the others.
      const waiting = await Client.open(server.wsUrl);
      const exit = server.stop('SIGTERM');
      const signalled = Date.now();
      await eventually(async () => {
        const r = await rest(server, 'GET', '/ready');
        expect([r.status, r.json]).toEqual([503, { status: 'draining' }]);
      }, 5000, 20);
      // Within the grace period the instance still serves: a load balancer that has not yet seen the
      // 503 may still send a connection here, and it must not fail.
      const late = await connect(server, uid('late'));
      expect(Date.now() - signalled).toBeLessThan(1500);
      await late.heartbeat();
      // Then the sockets are closed, and upgrades refused.
      await eventually(async () => expect((await refusedUpgrade(server, { user: uid('later') })).status).toBe(503), 5000, 100);
      const closes = await Promise.all([...clients, late].map((c) => closeOf(c)));
      expect(closes.map((c) => c.code)).toEqual([...clients, late].map(() => 1012));
      expect((await closeOf(waiting)).code).toBe(1012);
      expect(waiting.events).toEqual([]);
      expect(await exit).toBe(0);
    });

    it('refuses the upgrade past MAX_CONNECTIONS with 503 and Retry-After, /ready says full', async () => {
      const server = await own({ MAX_CONNECTIONS: '3' });
      const clients = await Promise.all([1, 2, 3].map(() => connect(server, uid('user'))));
      const refused = await refusedUpgrade(server, { user: uid('fourth') });
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
      const ready = await rest(server, 'GET', '/ready');
      expect([ready.status, ready.json]).toEqual([503, { status: 'full' }]);

      await clients[0]?.close();
      await eventually(async () => expect((await rest(server, 'GET', '/ready')).status).toBe(200));
      await (await connect(server, uid('fourth'))).heartbeat();
      expect((await refusedUpgrade(server, { user: uid('fifth') })).status).toBe(503);
    });

    it('does not recover a `since` that fell out of the hot window: latest 50, recovered false', async () => {
      const server = await own({ HOT_WINDOW: '10', SEND_RATE: '1000', SEND_BURST: '1000' });
      const room = uid('room');
      const a = await connect(server, uid('alice'));
      const { epoch } = await a.join(room);
      for (let i = 1; i <= 100; i++) a.send({ type: 'send', room, text: `m${i}`, cid: `h-${i}` });
      await a.nextOf('ack', (e) => e.cid === 'h-100');
      const r = await (await connect(server, uid('bob'))).join(room, { epoch, seq: 1 });
      expect(r).toMatchObject({ epoch, seq: 100, recovered: false });
      expect(r.messages.length).toBeLessThanOrEqual(50);
      expect(r.messages.at(-1)?.seq).toBe(100);
    });

    it('closes a consumer that stops reading with 4008 and keeps serving the sender', async () => {
      const server = await own({ SEND_RATE: '100000', SEND_BURST: '100000', SEND_BUFFER_SOFT: '65536', SEND_BUFFER_HARD: '65536' });
      const room = uid('room');
      const slow = await connect(server, uid('slow'));
      const sender = await connect(server, uid('sender'));
      await slow.join(room);
      await sender.join(room);
      slow.ws.pause(); // stop reading: the server's send buffer for it grows
      const text = 'x'.repeat(4000);
      // In windows, as a well-behaved client would: the sender reads its own copies in time.
      for (let i = 1; i <= 3000; i++) {
        sender.send({ type: 'send', room, text, cid: `f-${i}` });
        if (i % 20 === 0) await sender.nextOf('ack', (a) => a.cid === `f-${i}`, 30_000);
      }
      // The server allows a buffer past the limit for a moment (one burst); a consumer that stays
      // behind for longer than that is closed.
      await sleep(2000);
      slow.ws.resume();
      expect((await closeOf(slow)).code).toBe(4008);
      await sender.heartbeat();
    }, 90_000);
  });
}
