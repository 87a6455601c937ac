/**
 * User state in MongoDB, collection `users`: `{_id: <user>, status, lastSeen, updatedAt}`.
 *
 * Each transition is one upsert filtered by `{_id, updatedAt: {$lt: at}}`: it updates a stored
 * state that is older, inserts a user never seen, and fails with a duplicate key when the stored
 * state is as new or newer (the insert collides with the existing `_id`). That failure is the
 * guard working. It also happens when two writers insert the same new user at once, so a
 * statement that failed is tried once more on its own: it then either matches an older state or
 * meets a newer one. Statements go out in chunks of 50 (FerretDB v1 hangs on larger update batches
 * and stops unordered batches at the first error; see infra/mongo/README.md).
 */
import type { AnyBulkWriteOperation, Collection, Db } from 'mongodb';
import { isDuplicateKey, mongoUnavailable } from '../mongo.ts';
import type { PresenceStatus } from '../protocol.ts';
import type { UserState, UserStore, UserTransition } from './types.ts';

type UserDoc = { _id: string; status: PresenceStatus; lastSeen: number; updatedAt: number };

const CHUNK = 50;

export class MongoUserStore implements UserStore {
  readonly #users: Collection<UserDoc>;

  constructor(db: Db) {
    this.#users = db.collection<UserDoc>('users');
  }

  async apply(transitions: readonly UserTransition[]): Promise<void> {
    for (let i = 0; i < transitions.length; i += CHUNK) {
      const ops = transitions.slice(i, i + CHUNK).map(upsert);
      try {
        await this.#users.bulkWrite(ops, { ordered: false });
      } catch (err) {
        if (!isDuplicateKey(err)) mongoUnavailable(err);
        // Which statements failed is not reported alike by every server: run each on its own.
        for (const op of ops) {
          await this.#users.bulkWrite([op], { ordered: true }).catch((e: unknown) => {
            if (!isDuplicateKey(e)) mongoUnavailable(e);
          });
        }
      }
    }
  }

  async get(user: string): Promise<UserState | null> {
    const doc = await this.#users.findOne({ _id: user }).catch(mongoUnavailable);
    if (!doc) return null;
    return { user, status: doc.status, lastSeen: doc.lastSeen, updatedAt: doc.updatedAt };
  }

  async close(): Promise<void> {}
}

function upsert(t: UserTransition): AnyBulkWriteOperation<UserDoc> {
  return {
    updateOne: {
      filter: { _id: t.user, updatedAt: { $lt: t.at } },
      update: { $set: { status: t.status, lastSeen: t.at, updatedAt: t.at } },
      upsert: true,
    },
  };
}
