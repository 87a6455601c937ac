/**
 * The durable message archive: room logs copied out of the hot window by the archive worker, read
 * by REST history for pages older than the hot log holds.
 * Memory implementation: `memory.ts`; MongoDB (`parley.messages`): `mongo.ts`.
 */
import type { Message } from '@parley/client/wire';

export type ArchiveQuery = {
  /** Only messages with `seq > after`. */
  after?: number;
  /** Only messages with `seq < before`. */
  before?: number;
  /** At most this many, 1..1000. */
  limit: number;
  /** Which end of the range the page is taken from: `oldest` for catching up, `newest` for scrolling back. */
  from: 'oldest' | 'newest';
};

export interface Archive {
  /**
   * Stores messages, idempotently by `(room, epoch, seq)`: storing one again changes nothing (the
   * first copy stays). Throws `BackendUnavailable` when the store cannot be reached; then some may
   * have been stored, and storing the same messages again is safe.
   */
  put(messages: readonly Message[]): Promise<void>;

  /** Messages of one room and epoch in the query's range, ascending `seq`. Throws `BackendUnavailable`. */
  read(room: string, epoch: string, query: ArchiveQuery): Promise<Message[]>;

  close(): Promise<void>;
}
