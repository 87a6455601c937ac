/**
 * The read position streams: one entry per read position that moved forward, written by the chat
 * instances (`RedisReadState`, src/reads/redis.ts) and read by the reads job of the presence worker
 * (workers/reads-job.ts), which copies them into MongoDB. A `StreamCodec` (see `codec.ts`).
 *
 * - Streams `parley:reads:{p<n>}`, n < `PARTITIONS`, each on its own slot. All positions of one user
 *   go to one partition (`partitionOf`), so that one worker writes a user's positions at a time.
 * - Entry `user <name> room <room> seq <n>`: a position only ever moves forward, so entries may be
 *   applied in any order and more than once.
 */
import { fnv1a } from '../hash.ts';

/** Stream partitions; the reads job reads each with a consumer group. */
export const PARTITIONS = 8;

export function streamKey(partition: number): string {
  return `parley:reads:{p${partition}}`;
}

export const STREAMS: readonly string[] = Array.from({ length: PARTITIONS }, (_, p) => streamKey(p));

export function partitionOf(user: string): number {
  return fnv1a(user) % PARTITIONS;
}

/** The stream of a user's positions. */
export function streamOf(user: string): string {
  return streamKey(partitionOf(user));
}

export const FIELD = { user: 'user', room: 'room', seq: 'seq' } as const;

/** One position: `user` has read `room` up to `seq`. */
export type ReadPosition = { user: string; room: string; seq: number };

export function encode(p: ReadPosition): string[] {
  return [FIELD.user, p.user, FIELD.room, p.room, FIELD.seq, String(p.seq)];
}

/** A positive integer in decimal, without sign, leading zeros, exponent or spaces. */
const SEQ = /^[1-9][0-9]{0,15}$/;

/** Exactly the three fields, in any order: non-empty user and room, a positive integer seq. */
export function decode(fields: unknown): ReadPosition | null {
  if (!Array.isArray(fields) || fields.length !== 6) return null;
  let user: string | undefined;
  let room: string | undefined;
  let seq: string | undefined;
  for (let i = 0; i < 6; i += 2) {
    const name: unknown = fields[i];
    const value: unknown = fields[i + 1];
    if (typeof value !== 'string') return null;
    if (name === FIELD.user && user === undefined) user = value;
    else if (name === FIELD.room && room === undefined) room = value;
    else if (name === FIELD.seq && seq === undefined) seq = value;
    else return null; // unknown or repeated
  }
  if (!user || !room || seq === undefined || !SEQ.test(seq)) return null;
  const n = Number(seq);
  return Number.isSafeInteger(n) ? { user, room, seq: n } : null;
}
