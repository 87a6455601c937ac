/**
 * The chaos checker folds each client's view twice (at the end of the storm and after the quiet
 * period). Folding must not change the view: otherwise the second check sees reactions counted twice.
 */
import { describe, expect, it } from 'vitest';
import { type Entry, fold, stateKey } from '../../bench/chaos/fold.ts';

const base = { room: 'r', epoch: 'e', ts: 1 };
const message = (seq: number, extra: Partial<Entry> = {}): Entry => ({ ...base, seq, from: 'alice', text: `m${seq}`, ...extra });
const reaction = (seq: number, from: string, emoji: string, on = true): Entry =>
  ({ ...base, seq, from, text: '', kind: 'reaction', target: 1, emoji, on });

describe('folding a view', () => {
  // The message as a history page gave it: with the reactions it had then (up to rev 2).
  const view = (): Entry[] => [
    message(1, { reactions: [{ emoji: '👍', count: 1, users: ['bob'] }], rev: 2 }),
    reaction(2, 'bob', '👍'),
    reaction(3, 'carol', '👍'),
    reaction(4, 'dave', '👀'),
    reaction(5, 'bob', '👍', false),
  ];

  it('gives the same state every time it folds the same entries', () => {
    const entries = view();
    const first = stateKey(fold(entries).get(1) as Entry);
    const second = stateKey(fold(entries).get(1) as Entry);
    expect(first).toBe(stateKey({ text: 'm1', reactions: [{ emoji: '👍', count: 1, users: ['carol'] }, { emoji: '👀', count: 1, users: ['dave'] }] }));
    expect(second).toBe(first);
  });

  it('leaves the entries it read as they were', () => {
    const entries = view();
    fold(entries);
    expect(entries).toEqual(view());
  });
});
