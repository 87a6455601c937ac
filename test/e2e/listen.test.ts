/**
 * The Node entry point listens with LISTEN_BACKLOG: the kernel shows a listening socket's backlog
 * as its Send-Q (`ss -ltn`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Server, startServer } from './server.ts';

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
