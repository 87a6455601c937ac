/**
 * The MongoDB connection shared by the MongoDB implementations of the seams (`src/users/mongo.ts`,
 * `src/archive/mongo.ts`). Only what both MongoDB (≥ 6) and the local FerretDB v1 server support is
 * used; `infra/mongo/README.md` lists where they differ.
 */
import {
  type Db,
  MongoClient,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import { BackendUnavailable } from '../errors.ts';

/** The database of the project's collections (`users`, `messages`) unless MONGO_URL names one. */
export const DATABASE = 'parley';

/** The database named in the URL's path (`mongodb://host/<db>`), else `parley`. */
export function databaseOf(url: string): string {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : DATABASE;
}

export type MongoOptions = {
  /** How long an operation waits for a reachable server before failing as unavailable. */
  timeoutMs?: number;
  /** Shown in the server's logs and `currentOp`. */
  appName?: string;
};

/**
 * A client that connects on first use: the chat instance starts while MongoDB is down (it only
 * needs it for old history and last-seen times) and its requests fail fast meanwhile.
 */
export function openMongo(url: string, opts: MongoOptions = {}): MongoClient {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new MongoClient(url, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    appName: opts.appName ?? 'parley',
  });
}

/** Where a store gets its database: a `Db`, or a `MongoLink` (reconnects until the first success). */
export type DbSource = Db | (() => Promise<Db>);

export const resolveDb = (source: DbSource): Promise<Db> => (typeof source === 'function' ? source() : Promise.resolve(source));

/**
 * A connection for a long-running process that must start while MongoDB is down: the first
 * connection is made on first use, and a failed one is replaced by a fresh client on the next use
 * (the driver does not retry a client whose first connection failed). Once connected, the driver
 * rides out later outages itself.
 */
export class MongoLink {
  readonly #url: string;
  readonly #opts: MongoOptions;
  #client: MongoClient;
  #connected = false;
  #connecting: Promise<void> | undefined;

  constructor(url: string, opts: MongoOptions = {}) {
    this.#url = url;
    this.#opts = opts;
    this.#client = openMongo(url, opts);
  }

  /** The URL's database, once connected. Throws `BackendUnavailable` while MongoDB cannot be reached. */
  readonly db = async (): Promise<Db> => {
    if (!this.#connected) {
      this.#connecting ??= this.#client.connect().then(
        () => {
          this.#connected = true;
        },
        async (err: unknown) => {
          const failed = this.#client;
          this.#client = openMongo(this.#url, this.#opts);
          this.#connecting = undefined;
          await failed.close().catch(() => undefined);
          throw new BackendUnavailable(`MongoDB at ${redact(this.#url)} is unreachable: ${(err as Error).message}`);
        },
      );
      await this.#connecting;
    }
    return this.#client.db(databaseOf(this.#url));
  };

  async close(): Promise<void> {
    await this.#client.close().catch(() => undefined);
  }
}

/**
 * Connects and waits for a `ping`. Throws `BackendUnavailable` with a clear message when the server
 * cannot be reached in time.
 */
export async function connectMongo(url: string, opts: MongoOptions = {}): Promise<MongoClient> {
  const client = openMongo(url, opts);
  try {
    await client.connect();
    await client.db(databaseOf(url)).command({ ping: 1 });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new BackendUnavailable(`MongoDB at ${redact(url)} is unreachable: ${(err as Error).message}`);
  }
  return client;
}

/** Creates the indexes the queries rely on; idempotent. */
export async function ensureIndexes(db: Db): Promise<void> {
  await db.collection('messages').createIndex({ room: 1, epoch: 1, seq: 1 }, { unique: true, name: 'room_epoch_seq' });
}

/** Whether a driver error means "MongoDB cannot be reached now" rather than a bug. */
export function isMongoUnavailable(err: unknown): boolean {
  return (
    err instanceof MongoNetworkError ||
    err instanceof MongoServerSelectionError ||
    err instanceof MongoNotConnectedError ||
    err instanceof MongoTopologyClosedError
  );
}

/** Rethrows `err`, as `BackendUnavailable` when MongoDB cannot be reached. */
export function mongoUnavailable(err: unknown): never {
  if (isMongoUnavailable(err)) throw new BackendUnavailable(`MongoDB: ${(err as Error).message}`);
  throw err;
}

/** Whether `err` is a duplicate-key error, alone or as every error of a bulk write. */
export function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; writeErrors?: unknown };
  if (e.code === 11000) return true;
  const list = Array.isArray(e.writeErrors) ? e.writeErrors : e.writeErrors ? [e.writeErrors] : [];
  return list.length > 0 && list.every((w: { code?: unknown }) => w?.code === 11000);
}

/** The URL without credentials, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
