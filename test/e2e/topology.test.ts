/**
 * The whole topology under load (infra/stack.ts: HAProxy, 3 chat instances, Redis Cluster,
 * MongoDB-compatible server, workers): 2,000 typed clients in 40 rooms send steadily while one
 * instance is killed (`kill -9`) or stopped (SIGTERM). Every client must be back and resumed within
 * 10 s, and every client's view of every room must end gapless, without duplicates and with every
 * acknowledged message. The figures (reconnect p50/p99, messages lost) are printed.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Endpoints, down, haproxyCommand, up } from '../../infra/stack.ts';
import { ChatLoad, percentile } from './load.ts';
import { type Client, closeAllClients, connect, eventually, rest, sleep } from './server.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_TOPOLOGY_PORT'] ?? 19000);
const DIR = `.stack-test-${BASE_PORT}`;
const HEARTBEAT_MS = 2000;
const CLIENTS = Number(process.env['PARLEY_TEST_TOPOLOGY_CLIENTS'] ?? 2000);

let stack: Endpoints | undefined;
let load: ChatLoad | undefined;

afterEach(async () => {
  load?.close();
  load = undefined;
  closeAllClients();
  await down({ dir: DIR, basePort: BASE_PORT });
  stack = undefined;
});

afterAll(async () => {
  await down({ dir: DIR, basePort: BASE_PORT });
});

async function startStack(): Promise<Endpoints> {
  stack = await up({
    instances: 3,
    haproxy: 1,
    basePort: BASE_PORT,
    dir: DIR,
    env: { HEARTBEAT_MS: String(HEARTBEAT_MS), LOG_LEVEL: 'warn', SEND_RATE: '1000', SEND_BURST: '1000' },
  });
  return stack;
}

/** `show stat` of the first HAProxy process, as name → {status, stot (sessions ever), scur}. */
async function servers(ep: Endpoints): Promise<Map<string, { status: string; stot: number; scur: number }>> {
  const lines = (await haproxyCommand(ep.haproxy[0]?.socket ?? '', 'show stat')).split('\n').filter((l) => l.trim());
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const at = (f: string[], name: string) => f[header.indexOf(name)] ?? '';
  const out = new Map<string, { status: string; stot: number; scur: number }>();
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (at(f, 'pxname') !== 'chat' || ['FRONTEND', 'BACKEND'].includes(at(f, 'svname'))) continue;
    out.set(at(f, 'svname'), { status: at(f, 'status'), stot: Number(at(f, 'stot')), scur: Number(at(f, 'scur')) });
  }
  return out;
}

/** Bare sockets (no reconnect) through the balancer, kept until `n` of them landed on `instance`. */
async function socketsOn(ep: Endpoints, instance: string, n: number, prefix: string): Promise<Client[]> {
  const wsUrl = `${ep.balancer.replace(/^http/, 'ws')}/ws`;
  const kept: Client[] = [];
  // The others stay open until the end: with `leastconn`, closing them would keep the balancer
  // away from the instance that holds the kept ones.
  const others: Client[] = [];
  for (let i = 0; kept.length < n && i < 20 * n; i++) {
    const c = await connect({ wsUrl } as never, `${prefix}-${i}`);
    const hello = c.hello as { instance?: string };
    (hello.instance === instance ? kept : others).push(c);
  }
  await Promise.all(others.map((c) => c.close()));
  return kept;
}

function startLoad(ep: Endpoints, prefix: string): ChatLoad {
  return new ChatLoad({ url: ep.balancer, clients: CLIENTS, rooms: 40, roomsPerClient: 2, rate: 100, heartbeatMs: HEARTBEAT_MS, prefix });
}

/** Reconnect times (ms from `since` to resumed) of the clients that were on `instance`. */
function reconnectTimes(l: ChatLoad, victims: Set<string>, since: number): { times: number[]; notBack: string[] } {
  const times: number[] = [];
  const notBack: string[] = [];
  for (const u of l.users) {
    if (!victims.has(u.user)) continue;
    const back = u.resumedAt.find((t) => t >= since);
    if (back === undefined) notBack.push(u.user);
    else times.push(back - since);
  }
  return { times, notBack };
}

describe('topology under load', () => {
  it('kill -9 of an instance: every client back and resumed within 10 s, nothing lost, presence right within 2 heartbeats', async () => {
    const ep = await startStack();
    const victim = ep.instances[0];
    if (!victim) throw new Error('no instance');
    load = startLoad(ep, `k${Date.now().toString(36)}`);
    await load.connect();
    const onVictim = new Set(load.users.filter((u) => u.instance === victim.id).map((u) => u.user));
    expect(onVictim.size).toBeGreaterThan(CLIENTS / 6);
    // Users that will not come back: their presence must turn offline by itself.
    const gone = await socketsOn(ep, victim.id, 10, `gone${Date.now().toString(36)}`);
    expect(gone.length).toBe(10);
    load.startSending();
    await sleep(5000);

    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');
    // Presence of the users that did not come back: offline within two heartbeat intervals
    // (watched while the others reconnect).
    const offline = eventually(async () => {
      for (const c of gone) {
        const u = (c.hello as { user: string }).user;
        const r = await rest({ url: ep.balancer } as never, 'GET', `/v1/users/${u}/presence`, { user: 'observer' });
        expect(r.json['status'], u).toBe('offline');
      }
      return Date.now();
    }, 2 * HEARTBEAT_MS + 2000, 100);
    await eventually(() => expect(reconnectTimes(load as ChatLoad, onVictim, killedAt).notBack).toEqual([]), 15_000, 100);
    const offlineAfter = (await offline) - killedAt;
    await sleep(5000);
    await load.stopSending();
    await load.settle();

    const { times } = reconnectTimes(load, onVictim, killedAt);
    const problems = load.verify();
    const lost = problems.length;
    console.log(
      `kill -9 of ${victim.id} with ${CLIENTS} clients (${onVictim.size} on it), ${load.stats.acked} messages acked: ` +
        `reconnect and resume p50 ${percentile(times, 50)} ms, p99 ${percentile(times, 99)} ms, max ${percentile(times, 100)} ms; ` +
        `views with a missing or repeated message: ${lost}; sends failed: ${load.stats.failed}; ` +
        `users that did not come back offline after ${offlineAfter} ms`,
    );
    expect(problems.slice(0, 10)).toEqual([]);
    expect(load.stats.failed).toBe(0);
    expect(percentile(times, 100)).toBeLessThan(10_000);
    // Nobody else was disturbed.
    expect(load.users.filter((u) => !onVictim.has(u.user) && u.closes.length > 0).map((u) => u.user)).toEqual([]);
  }, 240_000);

  it('SIGTERM of an instance: clients see only 1012, HAProxy sends it nothing once its check saw 503, nothing lost', async () => {
    const ep = await startStack();
    const victim = ep.instances[0];
    if (!victim) throw new Error('no instance');
    load = startLoad(ep, `t${Date.now().toString(36)}`);
    await load.connect();
    const onVictim = new Set(load.users.filter((u) => u.instance === victim.id).map((u) => u.user));
    load.startSending();
    await sleep(5000);

    const signalledAt = Date.now();
    process.kill(victim.pid, 'SIGTERM');
    let readyOffAt = 0;
    let downAt = 0;
    let stotAtDown = 0;
    await eventually(async () => {
      if (!readyOffAt && (await fetch(`${victim.url}/ready`).then((r) => r.status, () => 0)) === 503) readyOffAt = Date.now();
      const s = (await servers(ep)).get(victim.id);
      expect(s?.status).toMatch(/^(DOWN|MAINT)/);
      downAt = Date.now();
      stotAtDown = s?.stot ?? 0;
    }, 10_000, 20);
    await eventually(() => expect(reconnectTimes(load as ChatLoad, onVictim, signalledAt).notBack).toEqual([]), 20_000, 100);
    await sleep(3000);
    await load.stopSending();
    await load.settle();
    const after = (await servers(ep)).get(victim.id);

    const { times } = reconnectTimes(load, onVictim, signalledAt);
    const codes = new Map<number, number>();
    for (const u of load.users) for (const c of u.closes) codes.set(c.code, (codes.get(c.code) ?? 0) + 1);
    const errors = load.users.flatMap((u) => u.errors.map((e) => `${u.user}: ${e}`));
    console.log(
      `SIGTERM of ${victim.id} with ${CLIENTS} clients (${onVictim.size} on it): /ready 503 after ${readyOffAt - signalledAt} ms, ` +
        `HAProxy DOWN after ${downAt - signalledAt} ms; closes by code ${JSON.stringify(Object.fromEntries(codes))}; ` +
        `back and resumed p50 ${percentile(times, 50)} ms, p99 ${percentile(times, 99)} ms (from the signal; the grace period is 2 s); ` +
        `connections sent to it after HAProxy saw it DOWN: ${(after?.stot ?? 0) - stotAtDown}`,
    );
    expect([...codes.keys()]).toEqual([1012]);
    expect(errors.slice(0, 10)).toEqual([]);
    expect(load.verify().slice(0, 10)).toEqual([]);
    expect(load.stats.failed).toBe(0);
    expect(after?.stot).toBe(stotAtDown);
  }, 240_000);
});
