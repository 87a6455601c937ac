/**
 * Load shedding through the balancer (infra/stack.ts with 2 instances of MAX_CONNECTIONS=50): the
 * instances take what they may and no more, report `full`, HAProxy stops sending to them, a client
 * past capacity gets 503 with Retry-After (from an instance or from the balancer), and capacity
 * that frees up is used again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { down, up } from '../../infra/stack.ts';
import { type Client, UpgradeRefused, closeAllClients, connect, eventually } from './server.ts';

const BASE_PORT = Number(process.env['PARLEY_TEST_SHEDDING_PORT'] ?? 19500);
const DIR = `.stack-test-${BASE_PORT}`;
const MAX = 50;

afterAll(async () => {
  closeAllClients();
  await down({ dir: DIR, basePort: BASE_PORT });
});

describe('load shedding through the balancer', () => {
  it('fills every instance up to MAX_CONNECTIONS, answers 503 with Retry-After past it, and takes clients again once there is room', async () => {
    const ep = await up({ instances: 2, haproxy: 1, presence: 0, archive: 0, basePort: BASE_PORT, dir: DIR, env: { MAX_CONNECTIONS: String(MAX), LOG_LEVEL: 'warn' } });
    const server = { wsUrl: `${ep.balancer.replace(/^http/, 'ws')}/ws` } as never;
    const open: Client[] = [];
    const refused: UpgradeRefused[] = [];
    for (let i = 0; i < 2 * MAX + 30; i++) {
      try {
        open.push(await connect(server, `shed-${i}`));
      } catch (err) {
        if (!(err instanceof UpgradeRefused)) throw err;
        refused.push(err);
      }
    }
    const perInstance = new Map<string, number>();
    for (const c of open) {
      const id = (c.hello as { instance: string }).instance;
      perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
    }
    expect(Object.fromEntries(perInstance)).toEqual(Object.fromEntries(ep.instances.map((i) => [i.id, MAX])));
    expect(refused.length).toBe(30);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
    }
    for (const i of ep.instances) {
      const r = await fetch(`${i.url}/ready`);
      expect([r.status, await r.json()]).toEqual([503, { status: 'full' }]);
    }

    // Room again on one instance: the balancer sends new clients there once its check sees it.
    await Promise.all(open.splice(0, 5).map((c) => c.close()));
    const back = await eventually(() => connect(server, 'shed-again'), 10_000, 200);
    expect(back.hello).toMatchObject({ type: 'hello' });
  }, 120_000);
});
