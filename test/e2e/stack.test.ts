/**
 * The whole topology as processes (infra/stack.ts): 2 chat instances behind 2 HAProxy processes on
 * one port (SO_REUSEPORT) and nginx, on Redis Cluster and the MongoDB-compatible server, with both
 * workers. Chat through the balancer and through nginx, HAProxy's view of the backends, an
 * instance killed, and `down` leaving nothing behind.
 *
 * Ports (infra/stack.ts's scheme from PARLEY_TEST_STACK_PORT, 18600): 18600 balancer, 18601 nginx,
 * 18610-18611 HAProxy stats, 18620-18625 Redis (bus 28620-28625), 18630 MongoDB, 18701-18702
 * instances, 18801/18851 workers.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Endpoints, binary, down, portsFor, status, up } from '../../infra/stack.ts';
import { Client, closeAllClients, eventually, sleep, uid } from './server.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const BASE_PORT = Number(process.env['PARLEY_TEST_STACK_PORT'] ?? 18600);
const dir = mkdtempSync(join(tmpdir(), 'parley-stack-'));
let ep: Endpoints;
/** Every pid of the stack (Redis and MongoDB included), for the final check. */
let pids: number[] = [];

const ws = (httpUrl: string) => `${httpUrl.replace(/^http/, 'ws')}/ws`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => done(true)));
  });
}

beforeAll(async () => {
  ep = await up({
    basePort: BASE_PORT,
    dir,
    instances: 2,
    haproxy: 2,
    nginx: true,
    env: { HEARTBEAT_MS: '5000', LOG_LEVEL: 'warn' },
    workerEnv: { LOG_LEVEL: 'warn' },
  });
  const st = await status({ dir });
  pids = st.processes.map((p) => p.pid).filter((p): p is number => p !== null);
}, 180_000);

afterAll(async () => {
  closeAllClients();
  await down({ dir });
  // PARLEY_TEST_KEEP_STACK=1 keeps the logs (<dir>/logs/) for a look after a failure.
  if (process.env['PARLEY_TEST_KEEP_STACK']) console.log(`stack logs kept in ${dir}/logs`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the whole stack as processes', () => {
  it('writes endpoints.json in the shape DESIGN.md states', () => {
    const file = JSON.parse(readFileSync(join(dir, 'endpoints.json'), 'utf8')) as Record<string, unknown>;
    expect(file).toEqual(ep);
    expect(file['balancer']).toBe(`http://127.0.0.1:${BASE_PORT}`);
    expect(file['instances']).toHaveLength(2);
    for (const i of file['instances'] as Record<string, unknown>[]) {
      expect(i).toMatchObject({ id: expect.any(String), url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), pid: expect.any(Number) });
    }
    expect((file['workers'] as { name: string }[]).map((w) => w.name)).toEqual(['presence-1', 'archive-1']);
    for (const w of file['workers'] as Record<string, unknown>[]) expect(w).toMatchObject({ name: expect.any(String), pid: expect.any(Number) });
    expect(file['haproxy']).toHaveLength(2);
    for (const h of file['haproxy'] as Record<string, unknown>[]) expect(h).toMatchObject({ pid: expect.any(Number) });
    expect(file['redis']).toHaveLength(6);
    for (const n of file['redis'] as unknown[]) expect(n).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(file['mongo']).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+\/$/);
    expect(file['nginx']).toBe(`http://127.0.0.1:${BASE_PORT + 1}`);
  });

  it('status: every process runs and both HAProxy processes see every instance UP', async () => {
    const st = await status({ dir });
    expect(st.present).toBe(true);
    expect(st.processes.filter((p) => !p.alive)).toEqual([]);
    expect(st.processes.map((p) => p.kind).sort()).toEqual(
      ['archive', 'haproxy', 'haproxy', 'instance', 'instance', 'mongo', 'nginx', 'presence', ...Array(6).fill('redis')].sort(),
    );
    expect(st.haproxy).toHaveLength(2);
    for (const h of st.haproxy) {
      expect(h.error).toBeUndefined();
      expect(h.servers.map((s) => [s.name, s.status])).toEqual(ep.instances.map((i) => [i.id, 'UP']));
    }
    expect(st.healthy).toBe(true);
    // Each process has its own stats page.
    for (const [h] of ep.haproxy.entries()) {
      const res = await fetch(`http://127.0.0.1:${portsFor(BASE_PORT).stats(h)}/stats;csv`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^chat,chat-1,/m);
    }
  });

  it('chat through the balancer: two users, a message delivered', async () => {
    const room = uid('room');
    const alice = await Client.connect(ws(ep.balancer), { user: uid('alice') });
    const bob = await Client.connect(ws(ep.balancer), { user: uid('bob') });
    const ids = ep.instances.map((i) => i.id);
    for (const c of [alice, bob]) expect(ids).toContain((c.hello as { instance: string }).instance);
    await alice.join(room);
    await bob.join(room);
    const ack = await alice.post(room, 'hello through haproxy', 'c1');
    const msg = await bob.nextOf('message', (m) => m.room === room);
    expect(msg).toMatchObject({ text: 'hello through haproxy', seq: ack.seq });
    // leastconn spreads connections: a few more land on both instances.
    const more = await Promise.all([1, 2, 3, 4].map(() => Client.connect(ws(ep.balancer), { user: uid('u') })));
    const seen = new Set([alice, bob, ...more].map((c) => (c.hello as { instance: string }).instance));
    expect(seen.size).toBe(2);
    closeAllClients();
  });

  it('REST and WebSocket through nginx', async () => {
    const nginx = ep.nginx as string;
    const health = await fetch(`${nginx}/health`);
    expect(health.status).toBe(200);
    const room = uid('room');
    const carol = await Client.connect(ws(nginx), { user: uid('carol') });
    await carol.join(room);
    const res = await fetch(`${nginx}/v1/rooms/${room}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user': uid('dave') },
      body: JSON.stringify({ text: 'over rest via nginx', cid: 'r1' }),
    });
    expect(res.status).toBe(201);
    const posted = (await res.json()) as { seq: number };
    const msg = await carol.nextOf('message', (m) => m.room === room);
    expect(msg).toMatchObject({ text: 'over rest via nginx', seq: posted.seq });
    const page = await fetch(`${nginx}/v1/rooms/${room}/messages`, { headers: { 'x-user': 'carol-reader' } });
    expect(page.status).toBe(200);
    expect(((await page.json()) as { messages: { text: string }[] }).messages.map((m) => m.text)).toEqual(['over rest via nginx']);
    await carol.heartbeat();
    closeAllClients();
  });

  it('the committed configs pass haproxy -c and nginx -t', async () => {
    const check = join(dir, 'check');
    mkdirSync(join(check, 'logs'), { recursive: true });
    mkdirSync(join(check, 'temp'), { recursive: true });
    const servers = join(check, 'servers.cfg');
    writeFileSync(servers, 'backend chat\n    server a 127.0.0.1:1\n    server b 127.0.0.1:2\n');
    const hp = await run(binary('haproxy'), ['-c', '-f', join(ROOT, 'infra/haproxy/haproxy.cfg'), '-f', servers], {
      env: { ...process.env, PARLEY_HAPROXY_SOCKET: join(check, 'h.sock') },
    });
    expect(hp.stdout).toMatch(/Configuration file is valid/);
    const ng = await run(binary('nginx'), ['-t', '-p', `${check}/`, '-c', join(ROOT, 'infra/nginx/nginx.conf'), '-e', 'stderr']);
    expect(ng.stderr).toMatch(/test is successful/);
  });

  it('an instance killed with SIGKILL: both HAProxy processes mark it DOWN within ~3 s, new connections still succeed', async () => {
    const [victim, survivor] = ep.instances as [Endpoints['instances'][0], Endpoints['instances'][0]];
    process.kill(victim.pid, 'SIGKILL');
    const t0 = Date.now();
    // Right away (before any check noticed), connections go through: a refused connect is redispatched.
    const early = await Promise.all([1, 2, 3, 4].map(() => Client.connect(ws(ep.balancer), { user: uid('early') })));
    for (const c of early) expect((c.hello as { instance: string }).instance).toBe(survivor.id);
    await eventually(async () => {
      const st = await status({ dir });
      for (const h of st.haproxy) expect(h.servers.find((s) => s.name === victim.id)?.status).toMatch(/^DOWN/);
    }, 5000, 100);
    const elapsed = Date.now() - t0;
    console.log(`instance killed: marked DOWN by both HAProxy processes after ${elapsed} ms`);
    expect(elapsed).toBeLessThan(3500);
    const st = await status({ dir });
    expect(st.processes.find((p) => p.name === victim.id)?.alive).toBe(false);
    expect(st.healthy).toBe(false);
    const after = await Promise.all([1, 2, 3, 4].map(() => Client.connect(ws(ep.balancer), { user: uid('after') })));
    for (const c of after) expect((c.hello as { instance: string }).instance).toBe(survivor.id);
    closeAllClients();
  }, 30_000);

  it('down stops every process of the stack and frees its ports; a second down is harmless', async () => {
    expect(pids.length).toBe(2 + 2 + 2 + 1 + 6 + 1);
    await down({ dir });
    await eventually(() => expect(pids.filter(alive)).toEqual([]), 5000, 100);
    const p = portsFor(BASE_PORT);
    const ports = [
      p.balancer, p.nginx, p.stats(0), p.stats(1), p.mongo, p.instance(1), p.instance(2), p.presence(1), p.archive(1),
      ...[0, 1, 2, 3, 4, 5].flatMap((k) => [p.redis + k, p.redis + k + 10_000]),
    ];
    await eventually(async () => {
      const busy: number[] = [];
      for (const port of ports) if (!(await portFree(port))) busy.push(port);
      expect(busy).toEqual([]);
    }, 5000, 100);
    expect((await status({ dir })).present).toBe(false);
    await down({ dir });
    await sleep(10);
  }, 60_000);
});
