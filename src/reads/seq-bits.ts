/**
 * A set of seqs as a bitmap from a base (a multiple of 8): the part of an unread index past its window
 * in memory (`memory.ts`), as the Redis strings of `redis-index.ts` hold it. One bit per seq of the
 * span it covers; seq `base + 8j + i` is bit `i` of byte `j`.
 */

/** Set bits of each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, v) => {
  let n = 0;
  for (let b = v; b > 0; b >>= 1) n += b & 1;
  return n;
});

export class SeqBits {
  #base: number;
  #bytes = new Uint8Array(0);
  /** Bytes in use (the array grows by doubling). */
  #length = 0;

  /** `base`: the lowest seq it may hold; without it, the first seq added sets it. */
  constructor(base?: number) {
    this.#base = base === undefined ? -1 : base - (base % 8);
  }

  add(seq: number): void {
    if (this.#base < 0) this.#base = seq - (seq % 8);
    const off = seq - this.#base;
    if (off < 0) throw new RangeError(`seq ${seq} is below the bitmap's base ${this.#base}`);
    const at = off >> 3;
    if (at >= this.#bytes.length) {
      const grown = new Uint8Array(Math.max(at + 1, this.#bytes.length * 2, 16));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
    }
    this.#length = Math.max(this.#length, at + 1);
    this.#bytes[at] = (this.#bytes[at] as number) | (1 << (off & 7));
  }

  remove(seq: number): void {
    const off = seq - this.#base;
    if (this.#base < 0 || off < 0 || off >> 3 >= this.#length) return;
    this.#bytes[off >> 3] = (this.#bytes[off >> 3] as number) & ~(1 << (off & 7));
  }

  /** How many of its seqs are greater than `after`: O(bytes after it). */
  countAbove(after: number): number {
    if (this.#base < 0) return 0;
    const start = Math.max(0, after + 1 - this.#base);
    let at = start >> 3;
    if (at >= this.#length) return 0;
    let n = POPCOUNT[(this.#bytes[at] as number) & (0xff << (start & 7)) & 0xff] as number;
    for (at++; at < this.#length; at++) n += POPCOUNT[this.#bytes[at] as number] as number;
    return n;
  }

  /** Forgets the whole bytes of seqs at or below `seq` (they can no longer count), moving the base up. */
  dropUpTo(seq: number): void {
    if (this.#base < 0) return;
    const drop = Math.min(this.#length, Math.floor((seq + 1 - this.#base) / 8));
    if (drop <= 0) return;
    this.#bytes = this.#bytes.slice(drop, this.#length);
    this.#length -= drop;
    this.#base += drop * 8;
  }

  /** Bytes held (for tests). */
  get size(): number {
    return this.#length;
  }
}
