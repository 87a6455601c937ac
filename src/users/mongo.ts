/**
 * User state in MongoDB, collection `users`: `{_id: <user>, status, lastSeen, updatedAt}`.
 *
 * A batch of transitions is written in two steps, each safe under any interleaving:
 * 1. every transition is inserted as a new document (unordered): users never seen are done, and
 *    the others fail with a duplicate key;
 * 2. for those, an update filtered by `{_id, updatedAt: {$lt: at}}`: it changes a stored state only
 *    when that is older, and matches nothing otherwise (the guard: an older transition never
 *    overwrites a newer one).
 * Both steps use only what MongoDB and FerretDB v1 do alike (see infra/mongo/README.md): inserts
 * report which documents failed, and updates never fail (no upsert), so a batch never stops early.
 * Updates go out in chunks of 50 (FerretDB v1 hangs on larger update batches).
 */
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey, mongoUnavailable } from '../mongo.ts';
import type { PresenceStatus } from '../protocol.ts';
import type { UserState, UserStore, UserTransition } from './types.ts';

type UserDoc = { _id: string; status: PresenceStatus; lastSeen: number; updatedAt: number };

const UPDATE_CHUNK = 50;
const INSERT_CHUNK = 1000;

export class MongoUserStore implements UserStore {
  readonly #users: Collection<UserDoc>;

  constructor(db: Db) {
    this.#users = db.collection<UserDoc>('users');
  }

  async apply(transitions: readonly UserTransition[]): Promise<void> {
    const existing: UserTransition[] = [];
    for (let i = 0; i < transitions.length; i += INSERT_CHUNK) {
      const chunk = transitions.slice(i, i + INSERT_CHUNK);
      for (const index of await this.#insertNew(chunk)) existing.push(chunk[index] as UserTransition);
    }
    for (let i = 0; i < existing.length; i += UPDATE_CHUNK) {
      const ops = existing.slice(i, i + UPDATE_CHUNK).map((t) => ({
        updateOne: {
          filter: { _id: t.user, updatedAt: { $lt: t.at } },
          update: { $set: { status: t.status, lastSeen: t.at, updatedAt: t.at } },
        },
      }));
      await this.#users.bulkWrite(ops, { ordered: false }).catch(mongoUnavailable);
    }
  }

  /** Inserts each transition as a new user; returns the indexes of those that already exist. */
  async #insertNew(chunk: readonly UserTransition[]): Promise<number[]> {
    const docs = chunk.map((t): UserDoc => ({ _id: t.user, status: t.status, lastSeen: t.at, updatedAt: t.at }));
    try {
      await this.#users.insertMany(docs, { ordered: false });
      return [];
    } catch (err) {
      if (!isDuplicateKey(err)) mongoUnavailable(err);
      const list = (err as { writeErrors?: { index?: unknown }[] | { index?: unknown } }).writeErrors;
      const indexes = (Array.isArray(list) ? list : list ? [list] : []).map((w) => Number(w.index));
      // A server that does not say which failed: treat every one as existing (the update is guarded).
      return indexes.every((n) => Number.isInteger(n)) && indexes.length > 0 ? indexes : chunk.map((_, i) => i);
    }
  }

  async get(user: string): Promise<UserState | null> {
    const doc = await this.#users.findOne({ _id: user }).catch(mongoUnavailable);
    if (!doc) return null;
    return { user, status: doc.status, lastSeen: doc.lastSeen, updatedAt: doc.updatedAt };
  }

  async close(): Promise<void> {}
}
