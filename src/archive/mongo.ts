/**
 * The message archive in MongoDB, collection `messages`: one document per message,
 * `{_id: '["<room>","<epoch>",<seq>]', room, epoch, seq, from, text, ts, cid?}`, unique on
 * `(room, epoch, seq)`. The `_id` is derived from the position (as JSON, so that no two positions
 * share one), so storing a message again is a duplicate key, ignored: the first copy stays.
 */
import type { Collection } from 'mongodb';
import { type DbSource, isDuplicateKey, mongoUnavailable, resolveDb } from '../mongo/connection.ts';
import type { Message } from '@parley/client/wire';
import type { Archive, ArchiveQuery } from './types.ts';

type MessageDoc = Message & { _id: string };

/** Documents per insert command. */
const CHUNK = 1000;

export class MongoArchive implements Archive {
  readonly #db: DbSource;

  constructor(db: DbSource) {
    this.#db = db;
  }

  async #messages(): Promise<Collection<MessageDoc>> {
    return (await resolveDb(this.#db)).collection<MessageDoc>('messages');
  }

  async put(messages: readonly Message[]): Promise<void> {
    const collection = await this.#messages();
    for (let i = 0; i < messages.length; i += CHUNK) {
      const docs = messages.slice(i, i + CHUNK).map(toDoc);
      // Unordered: a duplicate does not stop the others (on MongoDB and FerretDB alike).
      await collection.insertMany(docs, { ordered: false }).catch((err: unknown) => {
        if (!isDuplicateKey(err)) mongoUnavailable(err);
      });
    }
  }

  async read(room: string, epoch: string, q: ArchiveQuery): Promise<Message[]> {
    const seq: { $gt?: number; $lt?: number } = {};
    if (q.after !== undefined) seq.$gt = q.after;
    if (q.before !== undefined) seq.$lt = q.before;
    const messages = await this.#messages();
    const docs = await messages
      .find({ room, epoch, ...(q.after === undefined && q.before === undefined ? {} : { seq }) })
      .sort({ seq: q.from === 'oldest' ? 1 : -1 })
      .limit(q.limit)
      .toArray()
      .catch(mongoUnavailable);
    const out = docs.map(fromDoc);
    return q.from === 'oldest' ? out : out.reverse();
  }

  async close(): Promise<void> {}
}

function toDoc(m: Message): MessageDoc {
  const doc: MessageDoc = { _id: JSON.stringify([m.room, m.epoch, m.seq]), room: m.room, epoch: m.epoch, seq: m.seq, from: m.from, text: m.text, ts: m.ts };
  if (m.cid !== undefined) doc.cid = m.cid;
  return doc;
}

function fromDoc(d: MessageDoc): Message {
  const m: Message = { room: d.room, epoch: d.epoch, seq: d.seq, from: d.from, text: d.text, ts: d.ts };
  if (d.cid !== undefined && d.cid !== null) m.cid = d.cid;
  return m;
}
