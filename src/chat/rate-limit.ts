/** Token buckets stored in plain numeric fields of their owner, so they cost no allocation. */

/**
 * Takes one token from the bucket in `obj[tokens]` (refilled at `rate` per second up to `burst`,
 * last updated at `obj[at]`); false when the bucket is empty.
 */
export function take<K extends string, A extends string>(
  obj: Record<K | A, number>,
  tokens: K,
  at: A,
  rate: number,
  burst: number,
  now: number,
): boolean {
  const refilled = Math.min(burst, obj[tokens] + ((now - obj[at]) * rate) / 1000);
  obj[at] = now;
  if (refilled < 1) {
    obj[tokens] = refilled;
    return false;
  }
  obj[tokens] = refilled - 1;
  return true;
}

/** Per-user token buckets for REST, forgotten once full again. */
export class UserRateLimit {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly now: () => number = Date.now,
  ) {}

  /** Takes a token for `user`: 0 when allowed, else the milliseconds until one is available. */
  take(user: string): number {
    const now = this.now();
    let b = this.#buckets.get(user);
    if (!b) {
      if (this.#buckets.size >= 100_000) this.#sweep(now);
      this.#buckets.set(user, (b = { tokens: this.burst, at: now }));
    }
    if (take(b, 'tokens', 'at', this.rate, this.burst, now)) return 0;
    return Math.ceil(((1 - b.tokens) * 1000) / this.rate);
  }

  #sweep(now: number): void {
    const full = (this.burst * 1000) / this.rate;
    for (const [user, b] of this.#buckets) if (now - b.at >= full) this.#buckets.delete(user);
  }
}
