/**
 * Reconnect policy from docs/protocol.md: which close codes end the session, and the backoff formula.
 */
import { CLOSE } from './wire.ts';

/** Close codes after which the client stops instead of reconnecting (docs/protocol.md close table). */
export const STOP_CODES: ReadonlySet<number> = new Set([CLOSE.normal, CLOSE.policy, CLOSE.tooLarge]);

/**
 * Whether a close with `code` should be followed by a reconnect. Everything but the stop codes
 * reconnects: 1011/1012/1013/4000/4008 by the table, and 1006 (abnormal: network loss, or an upgrade
 * that was refused, which a browser cannot tell apart) plus codes the table does not name, since
 * backoff bounds the cost of being wrong.
 */
export function shouldReconnect(code: number): boolean {
  return !STOP_CODES.has(code);
}

export const BACKOFF = {
  baseMs: 500,
  capMs: 30_000,
  jitterMs: 1000,
} as const;

/**
 * Delay before reconnect number `attempt` (0 for the first):
 * `min(30 s, 500 ms · 2^attempt) + random(0..1000 ms)`. `random` returns a number in [0, 1).
 */
export function backoffDelay(attempt: number, random: () => number): number {
  // Capping the exponent keeps 2^attempt finite however long the outage lasts.
  const exp = Math.min(BACKOFF.baseMs * 2 ** Math.min(attempt, 32), BACKOFF.capMs);
  return exp + Math.floor(random() * BACKOFF.jitterMs);
}
