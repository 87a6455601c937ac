/** Paging over a gapless log, shared by every room log implementation. */
import type { Message } from '@parley/client/wire';
import type { ReadQuery } from './types.ts';

/** A new random epoch: 12 base-36 characters. */
export function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n.toString(36).padStart(12, '0').slice(-12);
}

/**
 * Which seq range a query asks for, given the latest seq and the oldest seq still held, and the
 * page read by `slice(from, to)` (inclusive seqs, both held). `hasMore` speaks of what this log
 * still holds: messages older than `oldest` are the archive's business.
 */
export function pageOf(
  head: number,
  oldest: number,
  query: ReadQuery,
  slice: (from: number, to: number) => Message[],
): { messages: Message[]; hasMore: boolean } {
  const lower = Math.max(query.after ?? 0, oldest - 1); // exclusive
  const upper = Math.min(query.before ?? head + 1, head + 1); // exclusive
  if (upper - lower <= 1) return { messages: [], hasMore: false };
  if (query.after !== undefined && query.before === undefined) {
    const to = Math.min(upper - 1, lower + query.limit);
    return { messages: slice(lower + 1, to), hasMore: to < head };
  }
  const from = Math.max(lower + 1, upper - query.limit);
  return { messages: slice(from, upper - 1), hasMore: from > lower + 1 };
}
