/**
 * The invariants of a chaos run, each checked against the room logs (REST history, which reads the
 * Redis hot log and the archive behind it) and the archive (MongoDB `messages`). Each check returns
 * how many items it looked at and the first few violations, described for a person to follow up.
 */
import type { Message } from '@parley/client/wire';
import { type Entry, fold, stateKey } from './fold.ts';
import type { ChaosUser } from './user.ts';
import type { SharedEntries } from './view.ts';

export type Verdict = { name: string; ok: boolean; count: number; violations: number; examples: string[] };
export type RoomLog = { room: string; epoch: string; entries: Map<number, Message>; latest: number };
export type ArchiveDoc = Message & { _id: string };

class Tally {
  count = 0;
  violations = 0;
  readonly examples: string[] = [];
  constructor(readonly name: string) {}
  check(ok: boolean, why: () => string): void {
    this.count++;
    if (ok) return;
    this.violations++;
    if (this.examples.length < 8) this.examples.push(why());
  }
  verdict(): Verdict {
    return { name: this.name, ok: this.violations === 0, count: this.count, violations: this.violations, examples: this.examples };
  }
}

/**
 * `a` as received live equals `b` as the log holds it now. Text is compared only where the log still
 * shows the text as sent: a deleted target's text is erased everywhere, and history shows an edited
 * message with its latest edit's text (protocol section 15).
 */
function sameEntry(a: Message, b: Message, erased: boolean): boolean {
  return a.seq === b.seq && a.from === b.from && a.kind === b.kind && a.target === b.target && a.emoji === b.emoji &&
    a.on === b.on && a.cid === b.cid && (erased || b.edited !== undefined || a.text === b.text);
}

/** Whether the log entry's text was erased by a later delete (its own text, or an edit's of that target). */
function erasedIn(e: Message, states: Map<number, Entry>): boolean {
  const target = e.kind === undefined ? e.seq : e.target;
  return target !== undefined && states.get(target)?.deleted === true;
}

/**
 * Every view gapless, duplicate-free, in order, complete, and equal to the log from its join on. A
 * view took each entry in order and compared it with the first copy any user took of that seq
 * (view.ts); here those first copies are compared with the log.
 */
export function checkViews(users: ChaosUser[], logs: Map<string, RoomLog>, shared: SharedEntries): Verdict {
  const t = new Tally('views gapless, in order, without repeats, equal to the log');
  for (const u of users) {
    for (const v of u.views.values()) {
      const log = logs.get(v.room) as RoomLog;
      const where = `${u.name} in ${v.room}`;
      t.check(v.resets === 0 && v.epoch === log.epoch, () => `${where}: epoch changed (${v.resets} resets)`);
      t.check(v.repeats === 0, () => `${where}: ${v.repeats} frames repeated or out of order on one socket`);
      t.check(v.buffer.size === 0, () => `${where}: ${v.buffer.size} entries held behind a gap after ${v.last}`);
      const end = v.removed || u.removedAt.has(v.room) ? v.last : log.latest;
      t.check(v.last === end, () => `${where}: view ends at ${v.last}, the log at ${log.latest}`);
      t.check(v.taken === v.last - v.start, () => `${where}: took ${v.taken} entries for seqs ${v.start + 1}…${v.last}`);
      t.count += v.taken;
      t.check(v.differCount === 0, () => `${where}: ${v.differCount} entries differ from other views' (${v.differs.join('; ')})`);
    }
  }
  for (const log of logs.values()) {
    const states = fold([...log.entries.values()]);
    const first = shared.of(log.room, log.epoch);
    for (const [seq, e] of first.first) {
      const want = log.entries.get(seq);
      t.check(want !== undefined && sameEntry(e, want, erasedIn(want, states)), () => `${log.room}#${seq}: views took ${JSON.stringify(e)}, the log has ${JSON.stringify(want)}`);
    }
    for (const seq of first.textDiffers) {
      const want = log.entries.get(seq);
      t.check(want !== undefined && (want.edited !== undefined || erasedIn(want, states)), () => `${log.room}#${seq}: views took different texts of an entry the log neither edited nor erased`);
    }
  }
  return t.verdict();
}

/** Every acknowledged send and change is in the log under its cid, once; and every send was answered. */
export function checkAcks(users: ChaosUser[], logs: Map<string, RoomLog>): Verdict {
  const t = new Tally('acknowledged entries in the log exactly once');
  for (const u of users) {
    for (const a of u.acks) {
      const log = logs.get(a.room) as RoomLog;
      const e = log.entries.get(a.seq);
      if (a.kind === 'send') t.check(e?.cid === a.cid && e.from === u.name && e.kind === undefined, () => `${u.name} ${a.cid} acked at ${a.room}#${a.seq}, the log has ${JSON.stringify(e)}`);
      else t.check(a.seq === 0 || (e !== undefined && e.kind !== undefined) || (a.kind === 'delete' && e?.kind === 'delete'), () => `${u.name} ${a.kind} ${a.cid} acked at ${a.room}#${a.seq}, the log has ${JSON.stringify(e)}`);
    }
    t.check(u.pending.size === 0, () => `${u.name}: ${u.pending.size} sends never answered (${[...u.pending.keys()].slice(0, 3).join(', ')})`);
  }
  for (const log of logs.values()) {
    const seen = new Map<string, number>();
    for (const e of log.entries.values()) {
      if (e.cid === undefined) continue;
      const key = `${e.from}|${e.cid}`;
      t.check(!seen.has(key), () => `${log.room}: cid ${e.cid} of ${e.from} stored twice, at ${seen.get(key)} and ${e.seq}`);
      seen.set(key, e.seq);
    }
  }
  return t.verdict();
}

/** Every log entry in the archive once, as the log has it. */
export function checkArchive(logs: Map<string, RoomLog>, docs: Map<string, ArchiveDoc[]>): Verdict {
  const t = new Tally('every log entry archived exactly once');
  for (const log of logs.values()) {
    const bySeq = new Map<number, ArchiveDoc[]>();
    for (const d of docs.get(log.room) ?? []) if (d.epoch === log.epoch) bySeq.set(d.seq, [...(bySeq.get(d.seq) ?? []), d]);
    const states = fold([...log.entries.values()]);
    for (const e of log.entries.values()) {
      const got = bySeq.get(e.seq) ?? [];
      t.check(got.length === 1 && sameEntry(e, got[0] as ArchiveDoc, erasedIn(e, states)), () => `${log.room}#${e.seq}: ${got.length} archive documents ${JSON.stringify(got[0])}, log ${JSON.stringify(e)}`);
    }
    t.check(bySeq.size === log.entries.size, () => `${log.room}: ${bySeq.size} archived positions, ${log.entries.size} in the log`);
  }
  return t.verdict();
}

/** Every message's folded state the same in REST history, in the fold of the log, in the archive and in every client. */
export function checkStates(users: ChaosUser[], logs: Map<string, RoomLog>, docs: Map<string, ArchiveDoc[]>): Verdict {
  const t = new Tally('folded state equal in clients, history and archive');
  for (const log of logs.values()) {
    const served = [...log.entries.values()].filter((e) => e.kind === undefined);
    const folded = fold([...log.entries.values()]);
    const archived = new Map((docs.get(log.room) ?? []).filter((d) => d.epoch === log.epoch).map((d) => [d.seq, d]));
    for (const m of served) {
      const want = stateKey(m);
      t.check(stateKey(folded.get(m.seq) as Entry) === want, () => `${log.room}#${m.seq}: history shows ${want}, its entries fold to ${stateKey(folded.get(m.seq) as Entry)}`);
      const d = archived.get(m.seq);
      t.check(d !== undefined && stateKey(d) === want, () => `${log.room}#${m.seq}: history shows ${want}, the archive ${d ? stateKey(d) : 'nothing'}`);
    }
  }
  for (const u of users) {
    for (const v of u.views.values()) {
      if (v.removed || u.removedAt.has(v.room)) continue; // its view ends at the removal: later changes never reach it
      const log = logs.get(v.room) as RoomLog;
      for (let seq = v.start + 1; seq <= v.last; seq++) {
        const want = log.entries.get(seq);
        if (want?.kind !== undefined) continue;
        // A message the view holds no state of is as it was sent (its text checked by checkViews).
        const m = v.states.get(seq);
        const got = m ? stateKey({ ...m, text: m.text ?? want?.text ?? '' }) : stateKey({ text: want?.text ?? '' });
        t.check(want !== undefined && got === stateKey(want), () => `${u.name} ${v.room}#${seq}: client has ${got}, history ${want ? stateKey(want) : 'nothing'}`);
      }
    }
  }
  return t.verdict();
}

export function checkReads(users: ChaosUser[]): Verdict {
  const t = new Tally('read positions never move backwards');
  for (const u of users) {
    t.count += u.readEvents - 1;
    t.check(u.readBackwards === 0, () => `${u.name}: ${u.readBackwards} read frames went backwards`);
  }
  return t.verdict();
}

/** A removed member got nothing of the group after its `left`, and nothing stored after its removal. */
export function checkRemoved(users: ChaosUser[]): Verdict {
  const t = new Tally('removed group members get nothing after their removal');
  for (const u of users) {
    for (const [room, at] of u.removedAt) {
      const v = u.views.get(room);
      if (!v) continue;
      t.check(v.afterLeft === 0, () =>
        `${u.name} ${room}: ${v.afterLeft} frames after its removal (${v.removedHow} at ${v.leftAt}; DELETE sent at ${u.removeAskedAt.get(room)}, answered at ${at}; first after: ${v.firstAfterLeft})`);
      const late = (v.stamps ?? []).filter((e) => e.ts > at);
      t.check(late.length === 0, () =>
        `${u.name} ${room}: removed at ${at} (DELETE answered), got ${late.length} entries stored later (first #${late[0]?.seq} at ${late[0]?.ts}); ` +
        (v.leftAt ? `its left came at ${v.leftAt}` : 'no left ever came'));
    }
  }
  return t.verdict();
}

export { Tally };
