/**
 * The durable message archive: room logs copied out of the hot window by the archive worker, read
 * by REST history for pages older than the hot log holds.
 * Memory implementation: `memory.ts`; MongoDB (`parley.messages`): `mongo.ts`.
 */
import type { Message } from '@parley/client/wire';
import type { MessageState } from '../rooms/types.ts';

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

  /**
   * v1.1: records the state of stored text messages of one room and epoch (by seq), each only where
   * it is newer (`rev`) than the one stored, so that any order is safe; a delete also blanks the
   * text of the message's stored edits. Messages not stored are skipped. Throws `BackendUnavailable`.
   */
  applyStates(room: string, epoch: string, states: ReadonlyMap<number, MessageState>): Promise<void>;

  /** The stored entry at `seq` of one room and epoch, or null. Throws `BackendUnavailable`. */
  at(room: string, epoch: string, seq: number): Promise<Message | null>;

  /**
   * Messages of one room and epoch in the query's range, ascending `seq`, text messages with the
   * state last recorded. Throws `BackendUnavailable`.
   */
  read(room: string, epoch: string, query: ArchiveQuery): Promise<Message[]>;

  close(): Promise<void>;
}
