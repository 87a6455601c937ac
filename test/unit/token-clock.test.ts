/** `TokenClock`: told once when the token expires, closed after the grace, one timer per socket. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Conn } from '../../src/realtime/conn.ts';
import { TokenClock } from '../../src/realtime/token-clock.ts';

type Fake = Pick<Conn, 'closed' | 'expiresAt' | 'expiry'>;
const conn = (): Fake => ({ closed: false, expiresAt: 0, expiry: undefined });

describe('TokenClock', () => {
  let told: Fake[];
  let closed: Fake[];
  let clock: TokenClock;
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000_000_000 });
    told = [];
    closed = [];
    clock = new TokenClock({ graceMs: 60_000, onExpired: (c) => told.push(c), onGraceOver: (c) => closed.push(c) });
  });
  afterEach(() => vi.useRealTimers());
  const nowS = () => Math.floor(Date.now() / 1000);

  it('tells the socket at exp, and closes it when the grace is over', () => {
    const c = conn();
    clock.arm(c as Conn, nowS() + 10);
    vi.advanceTimersByTime(9_999);
    expect(told).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(told).toEqual([c]);
    vi.advanceTimersByTime(59_999);
    expect(closed).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(closed).toEqual([c]);
    expect(told).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a fresh token within the grace keeps the socket: the clock restarts from the new exp', () => {
    const c = conn();
    clock.arm(c as Conn, nowS() + 10);
    vi.advanceTimersByTime(30_000);
    expect(told).toHaveLength(1);
    clock.arm(c as Conn, nowS() + 3600);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(3_599_000);
    expect(closed).toEqual([]);
    expect(told).toHaveLength(1);
  });

  it('never fires for a token without exp, nor after disarm (close), nor for a closed socket', () => {
    const [a, b, d] = [conn(), conn(), conn()];
    clock.arm(a as Conn, undefined);
    clock.arm(b as Conn, nowS() + 5);
    clock.arm(d as Conn, nowS() + 5);
    clock.disarm(b as Conn);
    d.closed = true;
    vi.advanceTimersByTime(120_000);
    expect([told, closed]).toEqual([[], []]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for an exp beyond setTimeout\'s range instead of firing at once', () => {
    const c = conn();
    clock.arm(c as Conn, nowS() + 60 * 86_400); // 60 days
    vi.advanceTimersByTime(2 ** 31);
    expect(told).toEqual([]);
    vi.advanceTimersByTime(60 * 86_400_000 - 2 ** 31);
    expect(told).toEqual([c]);
  });
});
