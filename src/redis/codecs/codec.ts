/**
 * What the codec of a partitioned work stream exports (`presence-events.ts`, `archive-feed.ts`):
 * a module imported as a namespace (`import * as PresenceEvents from …`) is a `StreamCodec`.
 *
 * Every codec module owns one entry format: its stream keys and partition function, its field
 * names (nothing else spells them, Lua included), `encode` (the fields for XADD) and `decode` (what
 * a reader got back, validated: any other shape is `null`). Codecs import nothing that connects,
 * so that their unit tests (test/unit/stream-codecs.test.ts) run without a backend.
 */

/** Writes and reads one entry format on a fixed set of partition streams. */
export interface StreamCodec<T> {
  /** Every stream of the format, one per partition, in partition order. */
  readonly STREAMS: readonly string[];
  /** The fields of an entry for XADD: `[name, value, name, value…]`. */
  encode(value: T): string[];
  /**
   * The value of an entry's fields as Redis returns them (`[name, value…]`), or `null` when they
   * are not exactly one of this format (missing, repeated or unknown fields, invalid values, or no
   * fields at all: an entry trimmed while it was pending).
   */
  decode(fields: unknown): T | null;
}

/** A stored JSON text parsed; `undefined` for anything that is not a string of valid JSON. */
export function parseJson(raw: unknown): unknown {
  if (typeof raw !== 'string') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
