/**
 * v1.1 edits, deletes and reactions: appended to the room's log by the log's own atomic step
 * (`RoomLog.change`), which checks the rules; a target only the archive still holds is looked up
 * there first. The answer is what an `ack` carries.
 */
import type { Archive } from '../archive/types.ts';
import { AppError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { LIMITS } from '@parley/client/wire';
import type { Change, ChangeResult, RoomLog } from '../rooms/types.ts';
import { backendError } from './backend.ts';

/** What the ack of a change carries: the entry's position, or the entry that set the state asked for. */
export type ChangeAck = { epoch: string; seq: number; ts: number };

export class Changes {
  readonly #log: RoomLog;
  readonly #archive: Archive | null;
  readonly #metrics: Metrics;

  constructor(log: RoomLog, archive: Archive | null, metrics: Metrics) {
    this.#log = log;
    this.#archive = archive;
    this.#metrics = metrics;
  }

  /**
   * Appends `change` by `user` to `room` (idempotent by `cid`). Throws `AppError`: `not_found`,
   * `forbidden` (the rules, or a group the user is not in), `invalid_message` (a reaction past the
   * emoji limit), `unavailable`, `internal`.
   */
  async apply(user: string, room: string, change: Change, cid?: string): Promise<ChangeAck> {
    const input = cid === undefined ? { ...change, from: user } : { ...change, from: user, cid };
    const run = (archived?: { from: string; cid?: string }) =>
      this.#log
        .change(room, archived === undefined ? input : { ...input, archivedAuthor: archived.from, ...(archived.cid === undefined ? {} : { archivedCid: archived.cid }) })
        .catch(backendError('change', room));
    let result = await run();
    if (result.outcome === 'in_archive') {
      const archived = await this.#archived(room, result.epoch, change.target);
      result = archived === null ? { outcome: 'not_found' } : await run(archived);
    }
    return this.#answer(result);
  }

  #answer(result: ChangeResult): ChangeAck {
    switch (result.outcome) {
      case 'appended':
        this.#metrics.appended.inc();
        return result.message;
      case 'duplicate':
        return result.message;
      case 'unchanged':
        return result;
      case 'forbidden':
        throw new AppError('forbidden', 'only the author may change this message (in a group, its owner and admins may delete it)');
      case 'too_many_reactions':
        throw new AppError('invalid_message', `at most ${LIMITS.reactionsPerMessage} different emoji per message`);
      case 'not_found':
      case 'in_archive': // the archive had it, and then the log found it no longer a live text message
        throw new AppError('not_found', 'no such message in this room');
    }
  }

  /**
   * The author (and cid, whose idempotency record a delete blanks) of a text message that only the
   * archive holds; null when it holds none (or a deleted one).
   */
  async #archived(room: string, epoch: string, seq: number): Promise<{ from: string; cid?: string } | null> {
    if (!this.#archive) return null;
    const m = await this.#archive.at(room, epoch, seq).catch(backendError('archive read', room));
    if (!m || m.kind !== undefined || m.deleted) return null;
    return m.cid === undefined ? { from: m.from } : { from: m.from, cid: m.cid };
  }
}
