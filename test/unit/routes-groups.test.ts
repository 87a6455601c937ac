/**
 * Private groups over REST, in-process on the memory stores: the lifecycle, the roles rules with
 * their exact status codes, every non-member path refused, and conversations showing and hiding
 * groups.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { roomName, startApp, stopApps, type TestApp } from '../fixtures/app.ts';

afterEach(stopApps);

type ErrorBody = { error: { code: string; message: string } };
type GroupBody = { room: string; id: string; title: string; owner: string; members: { user: string; role: string }[] };

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(((await res.json()) as ErrorBody).error).toEqual({ code, message: expect.any(String) });
}

const send = async (app: TestApp, method: string, path: string, user: string, body?: unknown): Promise<Response> =>
  await app.request(path, {
    method,
    headers: { 'X-User': user, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
const put = (app: TestApp, id: string, user: string, role: string, as: string) => send(app, 'PUT', `/v1/groups/${id}/members/${user}`, as, { role });
const del = (app: TestApp, id: string, user: string, as: string) => send(app, 'DELETE', `/v1/groups/${id}/members/${user}`, as);

async function create(app: TestApp, owner: string, body: Record<string, unknown> = {}): Promise<GroupBody> {
  const res = await app.post('/v1/groups', body, owner);
  expect(res.status).toBe(201);
  return (await res.json()) as GroupBody;
}

const conversations = async (app: TestApp, user: string) =>
  ((await (await app.get('/v1/conversations', user)).json()) as { items: { room: string }[] }).items.map((i) => i.room);

describe('POST /v1/groups', () => {
  it('creates a group with the caller as owner, and answers 409 conflict for an existing id', async () => {
    const app = await startApp();
    const id = roomName('team');
    const g = await create(app, 'olga', { id, title: ' Book club ', members: ['zed', 'amy', 'zed', 'olga'] });
    expect(g).toEqual({
      room: `grp:${id}`,
      id,
      title: 'Book club',
      owner: 'olga',
      members: [{ user: 'amy', role: 'member' }, { user: 'olga', role: 'owner' }, { user: 'zed', role: 'member' }],
    });
    await expectError(await app.post('/v1/groups', { id }, 'mallory'), 409, 'conflict');
  });

  it('generates an id when none is given', async () => {
    const app = await startApp();
    const g = await create(app, 'olga');
    expect(g.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(g).toMatchObject({ room: `grp:${g.id}`, title: '', owner: 'olga', members: [{ user: 'olga', role: 'owner' }] });
    expect((await create(app, 'olga')).id).not.toBe(g.id);
  });

  it.each([
    ['an invalid id', { id: 'a b' }],
    ['an id too long', { id: 'x'.repeat(65) }],
    ['an invalid member', { members: ['ok', 'not ok!'] }],
    ['members not a list', { members: 'amy' }],
    ['a title too long', { title: 't'.repeat(201) }],
    ['1000 members besides the owner', { members: Array.from({ length: 1000 }, (_, i) => `u${i}`) }],
    ['more than 1000 members', { members: Array.from({ length: 1001 }, (_, i) => `u${i}`) }],
  ])('refuses %s with 400 invalid_request', async (_, body) => {
    const app = await startApp();
    await expectError(await app.post('/v1/groups', body, 'olga'), 400, 'invalid_request');
  });

  it('refuses a body that is not JSON (400) or too large (413)', async () => {
    const app = await startApp();
    await expectError(await app.post('/v1/groups', 'nope', 'olga'), 400, 'invalid_request');
    await expectError(await app.post('/v1/groups', { title: 'x'.repeat(70_000) }, 'olga'), 413, 'too_large');
  });

  it('takes 999 members besides the owner', async () => {
    const app = await startApp();
    const g = await create(app, 'olga', { members: Array.from({ length: 999 }, (_, i) => `u${i}`) });
    expect(g.members).toHaveLength(1000);
    await expectError(await put(app, g.id, 'one-more', 'member', 'olga'), 409, 'conflict');
  });
});

describe('GET /v1/groups/:id', () => {
  it('answers members, and 403 forbidden to anyone else and for unknown groups', async () => {
    const app = await startApp();
    const g = await create(app, 'olga', { members: ['amy'] });
    for (const user of ['olga', 'amy']) {
      const res = await app.get(`/v1/groups/${g.id}`, user);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(g);
    }
    await expectError(await app.get(`/v1/groups/${g.id}`, 'eve'), 403, 'forbidden');
    await expectError(await app.get(`/v1/groups/${roomName('nope')}`, 'eve'), 403, 'forbidden');
    await expectError(await app.get('/v1/groups/not%20an%20id', 'eve'), 400, 'invalid_request');
    await expectError(await app.get(`/v1/groups/${g.id}`, null), 401, 'unauthorized');
  });
});

describe('PUT and DELETE /v1/groups/:id/members/:user: the roles rules', () => {
  it('lets the owner add members and grant and take admin; admins add members only', async () => {
    const app = await startApp();
    const { id } = await create(app, 'olga');
    const added = await put(app, id, 'adam', 'admin', 'olga');
    expect(added.status).toBe(200);
    expect(((await added.json()) as GroupBody).members).toEqual([{ user: 'adam', role: 'admin' }, { user: 'olga', role: 'owner' }]);
    expect((await put(app, id, 'amy', 'member', 'adam')).status).toBe(200);
    expect((await put(app, id, 'amy', 'member', 'adam')).status).toBe(200); // idempotent
    await expectError(await put(app, id, 'amy', 'admin', 'adam'), 403, 'forbidden');
    await expectError(await put(app, id, 'bob', 'admin', 'adam'), 403, 'forbidden');
    expect((await put(app, id, 'ada', 'admin', 'olga')).status).toBe(200);
    await expectError(await put(app, id, 'ada', 'member', 'adam'), 403, 'forbidden');
    await expectError(await put(app, id, 'bob', 'member', 'amy'), 403, 'forbidden');
    await expectError(await put(app, id, 'bob', 'member', 'eve'), 403, 'forbidden');
    await expectError(await put(app, id, 'olga', 'member', 'adam'), 403, 'forbidden');
    await expectError(await put(app, id, 'olga', 'admin', 'olga'), 409, 'conflict');
    await expectError(await put(app, roomName('nope'), 'bob', 'member', 'olga'), 403, 'forbidden');
    await expectError(await put(app, id, 'bob', 'owner', 'olga'), 400, 'invalid_request');
    await expectError(await send(app, 'PUT', `/v1/groups/${id}/members/bob`, 'olga', 'nope'), 400, 'invalid_request');
    await expectError(await put(app, id, 'bad!name', 'member', 'olga'), 400, 'invalid_request');
    const g = (await (await app.get(`/v1/groups/${id}`, 'olga')).json()) as GroupBody;
    expect(g.members).toEqual([
      { user: 'ada', role: 'admin' },
      { user: 'adam', role: 'admin' },
      { user: 'amy', role: 'member' },
      { user: 'olga', role: 'owner' },
    ]);
  });

  it('removes by the rules: 204, 403 forbidden, 409 conflict for the owner leaving', async () => {
    const app = await startApp();
    const { id } = await create(app, 'olga', { members: ['amy', 'bob', 'cat'] });
    await put(app, id, 'adam', 'admin', 'olga');
    await put(app, id, 'ada', 'admin', 'olga');
    await expectError(await del(app, id, 'bob', 'amy'), 403, 'forbidden');
    await expectError(await del(app, id, 'bob', 'eve'), 403, 'forbidden');
    await expectError(await del(app, id, 'ada', 'adam'), 403, 'forbidden');
    await expectError(await del(app, id, 'olga', 'adam'), 403, 'forbidden');
    await expectError(await del(app, id, 'olga', 'olga'), 409, 'conflict');
    expect((await del(app, id, 'bob', 'adam')).status).toBe(204);
    expect((await del(app, id, 'bob', 'adam')).status).toBe(204); // idempotent
    expect((await del(app, id, 'ada', 'olga')).status).toBe(204);
    expect((await del(app, id, 'cat', 'cat')).status).toBe(204); // leaving
    await expectError(await app.get(`/v1/groups/${id}`, 'bob'), 403, 'forbidden');
    const g = (await (await app.get(`/v1/groups/${id}`, 'amy')).json()) as GroupBody;
    expect(g.members.map((m) => m.user)).toEqual(['adam', 'amy', 'olga']);
  });
});

describe('a group room', () => {
  it('is members only: history, post and presence answer 403 forbidden to anyone else, unknown groups too', async () => {
    const app = await startApp();
    const { id, room } = await create(app, 'olga', { members: ['amy'] });
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: 'hi team' }, 'amy')).status).toBe(201);
    const page = (await (await app.get(`/v1/rooms/${room}/messages`, 'olga')).json()) as { messages: { text: string }[] };
    expect(page.messages.map((m) => m.text)).toEqual(['hi team']);
    for (const r of [room, `grp:${roomName('nope')}`]) {
      await expectError(await app.get(`/v1/rooms/${r}/messages`, 'eve'), 403, 'forbidden');
      await expectError(await app.post(`/v1/rooms/${r}/messages`, { text: 'let me in' }, 'eve'), 403, 'forbidden');
      await expectError(await app.get(`/v1/rooms/${r}/presence`, 'eve'), 403, 'forbidden');
    }
    // Removed: refused from then on.
    expect((await del(app, id, 'amy', 'olga')).status).toBe(204);
    await expectError(await app.post(`/v1/rooms/${room}/messages`, { text: 'still here?' }, 'amy'), 403, 'forbidden');
    await expectError(await app.get(`/v1/rooms/${room}/messages`, 'amy'), 403, 'forbidden');
    expect((await app.stores.log.head(room)).seq).toBe(1);
  });

  it('refuses an invalid group room name with 400', async () => {
    const app = await startApp();
    await expectError(await app.get('/v1/rooms/grp:/messages', 'olga'), 400, 'invalid_request');
    await expectError(await app.get(`/v1/rooms/grp:${'x'.repeat(65)}/messages`, 'olga'), 400, 'invalid_request');
  });

  it('lists every member in presence, online or not, sorted', async () => {
    const app = await startApp();
    const { room } = await create(app, 'olga', { members: ['amy', 'zed'] });
    const ref = { id: 'c1', user: 'zed', instance: 'test-instance' };
    await app.stores.presence.connect(ref);
    await app.stores.presence.join(room, ref);
    const body = (await (await app.get(`/v1/rooms/${room}/presence`, 'amy')).json()) as { members: unknown[] };
    expect(body).toEqual({
      room,
      members: [
        expect.objectContaining({ user: 'amy', status: 'offline' }),
        expect.objectContaining({ user: 'olga', status: 'offline' }),
        { user: 'zed', status: 'online' },
      ],
    });
  });

  it('shows in the conversations of every member from its creation or addition on, and no longer once removed', async () => {
    const app = await startApp();
    const { id, room } = await create(app, 'olga', { members: ['amy'] });
    expect(await conversations(app, 'olga')).toEqual([room]);
    expect(await conversations(app, 'amy')).toEqual([room]);
    expect(await conversations(app, 'bob')).toEqual([]);
    await put(app, id, 'bob', 'member', 'olga');
    expect(await conversations(app, 'bob')).toEqual([room]);
    await del(app, id, 'amy', 'olga');
    await del(app, id, 'bob', 'bob');
    expect(await conversations(app, 'amy')).toEqual([]);
    expect(await conversations(app, 'bob')).toEqual([]);
    expect(await conversations(app, 'olga')).toEqual([room]);
  });

  it('counts group changes in /metrics', async () => {
    const app = await startApp();
    const { id } = await create(app, 'olga');
    await put(app, id, 'amy', 'member', 'olga');
    await put(app, id, 'bob', 'member', 'amy');
    const text = await (await app.parley.app.request('/metrics')).text();
    expect(text).toMatch(/parley_group_changes_total\{op="create",outcome="changed",instance="test-instance"\} 1/);
    expect(text).toMatch(/parley_group_changes_total\{op="add",outcome="forbidden",instance="test-instance"\} 1/);
    expect(text).toMatch(/parley_errors_total\{code="forbidden",instance="test-instance"\} 1/);
  });
});
