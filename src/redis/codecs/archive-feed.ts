/**
 * The archive feed: rooms announced as having new messages, written by the chat instances
 * (`ArchiveFeed`, src/archive/redis.ts, after an append) and read by the archive worker
 * (workers/archive-job.ts). A `StreamCodec` (see `codec.ts`).
 *
 * - Streams `parley:archive:{a<n>}`, n < `PARTITIONS`, each on its own slot; a room is always
 *   announced on the same partition (`partitionOf`).
 * - Entry `room <name>`.
 */
import { fnv1a } from '../hash.ts';

/** Stream partitions; the archive workers read all of them with one consumer group. */
export const PARTITIONS = 8;

/** The stream of one partition. */
export function streamKey(partition: number): string {
  return `parley:archive:{a${partition}}`;
}

/** Every partition's stream, in partition order. */
export const STREAMS: readonly string[] = Array.from({ length: PARTITIONS }, (_, p) => streamKey(p));

/** The partition a room is announced on. */
export function partitionOf(room: string): number {
  return fnv1a(room) % PARTITIONS;
}

/** The stream a room is announced on. */
export function streamOf(room: string): string {
  return streamKey(partitionOf(room));
}

/** The entry's field name. */
export const FIELD = { room: 'room' } as const;

/** One announcement: `room` has messages that may not be archived yet. */
export type FeedEntry = { room: string };

export function encode(e: FeedEntry): string[] {
  return [FIELD.room, e.room];
}

/** Exactly one field, `room`, not empty. */
export function decode(fields: unknown): FeedEntry | null {
  if (!Array.isArray(fields) || fields.length !== 2) return null;
  const [name, room]: unknown[] = fields;
  return name === FIELD.room && typeof room === 'string' && room !== '' ? { room } : null;
}
