/**
 * REST access rules (dev and jwt auth, direct rooms), presence, conversations and unknown routes,
 * through `app.request()`.
 */
import { sign } from 'hono/jwt';
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '@parley/client/wire';
import { roomName, startApp, stopApps } from '../fixtures/app.ts';

afterEach(stopApps);

type ErrorBody = { error: { code: string; message: string } };

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(((await res.json()) as ErrorBody).error).toEqual({ code, message: expect.any(String) });
}

describe('dev auth', () => {
  it('answers 401 unauthorized without X-User, or with an invalid name', async () => {
    const app = await startApp();
    const path = `/v1/rooms/${roomName()}/messages`;
    await expectError(await app.get(path, null), 401, 'unauthorized');
    await expectError(await app.get(path, 'not a name!'), 401, 'unauthorized');
    await expectError(await app.post(path, { text: 'hi' }, null), 401, 'unauthorized');
    await expectError(await app.get('/v1/conversations', null), 401, 'unauthorized');
    expect((await app.get(path, 'alice')).status).toBe(200);
  });
});

describe('jwt auth', () => {
  const secret = 'a-test-secret-of-32-characters!!';
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts a valid token as its sub, and refuses expired, foreign, sub-less or missing ones', async () => {
    const app = await startApp({ AUTH_MODE: 'jwt', JWT_SECRET: secret });
    const room = roomName();
    const path = `/v1/rooms/${room}/messages`;
    const valid = await sign({ sub: 'alice', exp: now() + 60 }, secret);
    const posted = await app.post(path, { text: 'signed' }, null, bearer(valid));
    expect(posted.status).toBe(201);
    const page = (await (await app.get(path, null, bearer(valid))).json()) as { messages: Message[] };
    expect(page.messages.map((m) => m.from)).toEqual(['alice']);

    const expired = await sign({ sub: 'alice', exp: now() - 10 }, secret);
    await expectError(await app.get(path, null, bearer(expired)), 401, 'unauthorized');
    const foreign = await sign({ sub: 'alice', exp: now() + 60 }, 'another-secret-of-enough-length');
    await expectError(await app.get(path, null, bearer(foreign)), 401, 'unauthorized');
    const noSub = await sign({ exp: now() + 60 }, secret);
    await expectError(await app.get(path, null, bearer(noSub)), 401, 'unauthorized');
    await expectError(await app.get(path, null), 401, 'unauthorized');
    await expectError(await app.get(path, null, bearer('not.a.token')), 401, 'unauthorized');
  });

  it('ignores X-User in jwt mode', async () => {
    const app = await startApp({ AUTH_MODE: 'jwt', JWT_SECRET: secret });
    await expectError(await app.get(`/v1/rooms/${roomName()}/messages`, 'alice'), 401, 'unauthorized');
  });
});

describe('direct rooms', () => {
  it('lets its two users read and post, and refuses anyone else with 403', async () => {
    const app = await startApp();
    const path = '/v1/rooms/dm:alice:bob/messages';
    expect((await app.post(path, { text: 'hi bob' }, 'alice')).status).toBe(201);
    expect((await app.post(path, { text: 'hi alice' }, 'bob')).status).toBe(201);
    const page = (await (await app.get(path, 'bob')).json()) as { messages: Message[] };
    expect(page.messages.map((m) => [m.from, m.text])).toEqual([['alice', 'hi bob'], ['bob', 'hi alice']]);
    await expectError(await app.get(path, 'carol'), 403, 'forbidden');
    await expectError(await app.post(path, { text: 'eavesdrop' }, 'carol'), 403, 'forbidden');
    await expectError(await app.get('/v1/rooms/dm:alice:bob/presence', 'carol'), 403, 'forbidden');
    expect((await app.stores.log.head('dm:alice:bob')).seq).toBe(2);
  });

  it('reads the same room when the name is percent-encoded', async () => {
    const app = await startApp();
    expect((await app.post('/v1/rooms/dm:alice:bob/messages', { text: 'hi' }, 'alice')).status).toBe(201);
    const page = (await (await app.get(`/v1/rooms/${encodeURIComponent('dm:alice:bob')}/messages`, 'bob')).json()) as {
      messages: Message[];
    };
    expect(page.messages.map((m) => m.text)).toEqual(['hi']);
  });

  it.each(['dm:bob:alice', 'dm:alice:alice', 'not%20a%20room', 'x'.repeat(65)])('refuses the room name %s with 400', async (room) => {
    const app = await startApp();
    const res = await app.get(`/v1/rooms/${room}/messages`, 'alice');
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe('invalid_request');
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: 'hi' }, 'alice')).status).toBe(400);
  });
});

describe('presence', () => {
  it('lists the members of a room, sorted and online', async () => {
    const app = await startApp();
    const room = roomName();
    for (const [id, user] of [['c1', 'carol'], ['c2', 'alice'], ['c3', 'alice']] as const) {
      const ref = { id, user, instance: 'test-instance' };
      await app.stores.presence.connect(ref);
      await app.stores.presence.join(room, ref);
    }
    const res = await app.get(`/v1/rooms/${room}/presence`, 'bob');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      room,
      members: [{ user: 'alice', status: 'online' }, { user: 'carol', status: 'online' }],
    });
    expect(await (await app.get(`/v1/rooms/${roomName()}/presence`)).json()).toMatchObject({ members: [] });
  });

  it('lists both users of a direct room, online or not', async () => {
    const app = await startApp();
    const ref = { id: 'c1', user: 'bob', instance: 'test-instance' };
    await app.stores.presence.connect(ref);
    await app.stores.presence.join('dm:alice:bob', ref);
    const body = (await (await app.get('/v1/rooms/dm:alice:bob/presence', 'alice')).json()) as { members: unknown[] };
    // Sorted by name like any member list, whoever is online.
    expect(body.members).toEqual([expect.objectContaining({ user: 'alice', status: 'offline' }), { user: 'bob', status: 'online' }]);
  });

  it('answers a user\'s status: offline with lastSeen null when unknown, online, then offline with lastSeen', async () => {
    const app = await startApp();
    expect(await (await app.get('/v1/users/zoe/presence')).json()).toEqual({ user: 'zoe', status: 'offline', lastSeen: null });
    const ref = { id: 'c1', user: 'zoe', instance: 'test-instance' };
    await app.stores.presence.connect(ref);
    expect(await (await app.get('/v1/users/zoe/presence')).json()).toMatchObject({ user: 'zoe', status: 'online' });
    const { lastSeen } = await app.stores.presence.disconnect(ref);
    expect(await (await app.get('/v1/users/zoe/presence')).json()).toEqual({ user: 'zoe', status: 'offline', lastSeen });
  });

  it('refuses an invalid user name with 400', async () => {
    const app = await startApp();
    await expectError(await app.get(`/v1/users/${'z'.repeat(33)}/presence`), 400, 'invalid_request');
    await expectError(await app.get('/v1/users/bad!name/presence'), 400, 'invalid_request');
  });
});

describe('GET /v1/conversations', () => {
  type Items = { items: { room: string; seq: number; lastMessage?: Message }[] };
  const list = async (app: Awaited<ReturnType<typeof startApp>>, user: string) =>
    ((await (await app.get('/v1/conversations', user)).json()) as Items).items;

  it('lists the caller\'s rooms, most recent first, with the last message', async () => {
    const app = await startApp();
    const [older, newer] = [roomName('older'), roomName('newer')];
    expect((await app.post(`/v1/rooms/${older}/messages`, { text: 'first' })).status).toBe(201);
    expect((await app.post(`/v1/rooms/${newer}/messages`, { text: 'second' })).status).toBe(201);
    const items = await list(app, 'alice');
    expect(items.map((i) => i.room)).toEqual([newer, older]);
    expect(items[0]).toMatchObject({ room: newer, seq: 1, lastMessage: { seq: 1, from: 'alice', text: 'second' } });
    expect(await list(app, 'dave')).toEqual([]);
  });

  it('shows a direct room to both its users after a post, and to nobody else', async () => {
    const app = await startApp();
    expect((await app.post('/v1/rooms/dm:alice:bob/messages', { text: 'psst' }, 'alice')).status).toBe(201);
    // Unread: bob has not read alice's message; alice's own message is never unread to her.
    for (const [user, unread] of [['alice', 0], ['bob', 1]] as const) {
      expect(await list(app, user)).toEqual([
        { room: 'dm:alice:bob', seq: 1, lastMessage: expect.objectContaining({ from: 'alice', text: 'psst' }), lastRead: 0, unread },
      ]);
    }
    expect(await list(app, 'carol')).toEqual([]);
  });
});

describe('GET /ws admission (the upgrade itself is the e2e suite\'s)', () => {
  /** What a WebSocket upgrade carries; admission looks at nothing else of it. */
  const UPGRADE = { Upgrade: 'websocket' };

  it('answers 401 before upgrading with a user that is not valid, and reaches the upgrade with a valid one or none (first-frame auth)', async () => {
    const app = await startApp();
    await expectError(await app.get('/ws?user=bad!name', null, UPGRADE), 401, 'unauthorized');
    await expectError(await app.get('/ws?user=', null, UPGRADE), 401, 'unauthorized');
    expect((await app.get('/ws?user=alice', null, UPGRADE)).status).toBe(426); // the fake runtime's answer
    expect((await app.get('/ws', null, UPGRADE)).status).toBe(426); // pending: authenticates with its first frame
  });

  it('admits nobody for a request that is not an upgrade: the user stays offline', async () => {
    const app = await startApp();
    expect((await app.get('/ws?user=zed', null)).status).toBe(426); // the fake runtime's answer; no admission before it
    expect(await app.stores.presence.connections('zed')).toBe(0);
  });

  it('refuses new sockets with 503 and Retry-After while draining', async () => {
    const app = await startApp();
    await app.parley.shutdown();
    const res = await app.get('/ws?user=alice', null, UPGRADE);
    expect(res.headers.get('Retry-After')).toMatch(/^\d+$/);
    await expectError(res, 503, 'unavailable');
  });
});

describe('unknown routes', () => {
  it('answers 404 with a JSON error', async () => {
    const app = await startApp();
    await expectError(await app.get('/nope', null), 404, 'not_found');
    await expectError(await app.request('/health', { method: 'DELETE' }), 404, 'not_found');
  });
});
