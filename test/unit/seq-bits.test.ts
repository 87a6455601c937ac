/** `SeqBits` (src/reads/seq-bits.ts) against a plain set of seqs. */
import { describe, expect, it } from 'vitest';
import { SeqBits } from '../../src/reads/seq-bits.ts';

describe('SeqBits', () => {
  it('counts the seqs above any point as a set does, through adds, removes and drops', () => {
    let seed = 3;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (const base of [undefined, 0]) {
      const bits = new SeqBits(base);
      const set = new Set<number>();
      let floor = 0;
      let next = 5 + rand(20);
      for (let step = 0; step < 2000; step++) {
        const roll = rand(10);
        if (roll < 6) {
          next += 1 + rand(5);
          bits.add(next);
          set.add(next);
        } else if (roll < 8) {
          const seq = [...set][rand(Math.max(1, set.size))];
          if (seq !== undefined) {
            bits.remove(seq);
            set.delete(seq);
          }
        } else if (base === undefined) {
          // Seqs at or below the floor are never asked about again (as a position never moves back).
          floor = Math.min(next, floor + rand(40));
          bits.dropUpTo(floor);
        }
        const at = Math.max(floor, rand(next + 10));
        expect(bits.countAbove(at), `step ${step} above ${at}`).toBe([...set].filter((s) => s > at).length);
      }
      expect(bits.size).toBeLessThanOrEqual(Math.ceil((next - floor) / 8) + 2);
    }
  });
});
