/**
 * A model of a room's log as the server keeps it (protocol v1.1), written independently of the
 * client's folding: text messages, edits, deletes and reactions appended at their own seq with the
 * server's rules, and reads of any range as of any point, each text message with its state then.
 * The tests compare what the client makes of entries against such reads.
 */
import type { Message, Reaction } from '../src/wire.ts';

type Full = { from: string; text: string; edited?: number; deleted: boolean; reactions: Map<string, string[]>; rev?: number };

export class LogModel {
  readonly entries: Message[] = [];

  constructor(
    readonly room = 'lobby',
    readonly epoch = 'e1',
  ) {}

  get head(): number {
    return this.entries.length;
  }

  text(from: string, text: string): number {
    return this.#append({ from, text });
  }

  /** Appends an edit; undefined (nothing appended) when the server would refuse it. */
  edit(from: string, target: number, text: string): number | undefined {
    const s = this.#state(target, this.head);
    if (!s || s.deleted || s.from !== from) return undefined;
    return this.#append({ from, text, kind: 'edit', target });
  }

  delete(from: string, target: number): number | undefined {
    const s = this.#state(target, this.head);
    if (!s || s.deleted || s.from !== from) return undefined;
    return this.#append({ from, text: '', kind: 'delete', target });
  }

  /** Appends a reaction when it changes something (the server appends nothing otherwise). */
  react(from: string, target: number, emoji: string, on: boolean): number | undefined {
    const s = this.#state(target, this.head);
    if (!s || s.deleted) return undefined;
    const has = s.reactions.get(emoji)?.includes(from) ?? false;
    if (has === on || (on && !s.reactions.has(emoji) && s.reactions.size >= 20)) return undefined;
    return this.#append({ from, text: '', kind: 'reaction', target, emoji, on });
  }

  /**
   * The entries `first..last` as a read at `asOf` (≥ last) shows them: text messages with their
   * state then, edits of messages deleted by then with their text blanked.
   */
  read(first = 1, last = this.head, asOf = this.head): Message[] {
    return this.entries.slice(first - 1, last).map((e) => {
      if (e.kind !== undefined) return e.kind === 'edit' && this.#state(e.target as number, asOf)?.deleted ? { ...e, text: '' } : { ...e };
      return show(e, this.#state(e.seq, asOf) as Full);
    });
  }

  /** The text messages `first..last` as a read at the head shows them: what the client should hold. */
  textState(first = 1, last = this.head): Message[] {
    return this.read(first, last).filter((m) => m.kind === undefined);
  }

  #append(fields: Partial<Message> & { from: string; text: string }): number {
    const seq = this.head + 1;
    this.entries.push({ room: this.room, epoch: this.epoch, seq, ts: 1_700_000_000_000 + seq * 1000, ...fields });
    return seq;
  }

  /** A text message's full state after the entries up to `asOf`. */
  #state(target: number, asOf: number): Full | undefined {
    const m = this.entries[target - 1];
    if (!m || m.kind !== undefined || target > asOf) return undefined;
    const s: Full = { from: m.from, text: m.text, deleted: false, reactions: new Map() };
    for (const e of this.entries.slice(target, asOf)) {
      if (e.target !== target) continue;
      s.rev = e.seq;
      if (e.kind === 'edit') [s.text, s.edited] = [e.text, e.ts];
      else if (e.kind === 'delete') [s.deleted, s.text, s.edited, s.reactions] = [true, '', undefined, new Map()];
      else if (e.kind === 'reaction') {
        const users = (s.reactions.get(e.emoji as string) ?? []).filter((u) => u !== e.from);
        if (e.on) users.push(e.from);
        if (users.length > 0) s.reactions.set(e.emoji as string, users);
        else s.reactions.delete(e.emoji as string);
      }
    }
    return s;
  }
}

function show(m: Message, s: Full): Message {
  const out: Message = { ...m, text: s.text };
  if (s.rev !== undefined) out.rev = s.rev;
  if (s.deleted) out.deleted = true;
  if (s.edited !== undefined) out.edited = s.edited;
  const reactions: Reaction[] = [...s.reactions].map(([emoji, users]) => ({ emoji, count: users.length, users: users.slice(0, 20) }));
  if (reactions.length > 0) out.reactions = reactions;
  return out;
}
