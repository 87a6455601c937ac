/**
 * The durable copy of read positions in MongoDB, collection `reads`:
 * `{_id: "<user> <room>", user, room, seq}` (a user name has no space, so the `_id` is unique on
 * `(user, room)`). Written by the presence worker's reads job; read by the chat instances when Redis
 * has no position (after losing its data).
 *
 * Writes follow the user store (src/users/mongo.ts, src/mongo/guarded.ts): insert every position
 * as new (unordered: users' first reads are done), then move the existing ones forward only: an
 * update guarded by `{_id, seq: {$lt: s}}` on MongoDB; on FerretDB v1 read by `_id`, compare, write
 * by `_id`, which is correct because one worker writes a user's positions at a time (one per stream
 * partition).
 */
import type { Collection } from 'mongodb';
import { type DbSource, mongoUnavailable, resolveDb } from '../mongo/connection.ts';
import { guardedUpdates, insertNew } from '../mongo/guarded.ts';
import type { DurableReads, ReadEvent } from './types.ts';

type ReadDoc = { _id: string; user: string; room: string; seq: number };

/** FerretDB v1 hangs on update batches of 100 or more statements. */
const UPDATE_CHUNK = 50;
const INSERT_CHUNK = 1000;

const idOf = (user: string, room: string): string => `${user} ${room}`;

export class MongoReads implements DurableReads {
  readonly #db: DbSource;
  /** True: guarded updates (MongoDB); false: read, compare, write by `_id` (FerretDB). */
  readonly #guarded: () => Promise<boolean>;

  constructor(db: DbSource, opts: { guarded?: boolean } = {}) {
    this.#db = db;
    this.#guarded = guardedUpdates(db, opts.guarded);
  }

  async apply(entries: readonly ReadEvent[]): Promise<void> {
    const latest = new Map<string, ReadEvent>();
    for (const e of entries) {
      const id = idOf(e.user, e.room);
      if ((latest.get(id)?.seq ?? -1) < e.seq) latest.set(id, e);
    }
    const all = [...latest.values()];
    const existing: ReadEvent[] = [];
    for (let i = 0; i < all.length; i += INSERT_CHUNK) {
      const chunk = all.slice(i, i + INSERT_CHUNK);
      for (const index of await this.#insertNew(chunk)) existing.push(chunk[index] as ReadEvent);
    }
    if (existing.length === 0) return;
    const guarded = await this.#guarded();
    const reads = await this.#reads();
    for (let i = 0; i < existing.length; i += UPDATE_CHUNK) {
      const chunk = existing.slice(i, i + UPDATE_CHUNK);
      const ahead = guarded ? chunk : await this.#aheadOfStored(chunk);
      if (ahead.length === 0) continue;
      const ops = ahead.map((e) => ({
        updateOne: {
          filter: guarded ? { _id: idOf(e.user, e.room), seq: { $lt: e.seq } } : { _id: idOf(e.user, e.room) },
          update: { $set: { seq: e.seq } },
        },
      }));
      await reads.bulkWrite(ops, { ordered: false }).catch(mongoUnavailable);
    }
  }

  async get(user: string, rooms: readonly string[]): Promise<(number | null)[]> {
    return this.#byIds(rooms.map((room) => idOf(user, room)));
  }

  async ofUsers(room: string, users: readonly string[]): Promise<(number | null)[]> {
    return this.#byIds(users.map((user) => idOf(user, room)));
  }

  /** One look-up by `_id` each, in parallel: the only form FerretDB v1 answers from an index. */
  async #byIds(ids: readonly string[]): Promise<(number | null)[]> {
    const reads = await this.#reads();
    const docs = await Promise.all(ids.map((_id) => reads.findOne({ _id }, { projection: { seq: 1 } }))).catch(mongoUnavailable);
    return docs.map((d) => (d ? d.seq : null));
  }

  async #reads(): Promise<Collection<ReadDoc>> {
    return (await resolveDb(this.#db)).collection<ReadDoc>('reads');
  }

  async #aheadOfStored(chunk: readonly ReadEvent[]): Promise<ReadEvent[]> {
    const stored = await this.#byIds(chunk.map((e) => idOf(e.user, e.room)));
    return chunk.filter((e, i) => (stored[i] ?? -1) < e.seq);
  }

  /** Inserts each position as new; returns the indexes of those already stored. */
  async #insertNew(chunk: readonly ReadEvent[]): Promise<number[]> {
    const docs = chunk.map((e): ReadDoc => ({ _id: idOf(e.user, e.room), user: e.user, room: e.room, seq: e.seq }));
    const reads = await this.#reads();
    return insertNew((d) => reads.insertMany(d, { ordered: false }), docs);
  }
}
