/**
 * The client's message state (protocol v1.1), pure: what it makes of text messages, edits, deletes
 * and reactions arriving from live frames, `joined` replies and history pages, in any order and
 * overlapping, compared with a fresh read of the same range from a model of the server's log.
 */
import { describe, expect, it } from 'vitest';
import { RoomState, RoomStates } from '../src/room-state.ts';
import type { Message } from '../src/wire.ts';
import { LogModel } from './log-model.ts';

function feed(state: RoomState, messages: readonly Message[]): Message[] {
  return messages.flatMap((m) => state.take(m) ?? []);
}

describe('message state', () => {
  it('shows a live edit, reactions and a delete on the message they target', () => {
    const log = new LogModel();
    const hi = log.text('alice', 'helo');
    log.text('bob', 'hi alice');
    log.edit('alice', hi, 'hello');
    log.react('bob', hi, '👍', true);
    log.react('carol', hi, '👍', true);
    log.react('carol', hi, '🎉', true);
    const state = new RoomState('e1');
    feed(state, log.entries);
    expect(state.get(hi)).toMatchObject({
      text: 'hello',
      edited: log.entries[2]?.ts,
      rev: 6,
      reactions: [
        { emoji: '👍', count: 2, users: ['bob', 'carol'] },
        { emoji: '🎉', count: 1, users: ['carol'] },
      ],
    });
    log.delete('alice', hi);
    feed(state, log.entries.slice(-1));
    expect(state.get(hi)).toEqual({ ...log.entries[0], text: '', deleted: true, rev: 7 });
    expect(state.messages()).toEqual(log.textState());
  });

  it('takes a reaction back: the user leaves the list, the count drops, an emoji nobody uses is gone', () => {
    const log = new LogModel();
    const m = log.text('alice', 'lunch?');
    for (const [user, emoji] of [['bob', '👍'], ['carol', '😂'], ['dave', '👍'], ['erin', '👍']] as const) log.react(user, m, emoji, true);
    log.react('dave', m, '👍', false);
    log.react('carol', m, '😂', false);
    log.react('dave', m, '👍', true); // back, and now last
    log.react('carol', m, '😂', true); // a new emoji again: after 👍
    const state = new RoomState('e1');
    feed(state, log.entries);
    expect(state.get(m)?.reactions).toEqual([
      { emoji: '👍', count: 3, users: ['bob', 'erin', 'dave'] },
      { emoji: '😂', count: 1, users: ['carol'] },
    ]);
    expect(state.messages()).toEqual(log.textState());
  });

  it('a history page then live entries: what the page already shows is not applied twice', () => {
    const log = new LogModel();
    const m = log.text('alice', 'one');
    log.react('bob', m, '❤️', true);
    log.edit('alice', m, 'one!');
    const page = log.read(); // rev 3: the reaction and the edit are in it
    log.react('carol', m, '❤️', true);
    const state = new RoomState('e1');
    feed(state, page);
    // The page's own entries come again (a recovery overlapping it), then the live one.
    const changed = feed(state, log.entries);
    expect(changed).toEqual([expect.objectContaining({ seq: m, rev: 4 })]);
    expect(state.get(m)?.reactions).toEqual([{ emoji: '❤️', count: 2, users: ['bob', 'carol'] }]);
    expect(state.messages()).toEqual(log.textState());
  });

  it('skips entries at or below a message\'s rev, whatever order they come in', () => {
    const log = new LogModel();
    const m = log.text('alice', 'a');
    log.react('bob', m, '👍', true);
    log.react('bob', m, '👍', false);
    log.react('bob', m, '👍', true);
    const state = new RoomState('e1');
    feed(state, log.read()); // rev 4: 👍 by bob
    feed(state, [...log.entries].reverse()); // every entry again, backwards: each at or below rev 4
    expect(state.get(m)).toMatchObject({ rev: 4, reactions: [{ emoji: '👍', count: 1, users: ['bob'] }] });
  });

  it('an older read arriving after a fresher one changes nothing; a fresher one replaces what was folded', () => {
    const log = new LogModel();
    const m = log.text('alice', 'v1');
    const early = log.read();
    log.edit('alice', m, 'v2');
    const later = log.read();
    const state = new RoomState('e1');
    expect(feed(state, later)).toEqual([]);
    expect(feed(state, early)).toEqual([]);
    expect(state.get(m)).toMatchObject({ text: 'v2', rev: 2 });
    const other = new RoomState('e1');
    feed(other, early);
    expect(feed(other, later.slice(0, 1))).toEqual([expect.objectContaining({ text: 'v2', rev: 2 })]);
  });

  it('applies entries that came before their message, once an older page brings it', () => {
    const log = new LogModel();
    const old = log.text('alice', 'old news');
    const before = log.read(1, 1); // read now, before the changes: no rev
    log.text('bob', 'filler');
    log.edit('alice', old, 'old news, corrected');
    log.react('bob', old, '😮', true);
    const state = new RoomState('e1');
    feed(state, log.read(2)); // the latest page: the changes, not their message
    expect(state.get(old)).toBeUndefined();
    feed(state, before); // scrolled back, from a read older than the changes
    expect(state.messages()).toEqual(log.textState());
  });

  it('blanks the edits of a deleted message: its text is gone', () => {
    const log = new LogModel();
    const m = log.text('alice', 'oops');
    log.edit('alice', m, 'secret');
    log.delete('alice', m);
    expect(log.read().map((e) => e.text)).toEqual(['', '', '']);
    const state = new RoomState('e1');
    feed(state, log.read(1, 1, 1)); // the message, read before its edit
    feed(state, log.entries);
    expect(state.get(m)).toEqual(log.textState()[0]);
  });

  it('ignores entries of another epoch and kinds it does not know', () => {
    const state = new RoomState('e1');
    const base = { room: 'lobby', from: 'bob', ts: 1 };
    feed(state, [{ ...base, epoch: 'e1', seq: 1, text: 'hi' }]);
    feed(state, [
      { ...base, epoch: 'e0', seq: 2, text: 'x', kind: 'edit', target: 1 },
      { ...base, epoch: 'e1', seq: 3, text: '', kind: 'pin' as never, target: 1 },
    ]);
    expect(state.messages()).toEqual([{ ...base, epoch: 'e1', seq: 1, text: 'hi' }]);
  });

  it('folds a history page of a held room only in the same epoch, and reports what changed', () => {
    const log = new LogModel();
    const m = log.text('alice', 'x');
    const states = new RoomStates();
    states.start('lobby', 'e1', log.read());
    log.edit('alice', m, 'y');
    expect(states.page('lobby', 'e2', log.read())).toEqual([]);
    expect(states.page('lobby', 'e1', log.read())).toEqual([expect.objectContaining({ seq: m, text: 'y' })]);
    expect(states.messages('lobby')).toEqual(log.textState());
    expect(states.page('elsewhere', 'e1', log.read())).toEqual([]);
  });
});

/** A small deterministic PRNG, so that a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random log of messages, edits, deletes and reactions by a few users, with the reads taken along the way. */
function randomLog(rand: () => number, length: number): { log: LogModel; reads: { asOf: number; entries: Message[] }[] } {
  const log = new LogModel();
  const users = ['alice', 'bob', 'carol'];
  const emoji = ['👍', '❤️', '😂', '🎉', '😮'];
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const reads: { asOf: number; entries: Message[] }[] = [];
  while (log.head < length) {
    const texts = log.entries.filter((e) => e.kind === undefined).map((e) => e.seq);
    const r = rand();
    const target = texts.length > 0 ? pick(texts) : 0;
    const author = log.entries[target - 1]?.from ?? 'alice';
    if (texts.length === 0 || r < 0.3) log.text(pick(users), `t${log.head + 1}`);
    else if (r < 0.45) log.edit(author, target, `edit ${log.head + 1}`);
    else if (r < 0.52) log.delete(author, target);
    else log.react(pick(users), target, pick(emoji), rand() < 0.7);
    if (rand() < 0.15) reads.push({ asOf: log.head, entries: log.read() });
  }
  return { log, reads };
}

describe('message state from any mix of sources', () => {
  it('equals a fresh read of the log, whatever order pages, recoveries and live entries arrive in', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const { log, reads } = randomLog(rand, 20 + Math.floor(rand() * 60));
      // Pieces that cover every entry at least once: live runs, and pages read at various times.
      const pieces: Message[][] = [];
      for (let first = 1; first <= log.head; ) {
        const last = Math.min(log.head, first + Math.floor(rand() * 12));
        const read = reads.find((r) => r.asOf >= last && rand() < 0.5);
        pieces.push(read ? read.entries.slice(first - 1, last) : log.entries.slice(first - 1, last));
        first = Math.max(first + 1, last + 1 - Math.floor(rand() * 3)); // overlaps, as recovery and pages overlap
      }
      for (const r of reads) if (rand() < 0.3) pieces.push(r.entries.slice(Math.floor(rand() * r.entries.length)));
      for (let i = pieces.length - 1; i > 0; i--) {
        if (rand() < 0.5) continue; // some stay in order, some are swapped
        const j = Math.floor(rand() * (i + 1));
        [pieces[i], pieces[j]] = [pieces[j] as Message[], pieces[i] as Message[]];
      }
      const state = new RoomState('e1');
      for (const p of pieces) feed(state, p);
      expect({ seed, messages: state.messages() }).toEqual({ seed, messages: log.textState() });
    }
  });

  it('a client that kept up live and one that joins late and pages back hold the same state', () => {
    for (let seed = 1000; seed < 1100; seed++) {
      const rand = prng(seed);
      const { log } = randomLog(rand, 80);
      const live = new RoomState('e1');
      feed(live, log.entries);
      const late = new RoomState('e1');
      const split = 1 + Math.floor(rand() * log.head);
      feed(late, log.read(split)); // `joined`: the latest entries, with their state
      feed(late, log.read(1, split - 1)); // then scrolled back
      expect({ seed, messages: late.messages() }).toEqual({ seed, messages: live.messages() });
      expect(live.messages()).toEqual(log.textState());
    }
  });
});
