/**
 * The durable seam contracts (`UserStore`, `Archive`) against MongoDB: the local FerretDB v1 server
 * started by the global setup (test/setup/mongo.ts). One client for the file; every factory call
 * gets a database of its own, with the project's indexes, dropped by its cleanup.
 */
import type { Db, MongoClient } from 'mongodb';
import { afterAll, inject } from 'vitest';
import { MongoArchive } from '../../src/archive/mongo.ts';
import { connectMongo, ensureIndexes } from '../../src/mongo/connection.ts';
import { MongoUserStore } from '../../src/users/mongo.ts';
import { archiveContract } from './archive.ts';
import { userStoreContract } from './users.ts';

let client: Promise<MongoClient> | undefined;
const connect = () => (client ??= connectMongo(inject('mongoUrl'), { timeoutMs: 10_000 }));

afterAll(async () => {
  if (client) await (await client).close();
});

/** A fresh database with the indexes in place; its cleanup closes the store, then drops it. */
async function freshDb<S extends { close(): Promise<void> }>(make: (db: Db) => S) {
  const db = (await connect()).db(`t_${Math.random().toString(36).slice(2, 12)}`);
  await ensureIndexes(db);
  const store = make(db);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.dropDatabase();
    },
  };
}

// Both forms of update, on FerretDB; neither is safe there for concurrent writers of one user
// (see UserStoreTraits), while on MongoDB `guarded` is.
userStoreContract('mongodb (FerretDB), auto', () => freshDb((db) => new MongoUserStore(db)), { concurrentWriters: false });
userStoreContract('mongodb (FerretDB), guarded', () => freshDb((db) => new MongoUserStore(db, { writes: 'guarded' })), { concurrentWriters: false });
archiveContract('mongodb (FerretDB), auto', () => freshDb((db) => new MongoArchive(db)));
// The form MongoDB gets: message states written by guarded updates.
archiveContract('mongodb (FerretDB), guarded', () => freshDb((db) => new MongoArchive(db, { guarded: true })));
