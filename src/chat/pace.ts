/**
 * Spreading periodic work over time, so that a round over every connection does not arrive at Redis
 * (and at the event loop) as one burst in front of the messages.
 */

/**
 * Calls `fn` on consecutive slices of at most `sliceSize` items, the slices evenly spaced over
 * `spreadMs` (the first at once, the last at most `spreadMs` later). Stops before the next slice once
 * `stopped()` is true. A failing slice rejects, and the rest are not run.
 */
export async function paced<T>(
  items: readonly T[],
  sliceSize: number,
  spreadMs: number,
  fn: (slice: T[]) => Promise<void>,
  stopped: () => boolean = () => false,
): Promise<void> {
  const slices = Math.ceil(items.length / sliceSize);
  const gapMs = slices > 1 ? spreadMs / (slices - 1) : 0;
  for (let i = 0; i < slices; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    if (stopped()) return;
    await fn(items.slice(i * sliceSize, (i + 1) * sliceSize));
  }
}
