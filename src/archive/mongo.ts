/**
 * The message archive in MongoDB, collection `messages`: one document per log entry,
 * `{_id: '["<room>","<epoch>",<seq>]', room, epoch, seq, from, text, ts, cid?}`, unique on
 * `(room, epoch, seq)`, with `kind, target[, emoji, on]` for an edit, delete or reaction, and for a
 * text message its state `rev[, edited][, deleted][, reactions]` once it has one. The `_id` is
 * derived from the position (as JSON, so that no two positions share one), so storing an entry
 * again is a duplicate key, ignored: the first copy stays; states move only forward by `rev`.
 */
import type { Collection, UpdateFilter } from 'mongodb';
import { type DbSource, isDuplicateKey, mongoUnavailable, resolveDb } from '../mongo/connection.ts';
import { guardedUpdates } from '../mongo/guarded.ts';
import type { Message } from '@parley/client/wire';
import type { MessageState } from '../rooms/types.ts';
import type { Archive, ArchiveQuery } from './types.ts';

type MessageDoc = Message & { _id: string };

/** Documents per insert command. */
const CHUNK = 1000;
/** State updates per command: FerretDB v1 hangs on update batches of 100 or more statements. */
const UPDATE_CHUNK = 50;
/** Windows of `limit` seqs a FerretDB page read looks through at most (see `read`). */
const WINDOWS = 4;

export class MongoArchive implements Archive {
  readonly #db: DbSource;
  /** True: guarded updates (MongoDB); false: read, compare, write by `_id` (FerretDB). */
  readonly #guarded: () => Promise<boolean>;

  constructor(db: DbSource, opts: { guarded?: boolean } = {}) {
    this.#db = db;
    this.#guarded = guardedUpdates(db, opts.guarded);
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

  /**
   * Each state where it is newer than the stored one (`rev`): a guarded update on MongoDB; on
   * FerretDB v1 (src/mongo/guarded.ts) the stored `rev`s are read by `_id` and the newer states
   * written by `_id`. A delete also blanks the text of the message's edit entries, each by `_id`.
   */
  async applyStates(room: string, epoch: string, states: ReadonlyMap<number, MessageState>): Promise<void> {
    const collection = await this.#messages();
    const guarded = await this.#guarded();
    const entries = [...states].map(([seq, state]) => ({ _id: docId(room, epoch, seq), state }));
    for (let i = 0; i < entries.length; i += UPDATE_CHUNK) {
      const chunk = entries.slice(i, i + UPDATE_CHUNK);
      const newer = guarded ? chunk : await this.#newerThanStored(collection, chunk);
      const ops = newer.map(({ _id, state }) => ({
        updateOne: {
          filter: guarded ? { _id, kind: { $exists: false }, $or: [{ rev: { $exists: false } }, { rev: { $lt: state.rev } }] } : { _id },
          update: stateUpdate(state),
        },
      }));
      const erased = newer.flatMap(({ state }) => (state.deleted ? (state.edits ?? []) : []));
      for (const seq of erased) ops.push({ updateOne: { filter: { _id: docId(room, epoch, seq) }, update: { $set: { text: '' } } } });
      for (let k = 0; k < ops.length; k += UPDATE_CHUNK) {
        await collection.bulkWrite(ops.slice(k, k + UPDATE_CHUNK), { ordered: false }).catch(mongoUnavailable);
      }
    }
  }

  /** The states newer than the stored text messages' (stored ones only), reading each by `_id`. */
  async #newerThanStored(collection: Collection<MessageDoc>, chunk: readonly { _id: string; state: MessageState }[]) {
    const stored = await Promise.all(chunk.map(({ _id }) => collection.findOne({ _id }, { projection: { rev: 1, kind: 1 } }))).catch(mongoUnavailable);
    return chunk.filter((e, i) => {
      const doc = stored[i];
      return doc !== null && doc !== undefined && doc.kind === undefined && (doc.rev ?? 0) < e.state.rev;
    });
  }

  /** By `_id`: the one look-up FerretDB v1 answers from an index. */
  async at(room: string, epoch: string, seq: number): Promise<Message | null> {
    const doc = await (await this.#messages()).findOne({ _id: docId(room, epoch, seq) }).catch(mongoUnavailable);
    return doc ? fromDoc(doc) : null;
  }

  /**
   * On MongoDB one range query on the `(room, epoch, seq)` index. FerretDB v1 would read the whole
   * collection for it, so there a bounded range is read by `_id`, a window of `limit` seqs at a time
   * from the asked end, until the page is full (an unbounded range falls back to the query).
   */
  async read(room: string, epoch: string, q: ArchiveQuery): Promise<Message[]> {
    const messages = await this.#messages();
    if (q.before === undefined || (await this.#guarded())) return this.#readRange(messages, room, epoch, q);
    const lo = (q.after ?? 0) + 1;
    const hi = q.before - 1;
    const found: MessageDoc[] = [];
    let next = q.from === 'oldest' ? lo : hi;
    // A window past a stretch the archive lacks (trimmed before it was copied) is read next, a few
    // at most: a range that stays sparse beyond them is read by the query after all.
    for (let window = 0; window < WINDOWS && found.length < q.limit; window++) {
      const want = q.limit - found.length;
      const from = q.from === 'oldest' ? next : Math.max(lo, next - want + 1);
      const to = q.from === 'oldest' ? Math.min(hi, next + want - 1) : next;
      if (from > to) return found.map(fromDoc);
      const ids = Array.from({ length: to - from + 1 }, (_, i) => docId(room, epoch, from + i));
      const docs = await Promise.all(ids.map((_id) => messages.findOne({ _id }))).catch(mongoUnavailable);
      const got = docs.filter((d): d is NonNullable<typeof d> => d !== null);
      if (q.from === 'oldest') found.push(...got);
      else found.unshift(...got);
      next = q.from === 'oldest' ? to + 1 : from - 1;
    }
    const exhausted = q.from === 'oldest' ? next > hi : next < lo;
    return found.length === q.limit || exhausted ? found.map(fromDoc) : this.#readRange(messages, room, epoch, q);
  }

  async #readRange(messages: Collection<MessageDoc>, room: string, epoch: string, q: ArchiveQuery): Promise<Message[]> {
    const seq: { $gt?: number; $lt?: number } = {};
    if (q.after !== undefined) seq.$gt = q.after;
    if (q.before !== undefined) seq.$lt = q.before;
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

/** The update that puts `state` on a stored text message (see the file's head). */
function stateUpdate(state: MessageState): UpdateFilter<MessageDoc> {
  if (state.deleted) return { $set: { rev: state.rev, text: '', deleted: true }, $unset: { edited: '', reactions: '' } };
  const set: Partial<MessageDoc> = { rev: state.rev };
  if (state.edited !== undefined) Object.assign(set, { text: state.text ?? '', edited: state.edited });
  if (state.reactions) return { $set: { ...set, reactions: state.reactions } };
  return { $set: set, $unset: { reactions: '' } };
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
