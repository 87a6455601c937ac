/**
 * The state of a room's text messages from its log entries, as a client keeps it (docs/protocol.md
 * section 15): each edit, delete or reaction applied to its target when it is newer than the state
 * the target was read with (`rev`). Shared by the end-to-end tests and the chaos checker.
 */
import type { Message } from '@parley/client/wire';

/** A log entry as the contract states it, with the state history shows of a text message. */
export type Entry = Message;

/** Folds `entries` (in seq order) into `into`: text messages by seq, with their current state. */
export function fold(entries: readonly Entry[], into = new Map<number, Entry>()): Map<number, Entry> {
  for (const e of entries) foldOne(into, e);
  return into;
}

/**
 * Folds one entry into `into`. `missing` gives a change's target that `into` lacks (a view that keeps
 * only the messages with a state), or undefined when the target is not in the view at all.
 */
export function foldOne(into: Map<number, Entry>, e: Entry, missing?: (seq: number) => Entry | undefined): void {
  if (e.kind === undefined) {
    into.set(e.seq, copy(e));
    return;
  }
  const target = e.target as number;
  let m = into.get(target);
  if (!m && missing) {
    m = missing(target);
    if (m) into.set(target, m);
  }
  if (!m || e.seq <= (m.rev ?? 0)) return;
  m.rev = e.seq;
  if (e.kind === 'edit') Object.assign(m, { text: e.text, edited: e.ts });
  else if (e.kind === 'delete') {
    Object.assign(m, { text: '', deleted: true });
    delete m.edited;
    delete m.reactions;
  } else {
    const list = m.reactions ?? [];
    let r = list.find((x) => x.emoji === e.emoji);
    if (e.on) {
      if (!r) list.push((r = { emoji: e.emoji as string, count: 0, users: [] }));
      r.count++;
      if (r.users.length < 20) r.users.push(e.from);
    } else if (r) {
      r.count--;
      r.users = r.users.filter((u) => u !== e.from);
    }
    const kept = list.filter((x) => x.count > 0);
    if (kept.length > 0) m.reactions = kept;
    else delete m.reactions;
  }
}

/** Whether a text message carries a state (a history page's copy of a changed message). */
export function hasState(m: Entry): boolean {
  return m.rev !== undefined || m.edited !== undefined || m.deleted === true || m.reactions !== undefined;
}

/**
 * A message to fold into: its reactions copied too, so that folding never changes the entries it
 * reads (a history page's message carries the reactions it had then, and a second fold of the same
 * entries must give the same answer).
 */
function copy(e: Entry): Entry {
  const m = { ...e };
  if (e.reactions) m.reactions = e.reactions.map((r) => ({ ...r, users: [...r.users] }));
  return m;
}

/** What two readers of one message must agree on: its text and folded state, as one string. */
export function stateKey(m: Pick<Entry, 'text' | 'edited' | 'deleted' | 'reactions'>): string {
  const reactions = (m.reactions ?? []).map((r) => `${r.emoji}:${r.count}:${r.users.join(',')}`).join(';');
  return JSON.stringify([m.deleted ? '' : m.text, m.edited ?? null, m.deleted === true, reactions]);
}
