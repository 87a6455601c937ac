/**
 * v1.1 message state: what edits, deletes and reactions make of a text message. The Redis log folds
 * it in its change script (src/rooms/redis-scripts.ts); the memory log with `FoldedMessage` here.
 * Both answer the same `MessageState`, which `showState` puts on a message for history and `joined`.
 */
import { LIMITS, type Message, type Reaction } from '@parley/client/wire';
import type { Change, ChangeResult, MessageState } from './types.ts';

/** A text message as history shows it: with its state, when it has one. */
export function showState(m: Message, state: MessageState | undefined): Message {
  if (!state || m.kind !== undefined) return m;
  const out: Message = { ...m, rev: state.rev };
  if (state.deleted) {
    out.text = '';
    out.deleted = true;
    return out;
  }
  if (state.edited !== undefined) {
    out.text = state.text ?? m.text;
    out.edited = state.edited;
  }
  if (state.reactions && state.reactions.length > 0) out.reactions = state.reactions;
  return out;
}

/** The next step of a change the target's state allows; see `FoldedMessage.check`. */
export type Verdict = { ok: true } | Exclude<ChangeResult, { outcome: 'appended' | 'duplicate' | 'in_archive' }>;

/**
 * One text message's state in the memory log, with everything the rules need: every reacting user
 * per emoji (in the order they reacted: a `Map` keeps insertion order) and, for a reaction taken
 * back, the entry that took it back.
 */
export class FoldedMessage {
  rev: number;
  text: string | undefined;
  edited: number | undefined;
  deleted: { seq: number; ts: number } | undefined;
  readonly edits: number[] = [];
  /** emoji → user → seq of the entry that added it; emoji in the order first used, none empty. */
  readonly #on = new Map<string, Map<string, number>>();
  /** emoji → user → seq of the entry that took it back. */
  readonly #off = new Map<string, Map<string, number>>();

  constructor(
    readonly from: string,
    rev: number,
  ) {
    this.rev = rev;
  }

  /**
   * Whether `from` may make `change` (`mayModerate`: a group's owner or admin), and whether it
   * changes anything. `ts` is the time an `unchanged` answer carries.
   */
  check(epoch: string, from: string, change: Change, mayModerate: boolean, ts: number): Verdict {
    if (this.deleted) {
      return change.kind === 'delete' ? { outcome: 'unchanged', epoch, seq: this.deleted.seq, ts } : { outcome: 'not_found' };
    }
    switch (change.kind) {
      case 'edit':
        return from === this.from ? { ok: true } : { outcome: 'forbidden' };
      case 'delete':
        return from === this.from || mayModerate ? { ok: true } : { outcome: 'forbidden' };
      case 'reaction': {
        const users = this.#on.get(change.emoji);
        const added = users?.get(from);
        if (change.on && added !== undefined) return { outcome: 'unchanged', epoch, seq: added, ts };
        if (!change.on && added === undefined) return { outcome: 'unchanged', epoch, seq: this.#off.get(change.emoji)?.get(from) ?? 0, ts };
        if (change.on && !users && this.#on.size >= LIMITS.reactionsPerMessage) return { outcome: 'too_many_reactions' };
        return { ok: true };
      }
    }
  }

  /** Folds in the entry `entry` (checked with `check` first). */
  apply(entry: Message, from: string, change: Change): void {
    this.rev = entry.seq;
    switch (change.kind) {
      case 'edit':
        this.text = change.text;
        this.edited = entry.ts;
        this.edits.push(entry.seq);
        return;
      case 'delete':
        this.deleted = { seq: entry.seq, ts: entry.ts };
        this.text = undefined;
        this.#on.clear();
        this.#off.clear();
        return;
      case 'reaction': {
        const { emoji, on } = change;
        const [to, away] = on ? [this.#on, this.#off] : [this.#off, this.#on];
        const was = away.get(emoji);
        was?.delete(from);
        if (was?.size === 0) away.delete(emoji);
        let users = to.get(emoji);
        if (!users) to.set(emoji, (users = new Map()));
        users.set(from, entry.seq);
      }
    }
  }

  /** What history shows of it. */
  view(): MessageState {
    const state: MessageState = { from: this.from, rev: this.rev };
    if (this.edits.length > 0) state.edits = [...this.edits];
    if (this.deleted) {
      state.deleted = true;
      return state;
    }
    if (this.edited !== undefined) {
      state.edited = this.edited;
      if (this.text !== undefined) state.text = this.text;
    }
    if (this.#on.size > 0) state.reactions = [...this.#on].map(([emoji, users]) => reaction(emoji, users));
    return state;
  }
}

function reaction(emoji: string, users: Map<string, number>): Reaction {
  const shown: string[] = [];
  for (const user of users.keys()) {
    if (shown.length === LIMITS.reactionUsersShown) break;
    shown.push(user);
  }
  return { emoji, count: users.size, users: shown };
}

/** The log entry of a change: `text` is the edit's, "" otherwise. */
export function changeEntry(base: Omit<Message, 'text' | 'cid'>, change: Change, cid: string | undefined): Message {
  const m: Message = { ...base, text: change.kind === 'edit' ? change.text : '' };
  if (cid !== undefined) m.cid = cid;
  m.kind = change.kind;
  m.target = change.target;
  if (change.kind === 'reaction') {
    m.emoji = change.emoji;
    m.on = change.on;
  }
  return m;
}
