import { afterEach, describe, expect, it, vi } from 'vitest';
import { paced } from '../../src/chat/pace.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('paced', () => {
  it('runs every item once, in slices spread evenly over the time given', async () => {
    vi.useFakeTimers();
    const items = Array.from({ length: 250 }, (_, i) => i);
    const calls: { at: number; slice: number[] }[] = [];
    const t0 = Date.now();
    const done = paced(items, 100, 1000, async (slice) => {
      calls.push({ at: Date.now() - t0, slice });
    });
    await vi.runAllTimersAsync();
    await done;
    expect(calls.map((c) => c.slice.length)).toEqual([100, 100, 50]);
    expect(calls.flatMap((c) => c.slice)).toEqual(items);
    expect(calls.map((c) => c.at)).toEqual([0, 500, 1000]);
  });

  it('runs a single slice at once, and nothing for no items', async () => {
    const seen: number[][] = [];
    await paced([1, 2, 3], 100, 60_000, async (slice) => void seen.push(slice));
    await paced([], 100, 60_000, async (slice) => void seen.push(slice));
    expect(seen).toEqual([[1, 2, 3]]);
  });

  it('stops before the next slice once stopped, and stops at a failing slice', async () => {
    vi.useFakeTimers();
    let stop = false;
    const seen: number[] = [];
    const done = paced([1, 2, 3, 4], 1, 300, async (slice) => {
      seen.push(...slice);
      if (slice[0] === 2) stop = true;
    }, () => stop);
    await vi.runAllTimersAsync();
    await done;
    expect(seen).toEqual([1, 2]);

    vi.useRealTimers();
    const failing = paced([1, 2, 3], 1, 0, async (slice) => {
      if (slice[0] === 2) throw new Error('redis down');
      seen.push(...slice);
    });
    await expect(failing).rejects.toThrow('redis down');
    expect(seen).toEqual([1, 2, 1]);
  });
});
