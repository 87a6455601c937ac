/**
 * REST routes of docs/protocol.md through `app.request()`: health, readiness, metrics, history and
 * posting. Access rules, presence and conversations: `routes-access.test.ts`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Message } from '@parley/client/wire';
import { roomName, startApp, stopApps, type TestApp } from '../fixtures/app.ts';

afterEach(stopApps);

type Page = { room: string; epoch: string; messages: Message[]; hasMore: boolean };
type ErrorBody = { error: { code: string; message: string } };

const seqs = (p: Page) => p.messages.map((m) => m.seq);

async function seed(app: TestApp, room: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) await app.stores.log.append(room, { from: 'bob', text: `m${i}` });
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body;
}

describe('health and readiness', () => {
  it('answers /health with the instance id', async () => {
    const app = await startApp();
    const res = await app.get('/health', null);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', instance: 'test-instance' });
  });

  it('answers /ready 503 starting, then 200 ready, then 503 draining once shutdown starts', async () => {
    const app = await startApp({}, { ready: false });
    const starting = await app.get('/ready', null);
    expect(starting.status).toBe(503);
    expect(starting.headers.get('Retry-After')).toMatch(/^\d+$/);
    expect(await starting.json()).toEqual({ status: 'starting' });

    app.parley.ready();
    const ready = await app.get('/ready', null);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const shutdown = app.parley.shutdown();
    const draining = await app.get('/ready', null);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'draining' });
    await shutdown;
    expect((await app.get('/health', null)).status).toBe(200); // alive while the process lives
  });

  it('serves Prometheus text with parley_* metrics that count what happened', async () => {
    const app = await startApp();
    const room = roomName();
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: 'hi' })).status).toBe(201);
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: '' })).status).toBe(400);
    const res = await app.get('/metrics', null);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE parley_connections gauge');
    expect(text).toMatch(/^parley_messages_total\{instance="test-instance"\} 1$/m);
    expect(text).toMatch(/^parley_errors_total\{code="invalid_request",instance="test-instance"\} 1$/m);
  });
});

describe('GET /v1/rooms/:room/messages', () => {
  it('returns the latest 50 by default, ascending, with hasMore', async () => {
    const app = await startApp();
    const room = roomName();
    await seed(app, room, 60);
    const res = await app.get(`/v1/rooms/${room}/messages`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    expect(seqs(page)).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    expect(page.hasMore).toBe(true);
    expect(page.room).toBe(room);
    expect(page.messages[0]).toEqual({ room, epoch: page.epoch, seq: 11, from: 'bob', text: 'm11', ts: expect.any(Number) });
  });

  it('pages with after, before and limit', async () => {
    const app = await startApp();
    const room = roomName();
    await seed(app, room, 20);
    const get = async (q: string) => (await (await app.get(`/v1/rooms/${room}/messages?${q}`)).json()) as Page;
    const after = await get('after=5&limit=3');
    expect([seqs(after), after.hasMore]).toEqual([[6, 7, 8], true]);
    const tail = await get('after=18');
    expect([seqs(tail), tail.hasMore]).toEqual([[19, 20], false]);
    const before = await get('before=10&limit=4');
    expect([seqs(before), before.hasMore]).toEqual([[6, 7, 8, 9], true]);
    const start = await get('before=3');
    expect([seqs(start), start.hasMore]).toEqual([[1, 2], false]);
    expect(seqs(await get('after=2&before=6'))).toEqual([3, 4, 5]);
    expect(seqs(await get('limit=2'))).toEqual([19, 20]);
  });

  it('answers an empty room with its epoch and no messages', async () => {
    const app = await startApp();
    const room = roomName();
    const page = (await (await app.get(`/v1/rooms/${room}/messages`)).json()) as Page;
    expect(page).toEqual({ room, epoch: expect.any(String), messages: [], hasMore: false });
    const posted = (await (await app.post(`/v1/rooms/${room}/messages`, { text: 'first' })).json()) as { epoch: string };
    expect(posted.epoch).toBe(page.epoch);
  });

  it.each([
    ['limit=5000'],
    ['limit=0'],
    ['limit=abc'],
    ['after=-1'],
    ['before=0'],
    ['after=5&before=5'],
    ['after=7&before=3'],
  ])('refuses %s with 400 invalid_request', async (q) => {
    const app = await startApp();
    await expectError(await app.get(`/v1/rooms/${roomName()}/messages?${q}`), 400, 'invalid_request');
  });
});

describe('POST /v1/rooms/:room/messages', () => {
  it('stores the message and answers 201 with its position', async () => {
    const app = await startApp();
    const room = roomName();
    const res = await app.post(`/v1/rooms/${room}/messages`, { text: 'hello', cid: 'c-1' });
    expect(res.status).toBe(201);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ room, epoch: expect.any(String), seq: 1, ts: expect.any(Number) });
    const page = (await (await app.get(`/v1/rooms/${room}/messages`, 'bob')).json()) as Page;
    expect(page.messages).toEqual([{ room, epoch: body['epoch'], seq: 1, from: 'alice', text: 'hello', ts: body['ts'], cid: 'c-1' }]);
  });

  it('makes a resend with the same cid return the same seq and store nothing new', async () => {
    const app = await startApp();
    const room = roomName();
    const first = await (await app.post(`/v1/rooms/${room}/messages`, { text: 'once', cid: 'c-9' })).json();
    const again = await app.post(`/v1/rooms/${room}/messages`, { text: 'once', cid: 'c-9' });
    expect(again.status).toBe(201);
    expect(await again.json()).toEqual(first);
    const page = (await (await app.get(`/v1/rooms/${room}/messages`)).json()) as Page;
    expect(seqs(page)).toEqual([1]);
  });

  it('accepts 4000 characters and refuses 4001', async () => {
    const app = await startApp();
    const room = roomName();
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: 'x'.repeat(4000) })).status).toBe(201);
    // The longest text in 3-byte UTF-8 characters still fits the 16 KiB body limit.
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: '汉'.repeat(4000) })).status).toBe(201);
    await expectError(await app.post(`/v1/rooms/${room}/messages`, { text: 'x'.repeat(4001) }), 400, 'invalid_request');
  });

  it.each([
    ['empty text', { text: '' }],
    ['whitespace text', { text: ' \n\t ' }],
    ['missing text', { cid: 'c-1' }],
    ['text not a string', { text: 42 }],
    ['cid of 65 characters', { text: 'hi', cid: 'c'.repeat(65) }],
  ])('refuses %s with 400 and stores nothing', async (_name, body) => {
    const app = await startApp();
    const room = roomName();
    await expectError(await app.post(`/v1/rooms/${room}/messages`, body), 400, 'invalid_request');
    expect((await app.stores.log.head(room)).seq).toBe(0);
  });

  it('accepts 4000 characters escaped as \\uXXXX, more than a WebSocket frame holds', async () => {
    const app = await startApp();
    const room = roomName();
    const body = `{"text":"${'\\u6c49'.repeat(4000)}"}`;
    expect(body.length).toBeGreaterThan(16 * 1024);
    const res = await app.post(`/v1/rooms/${room}/messages`, body);
    expect(res.status).toBe(201);
    const page = await app.stores.log.read(room, { limit: 1 });
    expect(page.messages[0]?.text).toBe('汉'.repeat(4000));
  });

  it('refuses a body that is not JSON with 400', async () => {
    const app = await startApp();
    await expectError(await app.post(`/v1/rooms/${roomName()}/messages`, 'text=hi'), 400, 'invalid_request');
  });

  it('refuses a body over 64 KiB with 413', async () => {
    const app = await startApp();
    const room = roomName();
    const body = JSON.stringify({ text: 'hi', pad: 'x'.repeat(64 * 1024) });
    await expectError(await app.post(`/v1/rooms/${room}/messages`, body), 413, 'too_large');
    expect((await app.stores.log.head(room)).seq).toBe(0);
  });

  it('answers 429 with Retry-After past the burst, per user', async () => {
    const app = await startApp({ SEND_RATE: '1', SEND_BURST: '3' });
    const room = roomName();
    for (let i = 0; i < 3; i++) expect((await app.post(`/v1/rooms/${room}/messages`, { text: `m${i}` })).status).toBe(201);
    const res = await app.post(`/v1/rooms/${room}/messages`, { text: 'one too many' });
    await expectError(res, 429, 'rate_limited');
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect((await app.stores.log.head(room)).seq).toBe(3);
    expect((await app.post(`/v1/rooms/${room}/messages`, { text: 'bob is fine' }, 'bob')).status).toBe(201);
  });
});
