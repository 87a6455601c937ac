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
 *
 * Step 2 has two forms (`UserWrites`, src/mongo/guarded.ts): guarded updates on MongoDB; on
 * FerretDB v1, read by `_id`, compare, write by `_id`, correct because the presence worker writes
 * each user from one place at a time (one worker per stream partition). `auto` asks the server.
 */
import type { Collection } from 'mongodb';
import { type DbSource, mongoUnavailable, resolveDb } from '../mongo/connection.ts';
import { guardedUpdates, insertNew } from '../mongo/guarded.ts';
import type { PresenceStatus } from '@parley/client/wire';
import type { UserState, UserStore, UserTransition } from './types.ts';

type UserDoc = { _id: string; status: PresenceStatus; lastSeen: number; updatedAt: number };

const UPDATE_CHUNK = 50;
const INSERT_CHUNK = 1000;

/** How stored users are updated; see the file's comment. */
export type UserWrites = 'guarded' | 'read-then-write' | 'auto';

export class MongoUserStore implements UserStore {
  readonly #db: DbSource;
  /** True: guarded updates (MongoDB); false: read, compare, write by `_id` (FerretDB). */
  readonly #guarded: () => Promise<boolean>;

  constructor(db: DbSource, opts: { writes?: UserWrites } = {}) {
    this.#db = db;
    const writes = opts.writes ?? 'auto';
    this.#guarded = guardedUpdates(db, writes === 'auto' ? undefined : writes === 'guarded');
  }

  async #users(): Promise<Collection<UserDoc>> {
    return (await resolveDb(this.#db)).collection<UserDoc>('users');
  }

  async apply(transitions: readonly UserTransition[]): Promise<void> {
    const existing: UserTransition[] = [];
    for (let i = 0; i < transitions.length; i += INSERT_CHUNK) {
      const chunk = transitions.slice(i, i + INSERT_CHUNK);
      for (const index of await this.#insertNew(chunk)) existing.push(chunk[index] as UserTransition);
    }
    if (existing.length === 0) return;
    const guarded = await this.#guarded();
    for (let i = 0; i < existing.length; i += UPDATE_CHUNK) {
      const chunk = existing.slice(i, i + UPDATE_CHUNK);
      const newer = guarded ? chunk : await this.#newerThanStored(chunk);
      if (newer.length === 0) continue;
      const ops = newer.map((t) => ({
        updateOne: {
          filter: guarded ? { _id: t.user, updatedAt: { $lt: t.at } } : { _id: t.user },
          update: { $set: { status: t.status, lastSeen: t.at, updatedAt: t.at } },
        },
      }));
      await (await this.#users()).bulkWrite(ops, { ordered: false }).catch(mongoUnavailable);
    }
  }

  /** The transitions newer than what is stored, reading each user by `_id` (see the file's comment). */
  async #newerThanStored(chunk: readonly UserTransition[]): Promise<UserTransition[]> {
    const users = await this.#users();
    const stored = await Promise.all(
      chunk.map((t) => users.findOne({ _id: t.user }, { projection: { updatedAt: 1 } })),
    ).catch(mongoUnavailable);
    return chunk.filter((t, i) => {
      const s = stored[i];
      return !s || s.updatedAt < t.at;
    });
  }

  /** Inserts each transition as a new user; returns the indexes of those that already exist. */
  async #insertNew(chunk: readonly UserTransition[]): Promise<number[]> {
    const docs = chunk.map((t): UserDoc => ({ _id: t.user, status: t.status, lastSeen: t.at, updatedAt: t.at }));
    const users = await this.#users();
    return insertNew((d) => users.insertMany(d, { ordered: false }), docs);
  }

  async get(user: string): Promise<UserState | null> {
    const doc = await (await this.#users()).findOne({ _id: user }).catch(mongoUnavailable);
    if (!doc) return null;
    return { user, status: doc.status, lastSeen: doc.lastSeen, updatedAt: doc.updatedAt };
  }

  /**
   * One `find` with `$in` on MongoDB. FerretDB v1 would read the whole collection for it (see the
   * file's comment), so there each user is read by `_id`, all at once.
   */
  async getMany(users: readonly string[]): Promise<(UserState | null)[]> {
    if (users.length === 0) return [];
    const ids = [...new Set(users)];
    const coll = await this.#users();
    const docs =
      (await this.#guarded())
        ? await coll.find({ _id: { $in: ids } }).toArray().catch(mongoUnavailable)
        : (await Promise.all(ids.map((_id) => coll.findOne({ _id }))).catch(mongoUnavailable)).filter((d) => d !== null);
    const byId = new Map(docs.map((d) => [d._id, d]));
    return users.map((user) => {
      const doc = byId.get(user);
      return doc ? { user, status: doc.status, lastSeen: doc.lastSeen, updatedAt: doc.updatedAt } : null;
    });
  }

  async close(): Promise<void> {}
}
