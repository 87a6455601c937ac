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
  for (const e of entries) {
    if (e.kind === undefined) {
      into.set(e.seq, { ...e });
      continue;
    }
    const m = into.get(e.target as number);
    if (!m || e.seq <= (m.rev ?? 0)) continue;
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
  return into;
}

/** What two readers of one message must agree on: its text and folded state, as one string. */
export function stateKey(m: Pick<Entry, 'text' | 'edited' | 'deleted' | 'reactions'>): string {
  const reactions = (m.reactions ?? []).map((r) => `${r.emoji}:${r.count}:${r.users.join(',')}`).join(';');
  return JSON.stringify([m.deleted ? '' : m.text, m.edited ?? null, m.deleted === true, reactions]);
}
