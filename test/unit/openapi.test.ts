/**
 * The OpenAPI document at `/openapi.json`: it lists every REST route of the app and nothing else,
 * every answer it lists happens and fits it (every request here goes through the fixture's check
 * against the document), and the check itself refuses answers the document does not describe.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailable } from '../../src/errors.ts';
import { openApiPath } from '../../src/openapi/document.ts';
import { startApp, stopApps, type TestApp } from '../fixtures/app.ts';
import { OpenApiCheck, UNDOCUMENTED } from '../fixtures/openapi.ts';

afterEach(stopApps);

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { securitySchemes: Record<string, unknown> } };

const documentOf = async (app: TestApp) => (await (await app.get('/openapi.json', null)).json()) as Doc;

/** Every (operation, status) the document lists, as `GET /v1/groups/{id} 403`. */
function listed(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).flatMap(([method, op]) =>
      Object.keys(op.responses)
        .filter((s) => s !== 'default')
        .map((s) => `${method.toUpperCase()} ${path} ${s}`),
    ),
  );
}

/** Makes every store method fail as an unreachable Redis would. */
function breakStores(app: TestApp): void {
  for (const store of [app.stores.log, app.stores.presence, app.stores.conversations, app.stores.groups, app.stores.reads]) {
    const target = store as unknown as Record<string, unknown>;
    for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (name !== 'constructor' && typeof target[name] === 'function') target[name] = async () => Promise.reject(new BackendUnavailable('down'));
      }
    }
  }
}

describe('GET /openapi.json', () => {
  it('describes every REST route of the app, and only those', async () => {
    const app = await startApp();
    const doc = await documentOf(app);
    expect(doc.openapi).toBe('3.1.0');
    const routes = new Set(app.parley.app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));
    // The exclusions are routes that exist: a route renamed away would leave one behind.
    for (const path of UNDOCUMENTED) expect([...routes].some((r) => r.endsWith(` ${path}`)), path).toBe(true);
    const served = [...routes].filter((r) => !UNDOCUMENTED.includes(r.split(' ')[1] as string)).map((r) => {
      const [method, path] = r.split(' ') as [string, string];
      return `${method.toLowerCase()} ${openApiPath(path)}`;
    });
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    expect(documented.sort()).toEqual(served.sort());
    expect(documented).toHaveLength(13);
  });

  it('names both ways to authenticate: X-User in dev mode, a bearer token in jwt mode', async () => {
    const doc = await documentOf(await startApp());
    expect(doc.components.securitySchemes).toMatchObject({
      devUser: { type: 'apiKey', in: 'header', name: 'X-User' },
      bearer: { type: 'http', scheme: 'bearer' },
    });
  });
});

describe('every answer the document lists', () => {
  it('happens on the memory stores, and fits the document', async () => {
    const app = await startApp({ SEND_RATE: '1', SEND_BURST: '3' });
    const check = new OpenApiCheck(await documentOf(app));
    const seen = new Set<string>();
    const call = async (method: string, path: string, user: string | null = 'alice', body?: unknown): Promise<Response> => {
      const headers: Record<string, string> = { ...(user ? { 'X-User': user } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) };
      const res = await app.request(path, { method, headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
      const op = check.operation(method, new URL(path, 'http://x').pathname);
      if (op) seen.add(`${method} ${op.path} ${res.status}`);
      return res;
    };
    const big = { text: 'x', pad: 'x'.repeat(70_000) };
    const dm = encodeURIComponent('dm:bob:carol');

    await call('GET', '/health');
    await call('GET', '/ready');
    await call('GET', '/metrics');
    for (const r of ['/v1/rooms/lobby/messages', '/v1/rooms/lobby/presence', '/v1/rooms/lobby/reads', '/v1/users/bob/presence', '/v1/conversations']) {
      await call('GET', r);
      await call('GET', r, null);
    }
    for (const r of ['messages', 'presence', 'reads']) {
      await call('GET', `/v1/rooms/${dm}/${r}`);
      await call('GET', `/v1/rooms/a%20b/${r}`);
    }
    await call('GET', '/v1/rooms/lobby/messages?limit=0');
    await call('GET', '/v1/users/a%20b/presence');

    for (let i = 0; i < 4; i++) await call('POST', '/v1/rooms/lobby/messages', 'dave', { text: `m${i}` }); // past the burst: 429
    await call('POST', '/v1/rooms/lobby/messages', 'alice', { text: '' });
    await call('POST', '/v1/rooms/lobby/messages', null, { text: 'x' });
    await call('POST', `/v1/rooms/${dm}/messages`, 'alice', { text: 'x' });
    await call('POST', '/v1/rooms/lobby/messages', 'alice', big);

    expect((await call('POST', '/v1/groups', 'alice', { id: 'g1', title: 'G', members: ['bob'] })).status).toBe(201);
    await call('POST', '/v1/groups', 'alice', { id: 'g1' });
    await call('POST', '/v1/groups', 'alice', { id: 'not ok' });
    await call('POST', '/v1/groups', null, {});
    await call('POST', '/v1/groups', 'alice', big);
    for (const user of ['alice', 'carol', null]) await call('GET', '/v1/groups/g1', user);
    await call('GET', '/v1/groups/not%20ok');

    await call('PUT', '/v1/groups/g1/members/carol', 'alice', { role: 'admin' });
    await call('PUT', '/v1/groups/g1/members/alice', 'alice', { role: 'member' }); // the owner's role: 409
    await call('PUT', '/v1/groups/g1/members/dave', 'bob', { role: 'member' }); // a member adds nobody: 403
    await call('PUT', '/v1/groups/g1/members/dave', 'alice', { role: 'owner' });
    await call('PUT', '/v1/groups/g1/members/dave', null, { role: 'member' });
    await call('PUT', '/v1/groups/g1/members/dave', 'alice', big);
    await call('DELETE', '/v1/groups/g1/members/bob', 'carol');
    await call('DELETE', '/v1/groups/g1/members/carol', 'bob');
    await call('DELETE', '/v1/groups/g1/members/alice', 'alice'); // the owner cannot leave: 409
    await call('DELETE', '/v1/groups/g1/members/a%20b', 'alice');
    await call('DELETE', '/v1/groups/g1/members/bob', null);

    breakStores(app);
    for (const [method, path, body] of [
      ['GET', '/v1/rooms/lobby/messages'],
      ['POST', '/v1/rooms/lobby/messages', { text: 'x' }],
      ['GET', '/v1/rooms/lobby/presence'],
      ['GET', '/v1/rooms/lobby/reads'],
      ['GET', '/v1/users/bob/presence'],
      ['GET', '/v1/conversations'],
      ['POST', '/v1/groups', {}],
      ['GET', '/v1/groups/g1'],
      ['PUT', '/v1/groups/g1/members/dave', { role: 'member' }],
      ['DELETE', '/v1/groups/g1/members/carol'],
    ] as [string, string, unknown?][]) {
      await call(method, path, 'alice', body);
    }
    const starting = await startApp({}, { ready: false });
    const notReady = await starting.request('/ready');
    seen.add(`GET /ready ${notReady.status}`);

    expect(listed(await documentOf(app)).filter((s) => !seen.has(s))).toEqual([]);
  });
});

describe('the check against the document', () => {
  it('refuses an undocumented field, an unlisted status and a missing Retry-After', async () => {
    const check = new OpenApiCheck(await documentOf(await startApp()));
    const json = new Headers({ 'Content-Type': 'application/json' });
    expect(check.check('GET', '/health', 200, json, '{"status":"ok","instance":"a"}')).toBeNull();
    expect(check.check('GET', '/health', 200, json, '{"status":"ok","instance":"a","extra":1}')).toMatch(/additional/);
    expect(check.check('GET', '/health', 200, json, '{"status":"ok","instance":7}')).toMatch(/string/);
    expect(check.check('GET', '/health', 418, json, '{}')).toMatch(/does not list/);
    const limited = '{"error":{"code":"rate_limited","message":"slow down"}}';
    expect(check.check('POST', '/v1/rooms/lobby/messages', 429, json, limited)).toMatch(/Retry-After/);
    expect(check.check('POST', '/v1/rooms/lobby/messages', 429, new Headers({ 'Content-Type': 'application/json', 'Retry-After': '1' }), limited)).toBeNull();
    expect(check.check('GET', '/v1/groups/g1', 403, json, '{"error":{"code":"not_found","message":"x"}}')).toMatch(/constant/);
    expect(check.check('PATCH', '/health', 405, json, '{}')).toMatch(/PATCH \/health 405: which is not in the document/);
  });
});
