/**
 * Read positions over REST, in-process on the memory stores: `GET /v1/rooms/:room/reads` for each
 * kind of room with its refusals, and the conversation list's `lastRead` and `unread`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { roomName, startApp, stopApps, type TestApp } from '../fixtures/app.ts';

afterEach(stopApps);

type ErrorBody = { error: { code: string; message: string } };

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(((await res.json()) as ErrorBody).error).toEqual({ code, message: expect.any(String) });
}

const reads = async (app: TestApp, room: string, user: string | null) => app.get(`/v1/rooms/${room}/reads`, user);
const post = async (app: TestApp, room: string, user: string, n = 1) => {
  for (let i = 0; i < n; i++) expect((await app.post(`/v1/rooms/${room}/messages`, { text: `m${i}` }, user)).status).toBe(201);
};
const mark = (app: TestApp, user: string, room: string, seq: number, receipts = false) => app.stores.reads.mark(user, room, seq, { receipts });

describe('GET /v1/rooms/:room/reads', () => {
  it('shows only the caller in a public room, 0 before any read', async () => {
    const app = await startApp();
    const room = roomName();
    expect(await (await reads(app, room, 'alice')).json()).toEqual({ room, reads: [{ user: 'alice', seq: 0 }] });
    await post(app, room, 'bob', 3);
    await mark(app, 'alice', room, 2);
    await mark(app, 'bob', room, 3);
    expect(await (await reads(app, room, 'alice')).json()).toEqual({ room, reads: [{ user: 'alice', seq: 2 }] });
  });

  it('shows both users of a direct room to either, and refuses everyone else', async () => {
    const app = await startApp();
    await post(app, 'dm:alice:bob', 'alice', 2);
    await mark(app, 'bob', 'dm:alice:bob', 9, true);
    for (const user of ['alice', 'bob']) {
      expect(await (await reads(app, 'dm:alice:bob', user)).json()).toEqual({ room: 'dm:alice:bob', reads: [{ user: 'alice', seq: 0 }, { user: 'bob', seq: 2 }] });
    }
    await expectError(await reads(app, 'dm:alice:bob', 'carol'), 403, 'forbidden');
    await expectError(await reads(app, 'dm:bob:alice', 'alice'), 400, 'invalid_request');
    await expectError(await reads(app, 'dm:alice:bob', null), 401, 'unauthorized');
  });

  it('shows every member of a group, sorted, to members only', async () => {
    const app = await startApp();
    const res = await app.post('/v1/groups', { members: ['zed', 'amy'] }, 'olga');
    const { room } = (await res.json()) as { room: string };
    await post(app, room, 'olga', 1);
    await mark(app, 'zed', room, 1, true);
    expect(await (await reads(app, room, 'amy')).json()).toEqual({ room, reads: [{ user: 'amy', seq: 0 }, { user: 'olga', seq: 0 }, { user: 'zed', seq: 1 }] });
    await expectError(await reads(app, room, 'eve'), 403, 'forbidden');
    await expectError(await reads(app, 'grp:nope', 'eve'), 403, 'forbidden');
  });
});

describe('GET /v1/conversations read state', () => {
  it('counts the others\' messages after the caller\'s position in each room', async () => {
    const app = await startApp();
    const [r1, r2] = [roomName('a'), roomName('b')];
    await post(app, r1, 'alice', 1);
    await post(app, r1, 'bob', 4);
    await post(app, r2, 'alice', 2);
    await mark(app, 'alice', r1, 3);
    const items = ((await (await app.get('/v1/conversations', 'alice')).json()) as { items: { room: string; lastRead: number; unread: number }[] }).items;
    expect(items.map((i) => [i.room, i.lastRead, i.unread])).toEqual([[r2, 0, 0], [r1, 3, 2]]);
  });
});
