/**
 * Writes that move stored state only forward, on MongoDB and on FerretDB v1 alike (used by the
 * user store, the read positions and the archive's message states).
 *
 * On MongoDB an update filtered by `{_id, <version>: {$lt: v}}` is atomic, so any number of writers
 * may race. FerretDB v1 reads the whole collection for any filter other than exactly `{_id}` (and
 * does not apply such an update atomically anyway): there the stored versions are read by `_id`,
 * compared by the caller, and the newer ones written by `_id`. That is correct where each document
 * is written from one place at a time, and fast at any size. `guardedUpdates` tells which to use.
 */
import { type DbSource, isDuplicateKey, mongoUnavailable, resolveDb } from './connection.ts';

/**
 * Asks the server once whether guarded updates are atomic and cheap there (MongoDB: true) or not
 * (FerretDB: false); asks again after a failure. `fixed` answers without asking (tests).
 */
export function guardedUpdates(db: DbSource, fixed?: boolean): () => Promise<boolean> {
  let answer: Promise<boolean> | undefined = fixed === undefined ? undefined : Promise.resolve(fixed);
  return () => {
    answer ??= resolveDb(db)
      .then((d) => d.admin().command({ buildInfo: 1 }))
      .then((info) => !('ferretdbVersion' in info))
      .catch((err: unknown) => {
        answer = undefined;
        return mongoUnavailable(err);
      });
    return answer;
  };
}

/**
 * Inserts `docs` unordered; returns the indexes of those that already exist (duplicate keys).
 * Throws `BackendUnavailable` for any other failure.
 */
export async function insertNew<T extends { _id: string }>(insert: (docs: T[]) => Promise<unknown>, docs: T[]): Promise<number[]> {
  try {
    await insert(docs);
    return [];
  } catch (err) {
    if (!isDuplicateKey(err)) mongoUnavailable(err);
    const list = (err as { writeErrors?: { index?: unknown }[] | { index?: unknown } }).writeErrors;
    const indexes = (Array.isArray(list) ? list : list ? [list] : []).map((w) => Number(w.index));
    // A server that does not say which failed: treat every one as existing (the update is guarded).
    return indexes.every((n) => Number.isInteger(n)) && indexes.length > 0 ? indexes : docs.map((_, i) => i);
  }
}
