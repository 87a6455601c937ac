/**
 * The presence event streams: one entry per online/offline transition of a user, written by the
 * chat instances (`RedisPresence`, src/presence/redis.ts) and read by the presence worker
 * (workers/presence-job.ts). A `StreamCodec` (see `codec.ts`).
 *
 * - Streams `parley:presence:{p<n>}`, n < `PARTITIONS`, each on its own slot. All events of one
 *   user go to one partition (`partitionOf`), so that they stay in order.
 * - Entry `user <name> status online|offline ts <ms>`: `ts` is the transition's time as stamped by
 *   the presence scripts (a positive integer, strictly increasing per user).
 */
import type { PresenceStatus } from '@parley/client/wire';
import { fnv1a } from '../hash.ts';

/** Stream partitions; the presence worker reads each with a consumer group. */
export const PARTITIONS = 8;

/** The stream of one partition. */
export function streamKey(partition: number): string {
  return `parley:presence:{p${partition}}`;
}

/** Every partition's stream, in partition order. */
export const STREAMS: readonly string[] = Array.from({ length: PARTITIONS }, (_, p) => streamKey(p));

/** The partition of a user's events: one user's events stay in order. */
export function partitionOf(user: string): number {
  return fnv1a(user) % PARTITIONS;
}

/** The stream of a user's events. */
export function streamOf(user: string): string {
  return streamKey(partitionOf(user));
}

/** The entry's field names. */
export const FIELD = { user: 'user', status: 'status', ts: 'ts' } as const;

/** One transition of a user. */
export type PresenceEvent = { user: string; status: PresenceStatus; ts: number };

export function encode(e: PresenceEvent): string[] {
  return [FIELD.user, e.user, FIELD.status, e.status, FIELD.ts, String(e.ts)];
}

/** A positive integer in decimal, without sign, leading zeros, exponent or spaces. */
const TS = /^[1-9][0-9]{0,15}$/;

/** Exactly the three fields, in any order: a non-empty user, a known status, a positive integer ts. */
export function decode(fields: unknown): PresenceEvent | null {
  if (!Array.isArray(fields) || fields.length !== 6) return null;
  let user: string | undefined;
  let status: string | undefined;
  let ts: string | undefined;
  for (let i = 0; i < 6; i += 2) {
    const name: unknown = fields[i];
    const value: unknown = fields[i + 1];
    if (typeof value !== 'string') return null;
    if (name === FIELD.user && user === undefined) user = value;
    else if (name === FIELD.status && status === undefined) status = value;
    else if (name === FIELD.ts && ts === undefined) ts = value;
    else return null; // unknown or repeated
  }
  if (!user || (status !== 'online' && status !== 'offline') || ts === undefined || !TS.test(ts)) return null;
  const at = Number(ts);
  return Number.isSafeInteger(at) ? { user, status, ts: at } : null;
}
