/**
 * How the entry points listen: the Node one with LISTEN_BACKLOG (the kernel shows a listening
 * socket's backlog as its Send-Q, `ss -ltn`), and both with a second port for the operations routes
 * when OPS_PORT is set.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Server, freePort, startServer } from './server.ts';

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
});

/** The accept backlog of the socket listening on `port`, as the kernel reports it. */
function backlogOf(port: number): number {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' }).trim();
  const fields = out.split(/\s+/);
  expect(fields[0], out).toBe('LISTEN');
  return Number(fields[2]);
}

describe('listen backlog (node)', () => {
  it('is LISTEN_BACKLOG, and 4096 by default, past Node’s 511', async () => {
    const [a, b] = await Promise.all([startServer('node', { LISTEN_BACKLOG: '1000' }), startServer('node')]);
    servers.push(a as Server, b as Server);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(backlogOf(Number(new URL((a as Server).url).port))).toBe(Math.min(1000, somaxconn));
    expect(backlogOf(Number(new URL((b as Server).url).port))).toBe(Math.min(4096, somaxconn));
  });
});

describe.each(['node', 'deno'] as const)('operations port (%s)', (runtime) => {
  it('answers /health, /ready and /metrics on OPS_PORT, and nothing else there', async () => {
    const opsPort = await freePort();
    const server = await startServer(runtime, { OPS_PORT: String(opsPort), INSTANCE_ID: 'ops-1' });
    servers.push(server);
    const ops = `http://127.0.0.1:${opsPort}`;
    expect(await (await fetch(`${ops}/health`)).json()).toEqual({ status: 'ok', instance: 'ops-1' });
    expect(await (await fetch(`${ops}/ready`)).json()).toEqual({ status: 'ready' });
    expect(await (await fetch(`${ops}/metrics`)).text()).toContain('parley_connections');
    for (const path of ['/v1/rooms/lobby/messages', '/ws', '/openapi.json', '/']) {
      const res = await fetch(`${ops}${path}`, { headers: { 'X-User': 'ann' } });
      expect(res.status, path).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    // The main port still answers everything.
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/rooms/lobby/messages`, { headers: { 'X-User': 'ann' } })).status).toBe(200);
  });
});
