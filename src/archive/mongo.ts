/**
 * The message archive in MongoDB, collection `messages`: one document per log entry,
 * `{_id: '["<room>","<epoch>",<seq>]', room, epoch, seq, from, text, ts, cid?}`, unique on
 * `(room, epoch, seq)`, with `kind, target[, emoji, on]` for an edit, delete or reaction, and for a
 * text message its state `rev[, edited][, deleted][, reactions]` once it has one. The `_id` is
 * derived from the position (as JSON, so that no two positions share one), so storing an entry
 * again is a duplicate key, ignored: the first copy stays; states move only forward by `rev`.
 */
import type { Collection } from 'mongodb';
import { type DbSource, isDuplicateKey, mongoUnavailable, resolveDb } from '../mongo/connection.ts';
import type { Message } from '@parley/client/wire';
import type { MessageState } from '../rooms/types.ts';
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

  async applyStates(room: string, epoch: string, states: ReadonlyMap<number, MessageState>): Promise<void> {
    const collection = await this.#messages();
    for (const [seq, state] of states) {
      const newer = { _id: docId(room, epoch, seq), kind: { $exists: false }, $or: [{ rev: { $exists: false } }, { rev: { $lt: state.rev } }] };
      const set: Partial<MessageDoc> = { rev: state.rev };
      const unset: Record<string, ''> = {};
      if (state.deleted) {
        Object.assign(set, { text: '', deleted: true });
        Object.assign(unset, { edited: '', reactions: '' });
      } else {
        if (state.edited !== undefined) Object.assign(set, { text: state.text ?? '', edited: state.edited });
        if (state.reactions) set.reactions = state.reactions;
        else unset['reactions'] = '';
      }
      const update = Object.keys(unset).length > 0 ? { $set: set, $unset: unset } : { $set: set };
      await collection.updateOne(newer, update).catch(mongoUnavailable);
      if (state.deleted && state.edits && state.edits.length > 0) {
        await collection.updateMany({ _id: { $in: state.edits.map((s) => docId(room, epoch, s)) } }, { $set: { text: '' } }).catch(mongoUnavailable);
      }
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

function docId(room: string, epoch: string, seq: number): string {
  return JSON.stringify([room, epoch, seq]);
}

/** An entry as stored: the log's fields only (its state comes with `applyStates`). */
function toDoc(m: Message): MessageDoc {
  const doc: MessageDoc = { _id: docId(m.room, m.epoch, m.seq), room: m.room, epoch: m.epoch, seq: m.seq, from: m.from, text: m.text, ts: m.ts };
  if (m.cid !== undefined) doc.cid = m.cid;
  if (m.kind !== undefined) Object.assign(doc, { kind: m.kind, target: m.target });
  if (m.emoji !== undefined) Object.assign(doc, { emoji: m.emoji, on: m.on });
  return doc;
}

const OPTIONAL = ['cid', 'kind', 'target', 'emoji', 'on', 'edited', 'deleted', 'reactions', 'rev'] as const;

function fromDoc(d: MessageDoc): Message {
  const m: Message = { room: d.room, epoch: d.epoch, seq: d.seq, from: d.from, text: d.text, ts: d.ts };
  for (const key of OPTIONAL) {
    const value = d[key];
    if (value !== undefined && value !== null) Object.assign(m, { [key]: value });
  }
  return m;
}
