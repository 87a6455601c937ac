/**
 * Rate limits (src/chat/rate-limit.ts): a user may send a burst, is then refused and told how long
 * to wait, and gets tokens back at the configured rate. The clock is injected.
 */
import { describe, expect, it } from 'vitest';
import { take, UserRateLimit } from '../../src/chat/rate-limit.ts';

describe('take (a bucket in plain fields)', () => {
  const bucket = (tokens: number, at = 0) => ({ tokens, at });

  it('allows the burst at once, then refuses', () => {
    const b = bucket(3);
    expect([1, 2, 3, 4, 5].map(() => take(b, 'tokens', 'at', 1, 3, 0))).toEqual([true, true, true, false, false]);
  });

  it('gives tokens back at the rate per second, never more than the burst', () => {
    const b = bucket(0);
    expect(take(b, 'tokens', 'at', 2, 3, 499)).toBe(false); // 0.998 tokens
    expect(take(b, 'tokens', 'at', 2, 3, 500)).toBe(true); // 1 token after 500 ms at 2/s
    expect(take(b, 'tokens', 'at', 2, 3, 500)).toBe(false);
    // An hour idle fills the bucket to the burst only.
    const hour = 500 + 3_600_000;
    expect([1, 2, 3, 4].map(() => take(b, 'tokens', 'at', 2, 3, hour))).toEqual([true, true, true, false]);
  });

  it('does not lose what refilled while refused', () => {
    const b = bucket(0);
    const at = [0, 250, 500, 750].map((t) => take(b, 'tokens', 'at', 1, 1, t));
    expect(at).toEqual([false, false, false, false]);
    expect(take(b, 'tokens', 'at', 1, 1, 1000)).toBe(true); // 1 s after empty, however often it asked
  });

  it('works on any two numeric fields of the owner', () => {
    const conn = { sendTokens: 1, sendAt: 0, typingTokens: 0, typingAt: 0 };
    expect(take(conn, 'sendTokens', 'sendAt', 1, 1, 0)).toBe(true);
    expect(conn).toEqual({ sendTokens: 0, sendAt: 0, typingTokens: 0, typingAt: 0 });
  });
});

/**
 * The keys any Map forgets while `fn` runs: the limiter's buckets are private, and the sweep is
 * the only thing that deletes from them. (A plain wrapper: a spy recording 100,000 calls is slow.)
 */
function deletedKeys(fn: () => void): unknown[] {
  const keys: unknown[] = [];
  const original = Map.prototype.delete;
  Map.prototype.delete = function (this: Map<unknown, unknown>, key: unknown) {
    keys.push(key);
    return original.call(this, key);
  };
  try {
    fn();
  } finally {
    Map.prototype.delete = original;
  }
  return keys;
}

describe('UserRateLimit (per user, for REST)', () => {
  function limiter(rate: number, burst: number) {
    const clock = { now: 1_000_000 };
    return { limit: new UserRateLimit(rate, burst, () => clock.now), clock };
  }

  it('allows a new user the burst, then answers how many ms until the next token', () => {
    const { limit, clock } = limiter(2, 3);
    expect([1, 2, 3].map(() => limit.take('alice'))).toEqual([0, 0, 0]);
    expect(limit.take('alice')).toBe(500);
    clock.now += 200;
    expect(limit.take('alice')).toBe(300);
    clock.now += 300;
    expect(limit.take('alice')).toBe(0);
    expect(limit.take('alice')).toBe(500);
  });

  it('limits each user on their own', () => {
    const { limit } = limiter(1, 2);
    expect([limit.take('alice'), limit.take('alice'), limit.take('alice')]).toEqual([0, 0, 1000]);
    expect([limit.take('bob'), limit.take('bob'), limit.take('bob')]).toEqual([0, 0, 1000]);
  });

  it.each([0.5, 1, 3, 7, 10, 33])('at %d/s, waiting the time it answers is always enough', (rate) => {
    const { limit, clock } = limiter(rate, 1);
    limit.take('alice');
    for (let i = 0; i < 200; i++) {
      clock.now += (i * 37) % 101; // asking again at uneven times
      const wait = limit.take('alice');
      if (wait === 0) continue;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(Math.ceil(1000 / rate));
      clock.now += wait;
      expect(limit.take('alice')).toBe(0);
    }
  });

  it('forgets users whose bucket is full again once past 100,000 users, and no one else', () => {
    const { limit, clock } = limiter(1, 2); // a bucket is full 2 s after it was last used, whatever it held
    for (let i = 0; i < 99_999; i++) limit.take(`idle-${i}`);
    clock.now += 1_500;
    expect([limit.take('busy'), limit.take('busy'), limit.take('busy')]).toEqual([0, 0, 1000]); // the 100,000th user
    clock.now += 500; // the idle buckets are full; busy's holds half a token

    const forgotten = deletedKeys(() => expect(limit.take('newcomer')).toBe(0)); // the 100,001st user: the sweep runs
    expect(forgotten).toHaveLength(99_999);
    expect(forgotten.every((k) => typeof k === 'string' && k.startsWith('idle-'))).toBe(true);

    // Busy was kept with its half token: not a fresh burst.
    expect(limit.take('busy')).toBe(500);
    // A forgotten user starts again with a full bucket, as it had.
    expect([limit.take('idle-7'), limit.take('idle-7'), limit.take('idle-7')]).toEqual([0, 0, 1000]);
  });

  it('does not sweep below 100,000 users', () => {
    const { limit, clock } = limiter(1, 1);
    for (let i = 0; i < 99_999; i++) limit.take(`idle-${i}`);
    clock.now += 60_000;
    expect(deletedKeys(() => limit.take('the-100000th'))).toEqual([]);
  });
});
