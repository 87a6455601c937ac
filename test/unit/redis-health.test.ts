/**
 * The Redis Cluster health watch behind `/ready`: an instance leaves the balancer only when the
 * cluster stops answering, not when one ping round is late on a busy machine.
 */
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { watchHealth } from '../../src/redis/connection.ts';

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

/** Three masters whose pings answer after `delayMs()` (drawn once per round; null: never). */
function fakeCluster(delayMs: () => number | null) {
  const master = (d: number | null) => ({
    ping: () => new Promise<string>((resolve) => void (d !== null && setTimeout(() => resolve('PONG'), d))),
  });
  return {
    status: 'ready' as const,
    nodes: () => {
      const d = delayMs();
      return [master(d), master(d), master(d)];
    },
  };
}

it('stays ready while the masters answer, even seconds late', async () => {
  const delays = [10, 1500, 10, 1900, 1900, 1900, 10, 10];
  const watch = watchHealth(fakeCluster(() => delays.shift() ?? 10), 1000, 3000);
  const seen: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    await vi.advanceTimersByTimeAsync(1000);
    seen.push(watch.healthy());
  }
  expect(seen.every(Boolean)).toBe(true);
  watch.stop();
});

it('reports unhealthy once the masters did not answer for 3 s, and healthy again after one good round', async () => {
  let down = false;
  const watch = watchHealth(fakeCluster(() => (down ? null : 10)), 1000, 3000);
  await vi.advanceTimersByTimeAsync(2000);
  expect(watch.healthy()).toBe(true);
  down = true;
  const seen: boolean[] = [];
  for (let i = 0; i < 5; i++) {
    await vi.advanceTimersByTimeAsync(1000);
    seen.push(watch.healthy());
  }
  // The last good round started at 2 s: unhealthy from 5 s on.
  expect(seen).toEqual([true, true, false, false, false]);
  down = false;
  await vi.advanceTimersByTimeAsync(3000);
  expect(watch.healthy()).toBe(true);
  watch.stop();
});
