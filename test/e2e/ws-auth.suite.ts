/**
 * v1.1 authentication outside the URL: the `auth` first frame (dev and jwt), its refusals and
 * timeout, token expiry with its grace, and re-authentication. Part of `wsSuite`: runs against
 * every runtime.
 */
import { ParleyClient } from '@parley/client';
import { sign } from 'hono/jwt';
import WebSocket from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, JWT_SECRET, currentEncoding, type Runtime, type Server, closeAllClients, closeOf, connectByFrame, ownServers, refusedUpgrade, rest, sleep, uid } from './server.ts';

const SECRET = JWT_SECRET;
// `exp` is in whole seconds. Rounding up keeps at least `expInS` seconds of life, so a one-second
// token signed late in a second is not already expired when a loaded server reads it.
const now = () => Math.ceil(Date.now() / 1000);
const token = (sub: string, expInS: number | null = 60, secret = SECRET) =>
  sign(expInS === null ? { sub } : { sub, exp: now() + expInS }, secret, 'HS256');

export function wsAuthSuite(runtime: Runtime): void {
  describe(`WebSocket authentication outside the URL on ${runtime}`, () => {
    const own = ownServers(runtime);
    afterEach(closeAllClients);

    describe('dev mode', () => {
      let server: Server;
      beforeAll(async () => {
        server = await own({ AUTH_TIMEOUT_MS: '600' });
      });

      it('says nothing until the auth frame, then hello, and the socket chats like any other', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const c = await Client.open(server.wsUrl);
        await sleep(150);
        expect(c.events).toEqual([]);
        c.send({ type: 'auth', user: alice });
        expect(await c.nextOf('hello')).toMatchObject({ type: 'hello', user: alice, heartbeatMs: expect.any(Number) });
        expect(c.events[0]?.type).toBe('hello');
        await c.join(room);
        expect(await c.post(room, 'hi', 'a-1')).toMatchObject({ type: 'ack', room });
        expect((await rest(server, 'GET', `/v1/users/${alice}/presence`, { user: alice })).json).toMatchObject({ status: 'online' });
      });

      it('handles frames sent right behind the auth frame after hello', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const c = await Client.open(server.wsUrl);
        c.send({ type: 'auth', user: alice });
        c.send({ type: 'join', room });
        c.send({ type: 'heartbeat', id: 'early' });
        await c.nextOf('heartbeat', (e) => e.id === 'early');
        await c.nextOf('joined', (e) => e.room === room);
        expect(c.events[0]).toMatchObject({ type: 'hello', user: alice });
      });

      // Strings are JSON text, sent in the socket's encoding (`Client.send`).
      const wrongFirst: [string, string | { otherKind: object }][] = [
        ['a heartbeat', JSON.stringify({ type: 'heartbeat', id: 1 })],
        ['a join', JSON.stringify({ type: 'join', room: 'lobby' })],
        ['not JSON', '{"type":"auth","user":'],
        ['an unknown type', JSON.stringify({ type: 'dance' })],
        ['an auth frame of the other kind (binary on JSON, text on MessagePack)', { otherKind: { type: 'auth', user: 'alice' } }],
        ['an auth frame with a user name that is not valid', JSON.stringify({ type: 'auth', user: 'not a name!' })],
        ['an auth frame with a token but no user', JSON.stringify({ type: 'auth', token: 'x.y.z' })],
      ];
      it.each(wrongFirst)('closes with 1008 and says nothing when the first frame is %s', async (_what, frame) => {
        const c = await Client.open(server.wsUrl);
        if (typeof frame === 'string') c.send(frame);
        else c.sendOtherKind(frame.otherKind);
        const closed = await closeOf(c);
        expect(closed.code).toBe(1008);
        expect(closed.reason).not.toBe('');
        expect(c.events).toEqual([]);
      });

      it('closes with 1008 when no auth frame comes within AUTH_TIMEOUT_MS', async () => {
        const c = await Client.open(server.wsUrl);
        const opened = Date.now();
        const closed = await closeOf(c, 5000);
        expect(closed).toEqual({ code: 1008, reason: expect.stringMatching(/time/) });
        expect(Date.now() - opened).toBeGreaterThanOrEqual(450);
        expect(c.events).toEqual([]);
      });

      it('counts the refusals in /metrics', async () => {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        expect(text).toMatch(/parley_refused_total\{[^}]*reason="auth_first"[^}]*\} [1-9]/);
        expect(text).toMatch(/parley_refused_total\{[^}]*reason="auth_timeout"[^}]*\} [1-9]/);
      });

      it('ignores a re-auth as the same user and refuses another user with forbidden, keeping the identity', async () => {
        const [alice, bob] = [uid('alice'), uid('bob')];
        const room = uid('room');
        const c = await connectByFrame(server, { user: alice });
        c.send({ type: 'auth', user: alice });
        await c.heartbeat();
        expect(c.all('error')).toEqual([]);
        c.send({ type: 'auth', user: bob });
        expect(await c.nextOf('error')).toMatchObject({ code: 'forbidden' });
        await c.join(room);
        await c.post(room, 'still me', 's-1');
        expect(await c.nextOf('message', (m) => m.cid === 's-1')).toMatchObject({ from: alice });
      });

      it('tells a user past MAX_CONNS_PER_USER rate_limited, then closes with 1008, when it authenticates by its first frame', async () => {
        const limited = await own({ MAX_CONNS_PER_USER: '2' });
        const alice = uid('alice');
        await connectByFrame(limited, { user: alice });
        await connectByFrame(limited, { user: alice });
        const third = await Client.open(limited.wsUrl);
        third.send({ type: 'auth', user: alice });
        const closed = await closeOf(third);
        expect(closed.code).toBe(1008);
        expect(third.events).toEqual([{ type: 'error', code: 'rate_limited', message: expect.any(String) }]);
        await (await connectByFrame(limited, { user: uid('bob') })).heartbeat(); // others still welcome
      });

      it('counts a socket waiting for its auth frame towards MAX_CONNECTIONS, but shows nobody online', async () => {
        const small = await own({ MAX_CONNECTIONS: '1', AUTH_TIMEOUT_MS: '5000' });
        const waiting = await Client.open(small.wsUrl);
        expect((await refusedUpgrade(small, { user: uid('second') })).status).toBe(503);
        const alice = uid('alice');
        expect((await rest(small, 'GET', `/v1/users/${alice}/presence`, { user: alice })).json).toMatchObject({ status: 'offline' });
        waiting.send({ type: 'auth', user: alice });
        await waiting.nextOf('hello');
        expect((await rest(small, 'GET', `/v1/users/${alice}/presence`, { user: alice })).json).toMatchObject({ status: 'online' });
      });
    });

    describe('plain requests', () => {
      it('answers a GET of /ws that is not an upgrade 404, and lets nobody in: the user stays offline', async () => {
        const server = await own({});
        const zed = uid('zed');
        for (const path of [`/ws?user=${zed}`, '/ws']) expect((await fetch(`${server.url}${path}`)).status).toBe(404);
        expect((await rest(server, 'GET', `/v1/users/${zed}/presence`, { user: zed })).json).toMatchObject({ status: 'offline' });
      });
    });

    describe('jwt mode', () => {
      let server: Server;
      beforeAll(async () => {
        server = await own({ AUTH_MODE: 'jwt', JWT_SECRET: SECRET, AUTH_TIMEOUT_MS: '600', TOKEN_GRACE_MS: '800' });
      });

      it('authenticates with a token in the first frame: the user is its sub', async () => {
        const alice = uid('alice');
        const c = await connectByFrame(server, { token: await token(alice) });
        expect(c.hello).toMatchObject({ type: 'hello', user: alice });
        await c.heartbeat();
      });

      it('still accepts ?token= in the URL', async () => {
        const alice = uid('alice');
        const c = await Client.connect(server.wsUrl, { token: await token(alice) });
        expect(c.hello).toMatchObject({ type: 'hello', user: alice });
      });

      it('closes with 1008 on an expired, forged or malformed token, or a user name, in the first frame', async () => {
        const sub = uid('alice');
        const frames = [
          { type: 'auth', token: await token(sub, -60) },
          { type: 'auth', token: await token(sub, 60, 'another-secret-0123456789') },
          { type: 'auth', token: 'not.a.jwt' },
          { type: 'auth', user: sub },
        ];
        for (const frame of frames) {
          const c = await Client.open(server.wsUrl);
          c.send(frame);
          expect((await closeOf(c)).code, JSON.stringify(frame)).toBe(1008);
          expect(c.events).toEqual([]);
        }
      });

      it('tells a socket its token expired, then closes it with 4001 when no fresh token comes within TOKEN_GRACE_MS', async () => {
        const alice = uid('alice');
        const c = await Client.connect(server.wsUrl, { token: await token(alice, 1) });
        const expired = await c.nextOf('error', () => true, 4000);
        expect(expired).toMatchObject({ code: 'token_expired' });
        const told = Date.now();
        const closed = await closeOf(c, 5000);
        expect(closed.code).toBe(4001);
        expect(Date.now() - told).toBeGreaterThanOrEqual(600);
        expect(c.all('error')).toHaveLength(1);
      });

      it('keeps a socket open past its expiry when a fresh token for the same user arrives within the grace', async () => {
        const alice = uid('alice');
        const c = await connectByFrame(server, { token: await token(alice, 1) });
        await c.nextOf('error', (e) => e.code === 'token_expired', 4000);
        c.send({ type: 'auth', token: await token(alice, 60) });
        await c.heartbeat();
        await sleep(1500); // well past the grace
        expect(c.closeInfo).toBeUndefined();
        await c.heartbeat();
        expect(c.all('error')).toHaveLength(1);
      });

      it('never tells a socket that re-authenticates before the expiry, nor one whose token has no exp', async () => {
        const [alice, bob] = [uid('alice'), uid('bob')];
        const a = await connectByFrame(server, { token: await token(alice, 1) });
        const b = await connectByFrame(server, { token: await token(bob, null) });
        a.send({ type: 'auth', token: await token(alice, 60) });
        await a.heartbeat();
        await sleep(2500);
        await Promise.all([a.heartbeat(), b.heartbeat()]);
        expect([...a.all('error'), ...b.all('error')]).toEqual([]);
      });

      it('the typed client keeps its socket across several short-lived tokens by asking its provider ahead of each expiry', async () => {
        const alice = uid('alice');
        const room = uid('room');
        const calls: { at: number; exp: number }[] = [];
        const client = new ParleyClient({
          url: server.url,
          WebSocket: WebSocket as never,
          encoding: currentEncoding(),
          token: async () => {
            const exp = now() + 3;
            calls.push({ at: Date.now(), exp: exp * 1000 });
            return sign({ sub: alice, exp }, SECRET, 'HS256');
          },
        });
        const errors: string[] = [];
        const closes: number[] = [];
        client.on('error', (e) => errors.push(e.code));
        client.on('close', (e) => closes.push(e.code));
        try {
          const opened = new Promise((resolve) => client.on('open', resolve));
          client.connect();
          client.join(room);
          expect(await opened).toMatchObject({ user: alice });
          await sleep(6500); // two expiries at least, and their grace
          expect(closes).toEqual([]);
          expect(errors).toEqual([]);
          expect(calls.length).toBeGreaterThanOrEqual(3);
          // Each fresh token was asked for before the previous one expired.
          for (let i = 1; i < calls.length; i++) expect(calls[i]!.at).toBeLessThan(calls[i - 1]!.exp);
          expect(await client.send(room, 'still here')).toMatchObject({ room });
        } finally {
          client.close();
        }
      });

      it('refuses a re-auth for another user (forbidden), a bad token (invalid_message) or an expired one (token_expired), and keeps the socket as it was', async () => {
        const [alice, bob] = [uid('alice'), uid('bob')];
        const room = uid('room');
        const c = await connectByFrame(server, { token: await token(alice) });
        c.send({ type: 'auth', token: await token(bob) });
        expect(await c.nextOf('error')).toMatchObject({ code: 'forbidden' });
        c.send({ type: 'auth', token: await token(alice, 60, 'another-secret-0123456789') });
        expect(await c.nextOf('error')).toMatchObject({ code: 'invalid_message' });
        c.send({ type: 'auth', token: await token(alice, -60) });
        expect(await c.nextOf('error')).toMatchObject({ code: 'token_expired' });
        c.send({ type: 'auth', user: alice });
        expect(await c.nextOf('error')).toMatchObject({ code: 'invalid_message' });
        await c.join(room);
        await c.post(room, 'still me', 's-1');
        expect(await c.nextOf('message', (m) => m.cid === 's-1')).toMatchObject({ from: alice });
      });
    });
  });
}
