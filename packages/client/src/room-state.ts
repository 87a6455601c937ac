/**
 * Message state per room (protocol v1.1): each text message with its current text, `edited`,
 * `deleted` and `reactions`, folded from the log's edit, delete and reaction entries.
 *
 * Text messages and entries reach the client from live frames, `joined` replies and history pages,
 * in any order and some more than once. A text message read from `joined` or history carries its
 * state as of that read, and `rev`: the seq of the latest entry that state includes. An entry
 * changes a message only when its seq is beyond the message's `rev` (the folding rule).
 *
 * Each message is held as the freshest state read of it (the highest `rev`) plus the entries known
 * after that, and shown as that state with those entries applied in seq order. So what the client
 * shows does not depend on the order things arrived in, and equals a fresh read of the same range.
 */
import { LIMITS, type Message, type Reaction } from './wire.ts';

/** Text messages a room holds at most: beyond it the oldest are dropped from the state (not from history). */
export const KEEP_MESSAGES = 5000;
/** Entries held per room whose message is not held: an older history page may still bring it. */
const KEEP_ORPHANS = 1000;

/** The seq of the latest entry `m`'s state includes; its own seq when it has had no change. */
export const revOf = (m: Message): number => m.rev ?? m.seq;

/** Whether `m` is an edit, delete or reaction entry this client understands (unknown kinds are ignored). */
function isChange(m: Message): boolean {
  if (!Number.isInteger(m.target)) return false;
  if (m.kind === 'edit' || m.kind === 'delete') return true;
  return m.kind === 'reaction' && typeof m.emoji === 'string' && typeof m.on === 'boolean';
}

/**
 * Applies one entry to a text message's state by the folding rule: nothing unless the entry targets
 * it and its seq is beyond the state's `rev`. Returns a new object; `m` is not changed.
 */
export function applyEntry(m: Message, entry: Message): Message {
  if (entry.target !== m.seq || entry.seq <= revOf(m) || !isChange(entry)) return m;
  const rev = entry.seq;
  // The server refuses edits and reactions of a deleted message: deleted is final.
  if (m.deleted) return { ...m, rev };
  const { edited, reactions, ...plain } = m;
  switch (entry.kind) {
    case 'edit':
      return withReactions({ ...plain, text: entry.text, edited: entry.ts, rev }, reactions);
    case 'delete':
      // Deleted text is gone: no text, no edit time, no reactions.
      return { ...plain, text: '', deleted: true, rev };
    case 'reaction': {
      const next = react(reactions ?? [], entry.emoji as string, entry.from, entry.on as boolean);
      return withReactions(edited === undefined ? { ...plain, rev } : { ...plain, edited, rev }, next);
    }
    default:
      return m;
  }
}

/** `m`'s state after `entries` (ascending seq). */
export function fold(m: Message, entries: readonly Message[]): Message {
  return entries.reduce(applyEntry, m);
}

const withReactions = (m: Message, reactions: Reaction[] | undefined): Message =>
  reactions && reactions.length > 0 ? { ...m, reactions } : m;

/**
 * A reaction entry on a message's reactions. The server appends an entry only when it changes
 * something: `on` counts the user and lists it last (while fewer than 20 are listed); `off` takes it
 * back, and an emoji nobody reacts with any more is gone. New emoji go last.
 */
function react(reactions: readonly Reaction[], emoji: string, user: string, on: boolean): Reaction[] {
  const i = reactions.findIndex((r) => r.emoji === emoji);
  const r = reactions[i];
  if (!r) return on ? [...reactions, { emoji, count: 1, users: [user] }] : [...reactions];
  const users = on
    ? r.users.includes(user) || r.users.length >= LIMITS.reactionUsersShown
      ? r.users
      : [...r.users, user]
    : r.users.filter((u) => u !== user);
  const count = r.count + (on ? 1 : -1);
  const out = [...reactions];
  if (count <= 0) out.splice(i, 1);
  else out[i] = { emoji, count, users };
  return out;
}

const sameState = (a: Message, b: Message): boolean =>
  a.text === b.text &&
  a.edited === b.edited &&
  a.deleted === b.deleted &&
  a.rev === b.rev &&
  JSON.stringify(a.reactions ?? []) === JSON.stringify(b.reactions ?? []);

/** Inserts `e` into `list` (ascending seq) unless an entry of its seq is there; false then. */
function insertBySeq(list: Message[], e: Message): boolean {
  let i = list.length;
  while (i > 0 && (list[i - 1] as Message).seq > e.seq) i--;
  if (i > 0 && (list[i - 1] as Message).seq === e.seq) return false;
  list.splice(i, 0, e);
  return true;
}

type Held = { base: Message; after: Message[]; view: Message };

/** The message state of one room in one epoch. */
export class RoomState {
  readonly #held = new Map<number, Held>();
  /** Entries whose message is not held, by target seq. */
  readonly #orphans = new Map<number, Message[]>();
  #orphanCount = 0;
  #sorted: Message[] | null = null;

  constructor(readonly epoch: string) {}

  /**
   * Takes one entry of the log from any source: a text message (with or without its state) or an
   * edit, delete or reaction. Returns the new state of a message the room already held when that
   * changed; undefined otherwise (a message seen for the first time included).
   */
  take(m: Message): Message | undefined {
    if (m.epoch !== this.epoch) return undefined;
    if (m.kind === undefined) return this.#text(m);
    return isChange(m) ? this.#change(m) : undefined;
  }

  /** The text messages held, ascending seq, each with its current state. */
  messages(): Message[] {
    if (!this.#sorted) this.#sorted = [...this.#held.values()].map((h) => h.view).sort((a, b) => a.seq - b.seq);
    return [...this.#sorted];
  }

  /** The current state of the text message `seq`, when held. */
  get(seq: number): Message | undefined {
    return this.#held.get(seq)?.view;
  }

  #text(m: Message): Message | undefined {
    const held = this.#held.get(m.seq);
    const waiting = this.#orphans.get(m.seq) ?? [];
    if (waiting.length > 0) {
      this.#orphans.delete(m.seq);
      this.#orphanCount -= waiting.length;
    }
    if (!held) {
      const after = waiting.filter((e) => e.seq > revOf(m));
      this.#held.set(m.seq, { base: m, after, view: fold(m, after) });
      this.#sorted = null;
      this.#trim();
      return undefined;
    }
    if (revOf(m) <= revOf(held.base)) return undefined;
    // A fresher read: it includes every entry up to its rev.
    held.base = m;
    held.after = held.after.filter((e) => e.seq > revOf(m));
    return this.#refold(held);
  }

  #change(e: Message): Message | undefined {
    const target = e.target as number;
    const held = this.#held.get(target);
    if (!held) {
      let list = this.#orphans.get(target);
      if (!list) this.#orphans.set(target, (list = []));
      if (insertBySeq(list, e)) this.#orphanCount++;
      if (this.#orphanCount > KEEP_ORPHANS) this.#dropOldestOrphans();
      return undefined;
    }
    if (e.seq <= revOf(held.base) || !insertBySeq(held.after, e)) return undefined;
    // A delete also blanks the text of the message's edits: deleted text is gone, not hidden.
    if (e.kind === 'delete') held.after = held.after.map((x) => (x.kind === 'edit' ? { ...x, text: '' } : x));
    return this.#refold(held);
  }

  #refold(held: Held): Message | undefined {
    const view = fold(held.base, held.after);
    if (sameState(view, held.view)) return undefined;
    held.view = view;
    this.#sorted = null;
    return view;
  }

  #trim(): void {
    if (this.#held.size <= KEEP_MESSAGES) return;
    const seqs = [...this.#held.keys()].sort((a, b) => a - b);
    for (const seq of seqs.slice(0, seqs.length - KEEP_MESSAGES)) this.#held.delete(seq);
  }

  #dropOldestOrphans(): void {
    const targets = [...this.#orphans.keys()].sort((a, b) => a - b);
    for (const t of targets) {
      if (this.#orphanCount <= KEEP_ORPHANS) return;
      this.#orphanCount -= this.#orphans.get(t)?.length ?? 0;
      this.#orphans.delete(t);
    }
  }
}

/** The message state of every room the client has joined. */
export class RoomStates {
  readonly #rooms = new Map<string, RoomState>();

  /**
   * The room's state starts over from `messages` (a first `joined`, or a new epoch): returns the
   * state.
   */
  start(room: string, epoch: string, messages: readonly Message[]): RoomState {
    const state = new RoomState(epoch);
    this.#rooms.set(room, state);
    for (const m of messages) state.take(m);
    return state;
  }

  /** One delivered entry of `room`; returns the changed message state, if any (see `RoomState.take`). */
  take(m: Message): Message | undefined {
    return this.#rooms.get(m.room)?.take(m);
  }

  /**
   * A history page of `room`: folded in when the room is held in that epoch (else nothing: the
   * room's stream notices a new epoch by itself). Returns the held messages it changed.
   */
  page(room: string, epoch: string, messages: readonly Message[]): Message[] {
    const state = this.#rooms.get(room);
    if (!state || state.epoch !== epoch) return [];
    const changed = new Map<number, Message>();
    for (const m of messages) {
      const c = state.take(m);
      if (c) changed.set(c.seq, c);
    }
    return [...changed.values()];
  }

  messages(room: string): Message[] {
    return this.#rooms.get(room)?.messages() ?? [];
  }

  get(room: string, seq: number): Message | undefined {
    return this.#rooms.get(room)?.get(seq);
  }

  forget(room: string): void {
    this.#rooms.delete(room);
  }
}
